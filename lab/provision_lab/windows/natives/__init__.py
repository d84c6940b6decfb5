"""Native programs of the lab's Windows machines: ``dockerd.exe``, ``docker.exe``, ``containerd.exe``,
``ctr.exe``, ``crictl.exe``, ``kubelet.exe`` (as a service), the Docker Desktop
installer, ``Docker Desktop.exe`` and com.docker.service, ``msiexec.exe``, ``wsl.exe``,
``hostname.exe``, ``cmd.exe``, ``tar.exe``, ``shutdown.exe`` and ``whoami.exe``.

The machine finds an executable file on its disk (PATH, PATHEXT) and builds the program the file's
bytes declare (:mod:`provision_lab.windows.programs`): importing this package registers a factory
for each program here, so a renamed ``dockerd.exe`` is still dockerd, and a text file named
``docker.exe`` does not start. Every program is an :class:`provision_lab.powershell.api.NativeProgram`;
dockerd.exe and com.docker.service can also be a service's process (``service_start``, which the
machine's SCM calls). What the programs need from the machine is :class:`NativeMachine`
(machine.py); :class:`MachineView` gives it over the lab's Machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from provision_lab.powershell.api import Host, NativeProgram, NativeResult
from provision_lab.windows import programs
from provision_lab.windows.machine import DEFAULT_CATALOG, Machine, Service
from provision_lab.windows.natives import desktop
from provision_lab.windows.natives.containerd import Containerd, Crictl, Ctr, Nerdctl
from provision_lab.windows.natives.desktop import DesktopApp, DesktopInstaller, DesktopPlugin, DesktopService
from provision_lab.windows.natives.docker import Docker
from provision_lab.windows.natives.dockerd import Dockerd
from provision_lab.windows.natives.files import (
    CONTAINERD_VERSIONS,
    CRICTL_VERSIONS,
    DESKTOP_RELEASES,
    ENGINE_VERSIONS,
    PROGRAMS,
    WSL_RELEASES,
    containerd_archive,
    containerd_sha256,
    containerd_url,
    crictl_archive,
    crictl_sha256,
    crictl_url,
    desktop_installer,
    desktop_sha256,
    desktop_url,
    download_catalog,
    engine_archive,
    engine_sha256,
    engine_url,
    nerdctl_sha256,
    wsl_msi,
    wsl_sha256,
    wsl_url,
)
from provision_lab.windows.natives.kubelet import Kubelet
from provision_lab.windows.natives.machine import NativeMachine, ServiceProgram
from provision_lab.windows.natives.system import Cmd, Hostname, Msiexec, Shutdown, Tar, Whoami, Wsl
from provision_lab.windows.natives.view import MachineView

__all__ = [
    "CONTAINERD_VERSIONS",
    "CRICTL_VERSIONS",
    "DESKTOP_RELEASES",
    "ENGINE_VERSIONS",
    "PROGRAMS",
    "WSL_RELEASES",
    "MachineView",
    "NativeMachine",
    "ServiceProgram",
    "build",
    "containerd_archive",
    "containerd_sha256",
    "containerd_url",
    "crictl_archive",
    "crictl_sha256",
    "crictl_url",
    "nerdctl_sha256",
    "desktop",
    "desktop_installer",
    "desktop_sha256",
    "desktop_url",
    "download_catalog",
    "engine_archive",
    "engine_sha256",
    "engine_url",
    "wsl_msi",
    "wsl_sha256",
    "wsl_url",
]


class _AsService:
    """A program that can be a service's process, in the shape the machine's SCM calls:
    ``service_start(arguments after the executable, machine, service) -> reason or None``."""

    def __init__(self, program: Dockerd | DesktopService | Containerd | Kubelet) -> None:
        self.program: ServiceProgram = program
        self.command: NativeProgram = program
        self.path = program.path

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        return self.command.run(argv, stdin, host)

    def service_start(self, argv: Sequence[str], machine: Machine, service: Service) -> str | None:
        return self.program.start_service([self.path, *argv], service.name)


def build(name: str, version: str, path: str, machine: NativeMachine) -> NativeProgram:
    """The program ``name`` (one of :data:`PROGRAMS`) at ``version``, for the file at ``path``."""
    cli_version = DESKTOP_RELEASES[version][1] if version in DESKTOP_RELEASES else version
    makers: dict[str, Callable[[], Any]] = {
        "dockerd": lambda: Dockerd(path, version, machine),
        "docker": lambda: Docker(path, version, machine),
        # Desktop's CLI is the Docker CLI of the engine it bundles, with the desktop plugin [DD-CLI].
        "docker-desktop-cli": lambda: Docker(path, cli_version, machine, desktop=DesktopPlugin(machine)),
        "docker-desktop-installer": lambda: DesktopInstaller(path, version, machine),
        "docker-desktop": lambda: DesktopApp(path, machine),
        "com.docker.service": lambda: DesktopService(path, machine),
        "msiexec": lambda: Msiexec(path, machine),
        "wsl": lambda: Wsl(path, None, machine),
        "wsl-package": lambda: Wsl(path, version, machine),
        "hostname": lambda: Hostname(path, machine),
        "cmd": lambda: Cmd(path, machine),
        "whoami": lambda: Whoami(path),
        "containerd": lambda: Containerd(path, version, machine),
        "ctr": lambda: Ctr(path, version, machine),
        "crictl": lambda: Crictl(path, version, machine),
        "nerdctl": lambda: Nerdctl(path, version),
        "kubelet": lambda: Kubelet(path, version, machine),
        "shutdown": lambda: Shutdown(path, machine),
        # bsdtar 3.3.2 shipped with 1803 and Server 2019; Windows 11 has 3.5.2 (bsdtar --version there).
        "tar": lambda: Tar(path, "3.5.2" if machine.os_build >= 22000 else "3.3.2", machine),
    }
    program = makers[name]()
    return _AsService(program) if isinstance(program, Dockerd | DesktopService | Containerd | Kubelet) else program


def _factory(name: str) -> programs.ProgramFactory:
    def make(machine: Machine, path: str, version: str) -> NativeProgram:
        return build(name, version, path, MachineView(machine))

    return make


def _register() -> None:
    for name in PROGRAMS:
        programs.register(name, _factory(name))
    for url, data in download_catalog().items():
        DEFAULT_CATALOG.add(url, data)


_register()
