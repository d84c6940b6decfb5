"""What ``provision doctor`` finds: one Step per check, a HostDiagnosis per host, and their output line."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SSH_STEPS", "WINRM_STEPS", "HostDiagnosis", "Step", "Stop", "format_step"]

WINRM_STEPS = ("resolve", "tcp", "tls", "auth", "roundtrip", "powershell", "admin", "limits")
SSH_STEPS = ("resolve", "tcp", "hostkey", "auth", "roundtrip", "powershell", "admin")
_STEP_WIDTH = max(len(step) for step in WINRM_STEPS + SSH_STEPS)


@dataclass(frozen=True)
class Step:
    """The outcome of one step on one host: ok with what was found, or the cause and the fix."""

    name: str
    ok: bool
    text: str
    """What was found (ok), or why the step failed."""
    fix: str | None = None

    @property
    def message(self) -> str:
        """``ok: ...`` or ``FAILED: <cause>; fix: <fix>``, without the host and step columns."""
        if self.ok:
            return f"ok: {self.text}"
        return f"FAILED: {self.text}" + (f"; fix: {self.fix}" if self.fix else "")


@dataclass
class HostDiagnosis:
    """Every step one host went through, in order; the last one failed unless the host passed."""

    name: str
    endpoint: str
    steps: list[Step] = field(default_factory=list)
    expected: tuple[str, ...] = ()
    """The steps of the host's connection, all of which must be ok."""

    @property
    def ok(self) -> bool:
        return [s.name for s in self.steps] == list(self.expected) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> Step | None:
        """The step that stopped the host, if one did."""
        return next((s for s in self.steps if not s.ok), None)


def format_step(host: str, step: Step, host_width: int = 0) -> str:
    """One output line: host, step and message in columns."""
    return f"{host:<{host_width}}  {step.name:<{_STEP_WIDTH}}  {step.message}"


class Stop(Exception):
    """A step failed: carries its Step; the host's remaining steps are not run."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.message)
        self.step = step
