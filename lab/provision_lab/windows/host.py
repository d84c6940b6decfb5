"""A lab host: one Windows machine behind the lab's endpoints (the LabHost of provision_lab.api).

Every script the endpoints receive runs through powershell.exe (LANGUAGE's
``run_powershell_exe``) in a new Session of the lab's account on the machine. The host also
owns what happens around the machine: restarts take it down and bring it back after the
modelled downtime (the endpoints refuse while it is down), drift is injected in Windows terms,
and the state is exported and restored.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from provision_lab.api import ExecResult, Faults
from provision_lab.windows import natives, paths, programs
from provision_lab.windows.machine import (
    CBS_REBOOT_PENDING,
    ENVIRONMENT_KEY,
    SESSION_MANAGER,
    WU_REBOOT_REQUIRED,
    Machine,
)
from provision_lab.windows.session import Session

__all__ = [
    "DAEMON_JSON",
    "FEATURE_STATES",
    "WINRM_DEFAULTS",
    "LAB_ACCOUNT",
    "POWERSHELL",
    "HostDownError",
    "WindowsHost",
    "boot_id",
]

LAB_ACCOUNT = "provision"
"""The account the lab's endpoints log on (runtime.LAB_USER): a local administrator."""
POWERSHELL = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -"
"""What ``run_script`` starts when it is handed only a script (stdin)."""
DAEMON_JSON = r"C:\ProgramData\docker\config\daemon.json"
"""dockerd reads ``<data-root>\\config\\daemon.json``, data-root ``%ProgramData%\\docker`` (wf §5)."""
_STATE_VERSION = 2
WINRM_DEFAULTS: Mapping[str, int] = {
    # MaxEnvelopeSizekb: "SHOULD be 500 but MAY be 150" (MS-WSMV 2.2.4.10 ConfigType); MaxMemoryPerShellMB
    # 1024 and MaxShellsPerUser 30 (learn.microsoft.com/windows/win32/winrm/quotas; MS-WSMV 2.2.4.42).
    # The same values as wsman.WinRSLimits' defaults, which the endpoint enforces.
    "max_envelope_size_kb": 500,
    "max_memory_per_shell_mb": 1024,
    "max_shells_per_user": 30,
}
"""What a host's WSMan: drive reads unless its faults say otherwise (``Faults.max_*``)."""
_WSMAN_SETTINGS = {
    "max_envelope_size_kb": "MaxEnvelopeSizekb",
    "max_memory_per_shell_mb": "Shell\\MaxMemoryPerShellMB",
    "max_shells_per_user": "Shell\\MaxShellsPerUser",
}
_BLOCK_TYPE = re.compile(r'^#@provision-begin \{.*?"type":"([A-Za-z_]+)"', re.MULTILINE)
_RECORD_OK = re.compile(r'^@@provision \{.*?"ok":(true|false)', re.MULTILINE)
FEATURE_STATES = ("Enabled", "Disabled", "EnablePending", "DisablePending", "Absent")


class HostDownError(RuntimeError):
    """A script reached a host that is restarting; endpoints check ``is_up()`` first."""


