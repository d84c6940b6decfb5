"""A host for the engine tests that answers scripts by their blocks' begin markers.

It knows no resource type and no PowerShell: it reads which blocks a script carries (DESIGN
4.1's begin markers), answers the ``facts`` block with the facts it is given, every other block
with the record a test chose, and takes a ``reboot`` block as a reboot (a new boot id). Behind
``MemoryConnection`` it gives the engine what a host's stdout would, with no socket or thread.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.data import facts_path

from provisioner.protocol.markers import BEGIN
from provisioner.protocol.records import RECORD_PREFIX
from provisioner.transport import ScriptResult, TransportError
from provisioner.transport.memory import MemoryConnection
from provisioner.transport.settings import ConnectionSettings


def fixture_facts(name: str) -> dict[str, Any]:
    """The facts a fixture host reports (tests/fixtures/facts), as the FACTS record's data."""
    data: dict[str, Any] = json.loads(facts_path(name).read_text(encoding="utf-8"))
    return data


def blocks(script: str) -> list[dict[str, Any]]:
    """The begin markers of a script, in order."""
    found: list[dict[str, Any]] = []
    for line in script.splitlines():
        if line.startswith(BEGIN):
            found.append(json.loads(line[len(BEGIN) :]))
    return found


APPLY_DATA: dict[str, dict[str, Any]] = {
    "windows_feature": {"before": "Disabled", "after": "Enabled"},
    "container_engine": {"before": None, "after": "27.3.1", "service": "Running"},
    "daemon_config": {"before_sha256": None, "after_sha256": "0" * 64},
    "docker_desktop": {"before": None, "after": "4.37.1"},
    "desktop_config": {"before_sha256": None, "after_sha256": "0" * 64},
    "docker_users": {"added": []},
    "wsl_package": {"before": None, "after": "2.3.26"},
}
"""What a changed block of each type writes into ``$Data`` (the shapes its template writes, which
tests/resources/test_base.py holds to each resource's record model): the engine reads an apply
record's data by its resource's model and fails a host whose record does not fit."""


def record(block_id: str, **fields: Any) -> str:
    return RECORD_PREFIX + json.dumps({"id": block_id, "ok": True, **fields}, separators=(",", ":"))


@dataclass
class FakeHost:
    """One host: the facts it reports now, what they become once applied, and scripted trouble.

    ``reboots`` is how many APPLY scripts report ``reboot_required`` (from the first block that may
    reboot) before the host reports its ``converged`` facts; ``faults`` are raised, one per script,
    before the script runs (None lets that script through); ``after`` runs after each script with
    the phase name, for tests that act in the middle of a run (an interrupt, the clock).
    """

    facts: dict[str, Any]
    converged: dict[str, Any]
    reboots: int = 0
    boot: int = 0
    faults: list[TransportError | BaseException | None] = field(default_factory=list)
    apply_faults: list[TransportError | None] = field(default_factory=list)
    """Raised after an APPLY script has made its changes: the answer was lost on the way back."""
    failing: dict[str, str] = field(default_factory=dict)
    """Block id -> error message that block reports."""
    boot_id_sticks: bool = False
    """A reboot that never happens: the host keeps answering with its old boot id."""
    restart_delay: int = 0
    """Facts answers after a reboot script during which the host is still up, with its old boot id and the
    reboot block's volatile key: a restart scheduled after the signed-in users' warning."""
    reboot_faults: list[TransportError | None] = field(default_factory=list)
    """Raised after a REBOOT script has run: its answer was lost as the host went down."""
    after: Callable[[str], None] = lambda phase: None
    phases: list[str] = field(default_factory=list)
    """Every script's phase, in order: facts, apply, reboot, verify."""
    timeouts: list[float] = field(default_factory=list)
    """Every script's transport timeout, in the same order."""
    connections: int = 0
    _scheduled: int = 0

    def connect(self, host: str, settings: ConnectionSettings) -> MemoryConnection:
        """The engine's ``connect``: a new MemoryConnection to this host."""
        self.connections += 1
        return MemoryConnection(self.handle, host=host)

    def _facts(self) -> dict[str, Any]:
        data = copy.deepcopy(self.facts)
        data["reboot"]["boot_id"] = f"boot-{self.boot}"
        if self._scheduled:
            data["reboot"]["restart_requested"] = True
            self._scheduled -= 1
            if not self._scheduled:
                self.boot += 1  # the scheduled restart happens after this answer
        return data

    def handle(self, script: str, timeout: float) -> ScriptResult:
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                raise fault
        found = blocks(script)
        phase = _phase(found)
        self.phases.append(phase)
        self.timeouts.append(timeout)
        lines: list[str] = []
        if phase == "facts" and "facts" in self.failing:
            lines.append(record("facts", ok=False, error={"message": self.failing["facts"]}))
        elif phase == "facts":
            lines.append(record("facts", data=self._facts()))
        elif phase == "reboot" and "reboot" in self.failing:
            lines.append(record("reboot", ok=False, error={"message": self.failing["reboot"]}))
        elif phase == "reboot":
            if self.restart_delay:
                self._scheduled = self.restart_delay
            elif not self.boot_id_sticks:
                self.boot += 1
            lines.append(record("reboot", changed=True))
            if self.reboot_faults and (fault := self.reboot_faults.pop(0)) is not None:
                raise fault
        elif phase == "apply":
            lines += self._apply(found)
        else:
            lines += [record(block["id"]) for block in found]
        self.after(phase)
        return ScriptResult("log line before the records\r\n" + "\r\n".join(lines) + "\r\n", "", 0)

    def _apply(self, found: list[dict[str, Any]]) -> list[str]:
        lines: list[str] = []
        rebooting = self.reboots > 0
        pending = False
        for block in found:
            block_id = block["id"]
            if block_id in self.failing:
                lines.append(record(block_id, ok=False, error={"message": self.failing[block_id]}))
                continue
            if pending and block.get("requires"):
                lines.append(record(block_id, skipped="waits for a reboot"))
                continue
            wants_reboot = rebooting and not pending
            pending |= wants_reboot
            data = APPLY_DATA.get(block["type"], {})
            lines.append(record(block_id, changed=True, reboot_required=wants_reboot, data=data))
        if rebooting:
            self.reboots -= 1
        if not self.reboots:
            self.facts = copy.deepcopy(self.converged)
        if self.apply_faults:
            fault = self.apply_faults.pop(0)
            if fault is not None:
                raise fault
        return lines


def _phase(found: list[dict[str, Any]]) -> str:
    if not found:
        return "empty"
    first = found[0]
    if first["type"] in ("facts", "reboot"):
        return str(first["type"])
    return "apply" if first["action"] == "set" else "verify"


@dataclass
class RecordingGuard:
    """A HostGuard (engine/host.py) that records its calls and hands out a pending reboot if given one."""

    pending: tuple[str, int] | None = None
    calls: list[str] = field(default_factory=list)

    def checkpoint(self, what: str) -> None:
        self.calls.append(f"checkpoint {what}")

    def rebooting(self, boot_id: str, reboots: int) -> None:
        self.calls.append(f"rebooting {reboots}")

    def rebooted(self) -> None:
        self.calls.append("rebooted")

    def pending_reboot(self) -> tuple[str, int] | None:
        return self.pending
