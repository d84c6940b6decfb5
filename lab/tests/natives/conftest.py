"""A small Windows machine for the native programs' tests, built from MACHINE's model directly
(no interpreter): a program is found as powershell.exe would find it (Session.find_program) and
run with the argv CommandLineToArgvW would give it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from provision_lab.powershell.api import NativeResult
from provision_lab.windows.machine import Hardware, Machine, OsInfo
from provision_lab.windows.natives import MachineView, engine_archive
from provision_lab.windows.session import Session

SERVER_2022 = OsInfo("Microsoft Windows Server 2022 Datacenter", 20348, 2762, "21H2", "ServerDatacenter", 3, "Server")
SERVER_2016 = OsInfo("Microsoft Windows Server 2016 Datacenter", 14393, 7515, "1607", "ServerDatacenter", 3, "Server")
WIN11_PRO = OsInfo("Microsoft Windows 11 Pro", 22631, 4460, "23H2", "Professional", 1, "Client")
ENGINE_DIR = r"C:\Program Files\docker"


@dataclass
class Box:
    """One machine and an elevated session of its administrator ``provision``."""

    machine: Machine
    session: Session

    @property
    def view(self) -> MachineView:
        return MachineView(self.machine)

    def run(self, command: str, *args: str, session: Session | None = None, stdin: str | None = None) -> NativeResult:
        """Run ``command`` (a path or a bare name on PATH) with ``args``, as PowerShell would start it."""
        host = session or self.session
        program = host.find_program(command)
        assert program is not None, f"{command} is not on this machine"
        return program.run([command, *args], stdin, host)

    def install_engine(self, version: str = "27.3.1", folder: str = ENGINE_DIR) -> None:
        """What container_engine.ps1.j2's Expand-Archive and Move-Item leave: the zip's docker\\ folder."""
        with zipfile.ZipFile(io.BytesIO(engine_archive(version))) as archive:
            for name in archive.namelist():
                self.view.write_file(folder + "\\" + name.removeprefix("docker/"), archive.read(name))

    def session_for(self, user: str, *, elevated: bool | None = None) -> Session:
        account = self.machine.account(user)
        assert account is not None
        return Session(self.machine, account, elevated=elevated)


@pytest.fixture
def make_box() -> Callable[..., Box]:
    def make(
        os: OsInfo = SERVER_2022,
        *,
        features: tuple[str, ...] = ("Containers", "Microsoft-Hyper-V"),
        enabled: tuple[str, ...] = ("Containers",),
        hypervisor: bool = False,
        name: str = "HOST1",
    ) -> Box:
        hardware = Hardware(
            memory_gb=16, logical_processors=4, vt_firmware_enabled=True, vm_monitor_mode_extensions=True, slat=True
        )
        machine = Machine(name, os, hardware, features, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
        for feature in enabled:
            machine.features[feature] = "Enabled"
        machine.hypervisor_running = hypervisor
        account = machine.add_account("provision", admin=True, profile=True)
        return Box(machine, Session(machine, account))

    return make
