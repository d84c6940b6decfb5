"""Converge one host (DESIGN 2 and 4.4): connect, facts, plan, apply, reboot and wait, verify.

Callable on its own; the fleet engine runs many of these. Every script is idempotent, so a
failure part-way leaves a host that the next run converges from, and a retried script after
an HTTP 500 or a dropped connection is safe.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from provisioner.engine.desktop import verify_desktop
from provisioner.engine.outcome import HostFailure, Status
from provisioner.facts import Facts
from provisioner.inventory import ConnectionSettings
from provisioner.plan import Plan, facts_request, plan
from provisioner.playbook import Target
from provisioner.records import Record, ScriptOutput, decode_clixml, parse_output
from provisioner.render import Renderer
from provisioner.resources import DiffEntry
from provisioner.transport import Connection, ScriptResult, TransportCounters, TransportError

__all__ = ["Event", "HostGuard", "HostResult", "HostRunner", "ResourceResult", "Status", "gather_facts"]


RETRIES = 5
"""Attempts for a script after a retryable transport error (HTTP 5xx, reset, timeout). A script is
five WS-Man messages, so a host answering 10% of them with 500s fails a script 41% of the time:
five attempts bring a host's failure to about 1% (three left 7%)."""


@dataclass
class ResourceResult:
    id: str
    type: str
    status: Literal["ok", "changed", "drift", "failed", "skipped"]
    diff: list[DiffEntry] = field(default_factory=list)
    message: str = ""


@dataclass
class HostResult:
    name: str
    status: Status = "ok"
    message: str = ""
    reboots: int = 0
    duration: float = 0.0
    facts: dict[str, Any] | None = None
    resources: list[ResourceResult] = field(default_factory=list)
    preflight: list[dict[str, str]] = field(default_factory=list)
    verify: dict[str, Any] | None = None
    counters: TransportCounters = field(default_factory=TransportCounters)
    batch: int | None = None


@dataclass(frozen=True)
class Event:
    host: str
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class HostGuard(Protocol):
    """Hooks for a runner whose host job may be delivered more than once (the Celery executor's
    lease, engine/celery_executor.py): the local executor passes none.

    ``checkpoint`` is called at every safe point, before a script that starts a step, and raises
    :class:`HostFailure` (or anything else) to end the run there; it is never called between
    issuing a reboot and the host's return. ``rebooting`` is told the boot id before a reboot is
    issued and ``rebooted`` when the host is back, so a later delivery of the same job knows from
    ``pending_reboot`` (the boot id left, and the reboots so far) to wait instead of rebooting again.
    """

    def checkpoint(self, what: str) -> None: ...

    def rebooting(self, boot_id: str, reboots: int) -> None: ...

    def rebooted(self) -> None: ...

    def pending_reboot(self) -> tuple[str, int] | None: ...


