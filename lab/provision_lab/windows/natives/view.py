"""The lab's :class:`~provision_lab.windows.machine.Machine` as the native programs see it
(:class:`~provision_lab.windows.natives.machine.NativeMachine`): a thin view, no state of its own."""

from __future__ import annotations

from typing import Any

from provision_lab.windows import paths
from provision_lab.windows.machine import Machine, ServiceStartError

__all__ = ["MachineView"]


def _registry_path(key: str) -> str:
    """``HKLM:\\X`` (PowerShell's drive form) -> ``HKEY_LOCAL_MACHINE\\X`` (the machine's form)."""
    for drive, hive in (("HKLM:", "HKEY_LOCAL_MACHINE"), ("HKCU:", "HKEY_CURRENT_USER")):
        if key.upper().startswith(drive):
            return hive + key[len(drive) :]
    return key


class MachineView:
    """NativeMachine over one Machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    @property
    def native_state(self) -> dict[str, Any]:
        return self.machine.extensions

    @property
    def computer_name(self) -> str:
        return self.machine.computer_name

    @property
    def os_build(self) -> int:
        return self.machine.os.build

    @property
    def product_type(self) -> int:
        return self.machine.os.product_type

    @property
    def hypervisor_running(self) -> bool:
        return self.machine.hypervisor_running

    @property
    def install_time_factor(self) -> float:
        return self.machine.faults.slow_installs

    @property
    def can_run_hypervisor(self) -> bool:
        return self.machine.hardware.can_run_hypervisor

    def feature_state(self, name: str) -> str | None:
        return self.machine.features.get(name)

    def read_file(self, path: str) -> bytes | None:
        node = self.machine.fs.node(path)
        return None if node is None or node.is_dir else node.data

    def list_files(self, folder: str) -> list[str]:
        folder = folder.replace("/", "\\")
        if not self.machine.fs.is_dir(folder):
            return []
        return [paths.leaf(node.path) for node in self.machine.fs.children(folder) if not node.is_dir]

    def write_file(self, path: str, data: bytes) -> None:
        folder = paths.parent(path)
        if folder is not None:
            self.machine.fs.make_dirs(folder)
        self.machine.fs.write(path, data)

    def start_process(self, path: str, command_line: str, user: str) -> int:
        return self.machine.spawn(paths.leaf(path), path, command_line, self._qualified(user)).pid

    def stop_process(self, pid: int) -> None:
        self.machine.end(pid)

    def process_running(self, pid: int) -> bool:
        self.machine.reap()
        return pid in self.machine.processes

    def service_exists(self, name: str) -> bool:
        return self.machine.service(name) is not None

    def create_service(self, name: str, display_name: str, binary_path: str, start_type: str) -> None:
        self.machine.create_service(name, display_name, binary_path, start_type)

    def delete_service(self, name: str) -> None:
        service = self.machine.service(name)
        if service is not None:
            self.machine.delete_service(service)

    def set_service_start_type(self, name: str, start_type: str) -> None:
        service = self.machine.service(name)
        if service is not None:
            self.machine.set_start_type(service, start_type)

    def service_state(self, name: str) -> tuple[str, str] | None:
        service = self.machine.service(name)
        return None if service is None else (service.status, service.start_type)

    def start_service(self, name: str) -> bool:
        service = self.machine.service(name)
        if service is None:
            return False
        try:
            self.machine.start_service(service)
        except ServiceStartError:
            return False
        return True

    def set_registry_value(self, key: str, name: str, value: str | int, kind: str = "String") -> None:
        self.machine.registry.set_value(_registry_path(key), name, kind, value)

    def account_exists(self, user: str) -> bool:
        return self.machine.account(user) is not None

    def is_administrator(self, user: str) -> bool:
        account = self.machine.account(user)
        return account is not None and self.machine.is_admin(account)

    def create_group(self, name: str, description: str) -> None:
        if self.machine.group(name) is None:
            self.machine.add_group(name, description)

    def add_group_member(self, group: str, user: str) -> None:
        found, account = self.machine.group(group), self.machine.account(user)
        if found is not None and account is not None and account.sid not in found.members:
            found.members.append(account.sid)

    def group_members(self, group: str) -> list[str] | None:
        found = self.machine.group(group)
        if found is None:
            return None
        names = []
        for sid in found.members:
            account = self.machine.account_by_sid(sid)
            if account is not None:
                names.append(f"{self.machine.computer_name}\\{account.name}")
        return names

    def groups_of(self, user: str) -> list[str]:
        account = self.machine.account(user)
        if account is None:
            return []
        return [group.name for group in self.machine.groups.values() if account.sid in group.members]

    def ensure_profile(self, user: str) -> str:
        account = self.machine.account(user)
        if account is None:
            raise KeyError(user)
        if account.profile is None:
            self.machine.create_profile(account)
        return str(account.profile)

    def interactive_users(self) -> list[str]:
        self.machine.reap()
        found = {p.owner for p in self.machine.processes.values() if p.name.lower() == "explorer.exe"}
        return sorted(found)

    def restart(self) -> None:
        self.machine.request_restart()

    def _qualified(self, user: str) -> str:
        account = self.machine.account(user)
        return user if account is None else f"{self.machine.computer_name}\\{account.name}"