def boot_id(moment: datetime) -> str:
    """``LastBootUpTime.ToUniversalTime().ToString('o')``: seven fraction digits and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class WindowsHost:
    """One lab host: a Machine, its faults and counters, restarts, drift and saved state.

    Args:
        name: host name (the endpoints' and the inventory's).
        address: its loopback address (127.77.x.y).
        machine: the Windows machine.
        reboot_seconds: downtime of a restart unless ``faults.reboot_seconds`` says otherwise.
        shutdown_delay: how long after a restart script returns the host stops answering, so its
            record gets out (Restart-Computer returns before the shutdown takes the session down);
            ``faults.latency_ms`` is added, so a slow answer still outruns the shutdown.
        clock: monotonic seconds, for the downtime.

    Thread-safe: one lock per host serialises scripts, restarts and drift.
    """

    def __init__(
        self,
        name: str,
        address: str,
        machine: Machine,
        *,
        reboot_seconds: float = 5.0,
        shutdown_delay: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.address = address
        self.machine = machine
        self.counters: Counter[str] = Counter()
        self.reboot_seconds = reboot_seconds
        self.shutdown_delay = shutdown_delay
        self._clock = clock
        self._lock = threading.RLock()
        self._down_at: float | None = None
        self._up_at: float | None = None
        machine.on_restart = self._schedule_restart

    @property
    def faults(self) -> Faults:
        return self.machine.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self.machine.faults = value

    # -- LabHost ------------------------------------------------------------------------------

    def is_up(self) -> bool:
        """False from shortly after a restart until its downtime has passed (forever if it never returns)."""
        with self._lock:
            return self._settle()

    def run_script(self, script: str) -> ExecResult:
        """``powershell.exe ... -Command -`` with ``script`` on stdin."""
        return self.run_command(POWERSHELL, script)

    def run_command(self, command_line: str, stdin: str | None) -> ExecResult:
        """Start ``command_line`` (powershell.exe and its arguments, as WinRS or sshd hands it to
        the machine) in a new session of the lab's account, with ``stdin``."""
        # LANGUAGE's entry point, imported when first needed (the machine's tests run without it).
        run_powershell_exe = importlib.import_module("provision_lab.powershell").run_powershell_exe
        with self._lock:
            if not self._settle():
                raise HostDownError(f"{self.name} is restarting")
            self.counters["scripts"] += 1
            self._sync_winrm()
            session = self.session()
            result = run_powershell_exe(command_line, stdin, session)
            self._count(stdin or "", result.stdout)
            return ExecResult(result.stdout, result.stderr, result.exit_code)

    def _count(self, script: str, stdout: str) -> None:
        """Statistics for ``provision-lab stats`` and the tests, never behaviour: the blocks a script
        announces in its comments and the records it wrote (``@@provision`` lines with ``"ok":``)."""
        for block_type in _BLOCK_TYPE.findall(script):
            self.counters["blocks"] += 1
            self.counters[f"block.{block_type}"] += 1
        for ok in _RECORD_OK.findall(stdout):
            self.counters["records.ok" if ok == "true" else "records.failed"] += 1

    def session(self, user: str = LAB_ACCOUNT) -> Session:
        """A new powershell.exe process of ``user`` on the machine."""
        account = self.machine.account(user)
        if account is None:
            raise KeyError(f"{self.name} has no account {user!r}")
        return Session(self.machine, account)

    def _sync_winrm(self) -> None:
        """The WSMan: drive shows what the endpoints enforce (faults override the defaults)."""
        for key, default in WINRM_DEFAULTS.items():
            value = getattr(self.machine.faults, key)
            self.machine.winrm[_WSMAN_SETTINGS[key]] = str(int(value) if value is not None else default)

    # -- restarts -------------------------------------------------------------------------------

    def _settle(self) -> bool:
        """Finish a restart whose downtime has passed; True when the host answers."""
        if self._down_at is None:
            return True
        now = self._clock()
        if now < self._down_at:
            return True
        if self.faults.reboot_never_returns or self._up_at is None or now < self._up_at:
            return False
        elapsed = timedelta(seconds=self._up_at - self._down_at)
        self._down_at = self._up_at = None
        moment = max(datetime.now(UTC) + self.machine.offset, self.machine.boot_time + elapsed + timedelta(seconds=1))
        self.machine.boot(moment)
        self.counters["boots"] += 1
        return True

    def _schedule_restart(self) -> None:
        seconds = self.faults.reboot_seconds if self.faults.reboot_seconds is not None else self.reboot_seconds
        delay = self.faults.shutdown_seconds if self.faults.shutdown_seconds is not None else self.shutdown_delay
        self._down_at = self._clock() + delay + self.faults.latency_ms / 1000
        self._up_at = self._down_at + seconds
        self.counters["reboots"] += 1

    # -- drift, in Windows terms ------------------------------------------------------------------

    def set_feature(self, name: str, state: str) -> None:
        """What DISM would leave: the feature in ``state`` (a pending state also sets CBS
        RebootPending; ``Absent`` removes it, as on a SKU without it)."""
        if state not in FEATURE_STATES:
            raise ValueError(f"feature state must be one of {', '.join(FEATURE_STATES)}, not {state!r}")
        with self._lock:
            machine = self.machine
            canonical = next((f for f in machine.features if f.lower() == name.lower()), name)
            if state == "Absent":
                machine.features.pop(canonical, None)
                return
            machine.features[canonical] = state
            if state.endswith("Pending"):
                machine.registry.create(CBS_REBOOT_PENDING)

    def set_daemon_key(self, key: str, value_json_text: str, path: str = DAEMON_JSON) -> None:
        """Edit daemon.json as an administrator would: read it, set one key to a JSON value, write
        it back (the running daemon does not notice until it restarts)."""
        value = json.loads(value_json_text)
        with self._lock:
            fs = self.machine.fs
            node = fs.node(path)
            settings = json.loads(node.data.decode("utf-8-sig")) if node is not None and node.data.strip() else {}
            if not isinstance(settings, dict):
                raise ValueError(f"{path} does not hold a JSON object")
            settings[key] = value
            fs.make_dirs(paths.parent(path) or "C:\\")
            text = json.dumps(settings, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            fs.write(path, text.encode("utf-8"))

    def stop_service(self, name: str) -> None:
        """``Stop-Service`` by an administrator; its start type stays."""
        with self._lock:
            service = self.machine.service(name)
            if service is None:
                raise KeyError(f"{self.name} has no service {name!r}")
            self.machine.stop_service(service)

    # -- inspection ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state as plain data, for "changes nothing" assertions (the previous lab's shape)."""
        with self._lock:
            up = self._settle()
            m = self.machine
            m.reap()
            data: dict[str, Any] = {
                "up": up,
                "os": dict(vars(m.os)),
                "hardware": {**vars(m.hardware), "is_vm": m.hardware.guest},
                "features": dict(m.features),
                "boot_id": boot_id(m.boot_time),
                "pending_reasons": pending_reasons(m),
                "hypervisor_running": m.hypervisor_running,
                "engines": engines(m),
                "services": {
                    s.name: {"name": s.name, "status": s.status, "start_type": s.start_type, "image_path": s.image_path}
                    for s in m.services.values()
                },
                "files": {
                    path: {"sha256": hashlib.sha256(raw).hexdigest(), "content": raw.decode("utf-8", errors="replace")}
                    for path, raw in m.user_files().items()
                },
                "machine_path": machine_path(m),
                "images": {
                    ref: build
                    for store, found in m.extensions.get("images", {}).items()
                    if paths.is_absolute(store)
                    for ref, build in found.items()
                },
                "service_log": list(m.event_log),
                "processes": sorted(p.name for p in m.processes.values()),
            }
            workstation = natives.desktop.snapshot(natives.MachineView(m))
            if workstation is not None:
                data["workstation"] = workstation
            copied: dict[str, Any] = json.loads(json.dumps(data, default=str))  # a deep copy of plain data
            return copied

    def export_state(self) -> dict[str, Any]:
        """The state as JSON-ready data, so a lab keeps its hosts between runs (restore_state)."""
        with self._lock:
            return {"version": _STATE_VERSION, **self.machine.export(), "rebooting": self._down_at is not None}

    def restore_state(self, data: Mapping[str, Any]) -> None:
        """Take over a state from export_state. A host saved mid-restart comes back booted, as it
        would have while the lab was stopped (unless its restart never returns)."""
        if data.get("version") != _STATE_VERSION:
            raise ValueError(f"saved lab host state has version {data.get('version')!r}, expected {_STATE_VERSION}")
        with self._lock:
            machine = Machine.restore(data, faults=self.machine.faults, catalog=self.machine.catalog)
            machine.boot_hooks = self.machine.boot_hooks
            machine.on_restart = self._schedule_restart
            self.machine = machine
            if data.get("rebooting") and not self.faults.reboot_never_returns:
                machine.boot(max(datetime.now(UTC), machine.boot_time + timedelta(seconds=1)))


def pending_reasons(machine: Machine) -> list[str]:
    """The pending-reboot reasons the facts script derives, read from the same registry keys."""
    reg = machine.registry
    reasons = []
    if reg.key(CBS_REBOOT_PENDING) is not None:
        reasons.append("ComponentBasedServicing")
    if reg.key(WU_REBOOT_REQUIRED) is not None:
        reasons.append("WindowsUpdate")
    value = reg.value(SESSION_MANAGER, "PendingFileRenameOperations")
    if value is not None and value.data:
        reasons.append("PendingFileRename")
    return reasons


def machine_path(machine: Machine) -> list[str]:
    """The machine Path's entries, expanded."""
    value = machine.registry.value(ENVIRONMENT_KEY, "Path")
    text = "" if value is None else machine.expand(str(value.data))
    return [entry for entry in text.split(";") if entry]


def engines(machine: Machine) -> dict[str, str]:
    """Folder -> version of every dockerd.exe on the disk (where an engine zip was extracted)."""
    found = {}
    for node in machine.fs.nodes.values():
        if node.is_dir or paths.leaf(node.path).lower() != "dockerd.exe":
            continue
        identity = programs.identify(node.data)
        if identity is not None and identity[0] == "dockerd":
            found[paths.parent(node.path) or node.path] = identity[1]
    return found