class HostRunner:
    """Runs one target in apply or check mode."""

    def __init__(
        self,
        target: Target,
        mode: Literal["apply", "check"],
        connect: Callable[[str, ConnectionSettings], Connection],
        *,
        renderer: Renderer | None = None,
        on_event: Callable[[Event], None] = lambda event: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float | None = None,
        interrupt: threading.Event | None = None,
        guard: HostGuard | None = None,
    ) -> None:
        self.target = target
        self.mode = mode
        self._connect = connect
        self.renderer = renderer or Renderer()
        self.on_event = on_event
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = poll_interval
        """The first reboot poll's delay when given, else the play's ``reboot.poll_interval``."""
        self.result = HostResult(target.name)
        self.deadline = clock() + target.play.rollout.host_timeout
        self.conn: Connection | None = None
        self.interrupt = interrupt or threading.Event()
        self.attempts = 0
        """Attempts the last run_script took: more than one means an earlier attempt may have run."""
        self.guard = guard
        self._in_reboot = False
        """Between issuing a reboot and the host's return: no safe point for the guard."""

    # -- helpers -------------------------------------------------------------------------------

    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.on_event(Event(self.target.name, kind, message, data))

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise HostFailure("failed", f"host_timeout of {self.target.play.rollout.host_timeout:g} s reached")
        return left

    def connection(self) -> Connection:
        if self.conn is None:
            self.conn = self._connect(self.target.name, self.target.connection)
        return self.conn

    def drop_connection(self) -> None:
        """Close the connection; its traffic (failed attempts too) stays counted in the result,
        since a reboot or a retry opens a new connection."""
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection must not mask the real error
                pass
            self.result.counters.add(self.conn.counters)  # after close: the Delete counts too
            self.conn = None

    def run_script(self, script: str, what: str, timeout: float = 600.0, retries: int = RETRIES) -> ScriptOutput:
        """Run a script with retries for transient errors; records are returned, failures raised."""
        attempt = 0
        while True:
            attempt += 1
            self.attempts = attempt
            if self.interrupt.is_set():
                raise HostFailure("interrupted", f"interrupted before the {what} script")
            if self.guard is not None and not self._in_reboot:
                self.guard.checkpoint(what)
            try:
                result: ScriptResult = self.connection().run(script, timeout=min(timeout, self.remaining()))
                break
            except TransportError as exc:
                self.drop_connection()
                if exc.retryable and attempt < retries:
                    self.emit("retry", f"{what}: {exc.cause}; retrying ({attempt}/{retries - 1})")
                    self.sleep(min(2.0**attempt * 0.1, 5.0))
                    continue
                raise
        output = parse_output(result.stdout)
        if result.exit_code != 0 and not output.records:
            stderr = decode_clixml(result.stderr).strip()
            raise HostFailure("failed", f"{what} script exited {result.exit_code}: {stderr or 'no output'}")
        return output

    @staticmethod
    def record(output: ScriptOutput, block_id: str, what: str) -> Record:
        found = output.records.get(block_id)
        if found is None:
            # A record line that could not be read is the likelier cause than a script cut short: say which.
            cause = f"; {output.problems[0]}" if output.problems else " (script ended early)"
            raise HostFailure("failed", f"{what}: block {block_id} wrote no record{cause}")
        return found

    def gather(self, *, quiet: bool = False, retries: int = RETRIES) -> Facts:
        if not quiet:
            self.emit("facts", "gathering facts")
        script = self.renderer.facts(self.target.name, facts_request(self.target.spec))
        record = self.record(self.run_script(script, "facts", retries=retries), "facts", "facts")
        if not record.ok:
            raise HostFailure("failed", f"facts: {record.message}")
        try:
            facts = Facts.model_validate(record.data)
        except ValidationError as exc:
            raise HostFailure("failed", f"facts: the host reported facts this version cannot read: {exc}") from None
        self.result.facts = facts.model_dump(mode="json")
        return facts

    def make_plan(self, facts: Facts) -> Plan:
        result = plan(self.target.name, self.target.spec, facts)
        self.result.preflight = [{"level": f.level, "code": f.code, "message": f.message} for f in result.preflight]
        for finding in result.preflight:
            self.emit(f"preflight.{finding.level}", finding.message, code=finding.code)
        if result.blocked:
            errors = "; ".join(f.message for f in result.preflight if f.level == "error")
            raise HostFailure("failed", f"preflight: {errors}")
        return result

    # -- phases --------------------------------------------------------------------------------

    def run(self) -> HostResult:
        start = self.clock()
        try:
            pending = self.guard.pending_reboot() if self.guard is not None else None
            if pending is not None:
                self.resume_reboot(*pending)
            self.converge()
        except HostFailure as exc:
            self.result.status, self.result.message = exc.status, str(exc)
        except TransportError as exc:
            unreachable = exc.kind in {"refused", "dns", "timeout", "reset"} and self.result.facts is None
            self.result.status = "unreachable" if unreachable else "failed"
            self.result.message = exc.cause
        finally:
            self.drop_connection()
            self.result.duration = self.clock() - start
        self.emit(
            "done",
            f"{self.result.status}{': ' + self.result.message if self.result.message else ''}",
            status=self.result.status,
        )
        return self.result

    def converge(self) -> None:
        facts = self.gather()
        current = self.make_plan(facts)
        if self.mode == "check":
            self.result.resources = [ResourceResult(c.id, c.type, "drift", c.diff) for c in current.changes]
            self.result.status = "drift" if current.changes else "ok"
            if not current.changes and current.pending:  # Docker Desktop waits for a user (DESIGN 4.5)
                self.result.status, self.result.message = "pending_logon", current.pending
                return
            if self.target.spec.verify.when == "always" and not current.pending:
                self.verify(current)
            return
        changed = False
        applied: dict[str, ResourceResult] = {}
        previous: list[str] | None = None
        while current.changes:
            ids = [c.id for c in current.changes]
            if ids == previous:
                raise HostFailure("failed", f"did not converge: {', '.join(ids)} still differ after being applied")
            self.emit("apply", f"applying {', '.join(ids)}")
            output = self.run_script(self.renderer.apply(current), "apply")
            # An attempt lost to a transport error (HTTP 500 on Receive, a reset after the command)
            # may have made the changes, so the retry's blocks find them done and say unchanged.
            redone = self.attempts > 1
            reboot_needed = False
            for change in current.changes:
                record = self.record(output, change.id, "apply")
                if not record.ok:
                    applied[change.id] = ResourceResult(change.id, change.type, "failed", change.diff, record.message)
                    self.result.resources = list(applied.values())
                    raise HostFailure("failed", f"{change.id}: {record.message}")
                if record.skipped:
                    continue  # waits for a reboot; planned again afterwards
                did = record.changed or redone
                applied[change.id] = ResourceResult(change.id, change.type, "changed" if did else "ok", change.diff)
                changed |= did
                reboot_needed |= record.reboot_required
            self.result.resources = list(applied.values())
            if reboot_needed:
                if self.target.reboot.policy == "never":
                    self.result.status = "reboot_required"
                    self.result.message = "a reboot is required to finish (reboot.policy: never)"
                    return
                facts = self.reboot(facts)
                previous = None
            else:
                previous = ids
                facts = self.gather()
            current = self.make_plan(facts)
        if current.pending:
            # Docker Desktop: done what a remote session can do; the rest needs a user's logon (DESIGN 4.5).
            self.result.status, self.result.message = "pending_logon", current.pending
            return
        verify = self.target.spec.verify.when
        if verify == "always" or (verify == "changed" and (changed or current.verify_due)):
            self.verify(current)
        self.result.status = "changed" if changed else "ok"

    def reboot(self, facts: Facts) -> Facts:
        policy = self.target.reboot
        if self.result.reboots >= policy.max_per_run:
            raise HostFailure(
                "failed", f"needs another reboot but reboot.max_per_run ({policy.max_per_run}) is reached"
            )
        old_boot = facts.reboot.boot_id
        if self.guard is not None:
            self.guard.checkpoint("reboot")  # the last safe point before the host goes down
            self.guard.rebooting(old_boot, self.result.reboots + 1)
        self.emit("reboot", f"rebooting; waiting up to {policy.timeout:g} s for a new boot id")
        self._in_reboot = True
        self._send_reboot(old_boot)
        self.drop_connection()
        self.result.reboots += 1
        return self.wait_for_boot(old_boot, self.clock() + policy.timeout)

    def _send_reboot(self, old_boot: str) -> None:
        """Send the reboot script; retried after a transport error only while the host still
        answers with ``old_boot``. A reboot is the one script that is not idempotent: its connection
        often drops as the host goes down, and a blind retry that reached the host after it came
        back rebooted it a second time (seen in the lab under load, and possible on Windows when an
        attempt hangs past the reboot). Down, or up with a new boot id, means it was received."""
        script = self.renderer.reboot(self.target.name, "features")
        for attempt in range(1, RETRIES + 1):
            try:
                self.run_script(script, "reboot", timeout=60, retries=1)
                return
            except HostFailure:
                return  # the host answered; the boot id tells what happened
            except TransportError as exc:
                self.drop_connection()
                if not exc.retryable or attempt == RETRIES:
                    return
                try:
                    if self.gather(quiet=True, retries=1).reboot.boot_id != old_boot:
                        return
                except (TransportError, HostFailure):
                    self.drop_connection()
                    return
                self.emit("retry", f"reboot: {exc.cause}; the host did not go down; retrying ({attempt}/{RETRIES - 1})")
                self.sleep(min(2.0**attempt * 0.1, 5.0))

    def resume_reboot(self, old_boot: str, reboots: int) -> None:
        """An earlier delivery of this job was lost after recording that it would reboot the host
        from ``old_boot``: wait for that reboot to end rather than reboot again. The earlier
        delivery's lease ran out before this one started, so a reboot it issued has begun by now: a
        host that still answers with ``old_boot`` was never rebooted, and the run goes on as usual
        (planning the reboot again if it is still needed)."""
        self.emit("reboot.resume", "an earlier attempt was rebooting this host; checking whether it did")
        self.result.reboots = reboots
        self._in_reboot = True  # no safe point until it is known whether the host is mid-reboot
        try:
            answered = self.gather(quiet=True, retries=1).reboot.boot_id
        except (TransportError, HostFailure):
            self.drop_connection()
            self.wait_for_boot(old_boot, self.clock() + self.target.reboot.timeout)
            return
        self._in_reboot = False
        if answered == old_boot:
            self.result.reboots = reboots - 1  # it was never issued
        if self.guard is not None:
            self.guard.rebooted()

    def wait_for_boot(self, old_boot: str, give_up: float) -> Facts:
        """Poll until the host answers with a boot id other than ``old_boot`` (by ``give_up`` or the
        host's deadline), and return its facts."""
        policy = self.target.reboot
        self._in_reboot = True
        give_up = min(give_up, self.deadline)
        delay = self.poll_interval if self.poll_interval is not None else policy.poll_interval
        last = "no answer"
        while True:
            self.sleep(delay)
            if self.interrupt.is_set():
                raise HostFailure("interrupted", "interrupted while waiting for the host to come back")
            try:
                new = self.gather(quiet=True, retries=1)  # this loop is the retry
                if new.reboot.boot_id != old_boot:
                    self._in_reboot = False
                    if self.guard is not None:
                        self.guard.rebooted()
                    self.emit("rebooted", f"back after reboot (boot id {new.reboot.boot_id})")
                    return new
                last = f"it still answers with the boot id it had before ({old_boot})"
            except TransportError as exc:
                self.drop_connection()
                last = exc.cause
            except HostFailure as exc:
                self.drop_connection()
                last = str(exc)
            left = give_up - self.clock()
            if left <= 0:
                # The last answer says whether the host is down, up but failing (HTTP 500s), or never rebooted
                # (review F18: "did not come back" hid a host that was up and answering 500).
                raise HostFailure(
                    "failed", f"did not come back within {policy.timeout:g} s after the reboot; last attempt: {last}"
                )
            # The last poll is at the deadline, not one interval short of it: the wait lasts as
            # long as it says, however short the steps before it were (a reboot script that
            # failed fast no longer pads it with retries).
            delay = min(delay * 1.5, 15.0, left)

    def verify(self, current: Plan) -> None:
        if current.desktop_verify:
            verify_desktop(self, current)
            return
        choice = current.verify
        engine = self.target.spec.engine
        if choice is None or engine is None:
            return
        nonce = f"provision-{secrets.token_hex(8)}"
        docker = engine.install_dir.rstrip("\\") + "\\docker.exe"
        self.emit("verify", f"running {choice.image} with {choice.isolation} isolation")
        output = self.run_script(self.renderer.verify(current, nonce, docker), "verify", timeout=choice.timeout + 60)
        record = self.record(output, "verify", "verify")
        self.result.verify = {
            "image": choice.image,
            "isolation": choice.isolation,
            "ok": record.ok,
            "message": record.message,
        }
        if not record.ok:
            raise HostFailure("failed", f"verify: {record.message}")


def gather_facts(
    target: Target, connect: Callable[[str, ConnectionSettings], Connection], renderer: Renderer | None = None
) -> HostResult:
    """Facts only (``provision facts``): the result's ``facts`` is set unless its status says why not."""
    runner = HostRunner(target, "check", connect, renderer=renderer)
    try:
        runner.gather()
        runner.result.status = "ok"
    except HostFailure as exc:
        runner.result.status, runner.result.message = exc.status, str(exc)
    except TransportError as exc:
        runner.result.status = "unreachable" if exc.kind in {"refused", "dns", "timeout", "reset"} else "failed"
        runner.result.message = exc.cause
    finally:
        runner.drop_connection()
    return runner.result
