"""What the native programs need from the Windows machine they run on (MACHINE implements it).

The programs (dockerd.exe, docker.exe, the installers, ...) are plain objects built over one
machine (:func:`provision_lab.windows.natives.program_for`); they change Windows only through
this protocol, so the machine keeps all Windows state (files, services, processes, registry,
accounts) and the programs keep only what the programs themselves keep on a real host (pulled
images, which engine answers on which pipe), in :attr:`NativeMachine.native_state`.

Processes are the link between the two: an engine answers on its named pipe only while the
process that opened it runs, so a service stopped, a logoff or a reboot (the machine ends the
processes) takes the pipe down without the programs being told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["NativeMachine", "ServiceProgram"]


class NativeMachine(Protocol):
    """The machine as the native programs see it. Paths are Windows paths (any case, ``\\`` or
    ``/``); account names are ``COMPUTER\\user`` or ``user``."""

    @property
    def native_state(self) -> dict[str, Any]:
        """The programs' own state on this machine (JSON-ready: str keys, lists, dicts, str, int,
        bool, None), kept across scripts and reboots and saved with the machine's state."""
        ...

    @property
    def computer_name(self) -> str:
        """NetBIOS name, upper case (``$env:COMPUTERNAME``)."""
        ...

    @property
    def os_build(self) -> int:
        """Win32_OperatingSystem.BuildNumber."""
        ...

    @property
    def product_type(self) -> int:
        """1 workstation, 2 domain controller, 3 server (Win32_OperatingSystem.ProductType)."""
        ...

    @property
    def hypervisor_running(self) -> bool:
        """True when a hypervisor started at boot (Hyper-V or the Virtual Machine Platform on
        hardware that can run one): Hyper-V isolation and Desktop's VMs need it."""
        ...

    @property
    def install_time_factor(self) -> float:
        """Factor on the modelled time of installs and pulls (1.0; more under a slow-installs fault)."""
        ...

    @property
    def can_run_hypervisor(self) -> bool:
        """The hardware can run a hypervisor (VT-x/AMD-V on and SLAT, or a VM exposing them): with
        the Virtual Machine Platform enabled, Windows starts one at boot and WSL 2 runs on it."""
        ...

    def feature_state(self, name: str) -> str | None:
        """The DISM optional feature's state (``Enabled``, ``Disabled``, ``EnablePending``...), or
        None when this SKU does not offer it."""
        ...

    # -- files --------------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or None when there is no such file."""
        ...

    def list_files(self, folder: str) -> list[str]:
        """Names of the files (not folders) directly in ``folder``; empty when there is no such folder."""
        ...

    def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a file, creating its folders (as an installer does). Raises
        :class:`provision_lab.powershell.api.NetException` with Windows' text when the file is
        held open by a running process."""
        ...

    # -- processes ----------------------------------------------------------------------------

    def start_process(self, path: str, command_line: str, user: str) -> int:
        """Start a long-running process of the executable ``path`` for account ``user`` (its
        owner, as Win32_Process.GetOwner reads it); the executable is held open while it runs.
        Returns the process id."""
        ...

    def stop_process(self, pid: int) -> None:
        """End the process (no error when it has already gone)."""
        ...

    def process_running(self, pid: int) -> bool:
        """True while the process runs (False after it exits, is stopped, or the machine rebooted)."""
        ...

    # -- services -----------------------------------------------------------------------------

    def service_exists(self, name: str) -> bool: ...

    def create_service(self, name: str, display_name: str, binary_path: str, start_type: str) -> None:
        """CreateService: ``binary_path`` is the ImagePath command line (quoted exe and its
        arguments); ``start_type`` is ``Automatic``, ``Manual`` or ``Disabled``. The service is
        Stopped. When the SCM starts it, the machine starts the ImagePath's executable and, if
        that program is a :class:`ServiceProgram`, asks it whether it keeps running."""
        ...

    def delete_service(self, name: str) -> None:
        """DeleteService (the service must exist)."""
        ...

    def set_service_start_type(self, name: str, start_type: str) -> None: ...

    def service_state(self, name: str) -> tuple[str, str] | None:
        """(Status, StartType) as Get-Service shows them (``Running``, ``Automatic``), or None."""
        ...

    def start_service(self, name: str) -> bool:
        """StartService as an installer calls it: True when the service runs afterwards."""
        ...

    # -- registry -----------------------------------------------------------------------------

    def set_registry_value(self, key: str, name: str, value: str | int, kind: str = "String") -> None:
        """Create the key (``HKLM:\\...`` form) if needed and set a value; ``kind`` is a
        RegistryValueKind name (``String``, ``ExpandString``, ``DWord``)."""
        ...

    # -- accounts -----------------------------------------------------------------------------

    def account_exists(self, user: str) -> bool:
        """A local account of this machine by ``user`` or ``COMPUTER\\user``."""
        ...

    def is_administrator(self, user: str) -> bool:
        """Member of the local Administrators group (an elevated token when it logs on)."""
        ...

    def create_group(self, name: str, description: str) -> None:
        """Create a local group; no error when it exists."""
        ...

    def add_group_member(self, group: str, user: str) -> None:
        """Add a local account to a local group; no error when it is already a member."""
        ...

    def group_members(self, group: str) -> list[str] | None:
        """Members of a local group as ``COMPUTER\\user``, or None when there is no such group."""
        ...

    def groups_of(self, user: str) -> list[str]:
        """Names of the local groups ``user`` belongs to now (a logon token holds these)."""
        ...

    def ensure_profile(self, user: str) -> str:
        """The account's profile folder, created with its ProfileList entry at its first logon."""
        ...

    def interactive_users(self) -> list[str]:
        """``COMPUTER\\user`` of every interactive session (the owners of explorer.exe)."""
        ...

    def restart(self) -> None:
        """Restart the machine (as Restart-Computer does); it goes down a moment later."""
        ...


class ServiceProgram(Protocol):
    """A program that can run as a service's process (dockerd.exe, com.docker.service)."""

    def start_service(self, argv: Sequence[str], service: str) -> str | None:
        """The SCM starts service ``service`` from ``argv`` (the ImagePath split by
        CommandLineToArgvW's rules, argv[0] the executable): None when it reaches Running (its
        process then runs until the service stops), else why the process exited (the machine then
        fails the start with the SCM's text and writes the reason to the event log)."""
        ...
