"""Converge one host (DESIGN 2 and 4.4): connect, facts, plan, apply, reboot and wait, verify.

Callable on its own; the fleet engine runs many of these. Every script is idempotent, so a
failure part-way leaves a host that the next run converges from, and a retried script after
an HTTP 500 or a dropped connection is safe.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from provisioner.engine.outcome import HostFailure, Status
from provisioner.facts import Facts
from provisioner.plan import Plan, facts_request, plan
from provisioner.playbook import Target
from provisioner.protocol.bootstrap import language_refusal
from provisioner.protocol.records import Record, ScriptOutput, decode_clixml, parse_output
from provisioner.render import Renderer
from provisioner.resources import DiffEntry, Finding
from provisioner.resources.base import RecordData
from provisioner.resources.registry import RESOURCES
from provisioner.transport import Connection, ScriptResult, TransportCounters, TransportError
from provisioner.transport.settings import ConnectionSettings

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
    data: RecordData | None = None
    """What the block's record returned, as its resource's data model; None unless the block ran and
    succeeded."""


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
    issued (and may raise as ``checkpoint`` does: the reboot is then not sent) and ``rebooted`` when the host is back, so a later delivery of the same job knows from
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

    def download_secrets(self) -> dict[str, str] | None:
        """The download proxy's credentials for the apply script's stdin, from the controller's environment
        variable that spec.downloads.proxy_credentials_env names (windows-audit.md F13); None without one."""
        name = self.target.spec.downloads.proxy_credentials_env
        if name is None:
            return None
        user, colon, password = os.environ.get(name, "").partition(":")
        if not (user and colon):
            # The value is not repeated: it may hold a password.
            raise HostFailure(
                "failed", f"downloads.proxy_credentials_env: environment variable {name} is not set to USER:PASSWORD"
            )
        return {"proxy_user": user, "proxy_password": password}

    def run_script(
        self,
        script: str,
        what: str,
        timeout: float = 600.0,
        retries: int = RETRIES,
        credentials: dict[str, str] | None = None,
    ) -> ScriptOutput:
        """Run a script with retries for transient errors; records are returned, failures raised.
        ``credentials`` go with it on stdin, outside its text (transport.stdin_for)."""
        attempt = 0
        while True:
            attempt += 1
            self.attempts = attempt
            if self.interrupt.is_set():
                raise HostFailure("interrupted", f"interrupted before the {what} script")
            if self.guard is not None and not self._in_reboot:
                self.guard.checkpoint(what)
            try:
                result: ScriptResult = self.connection().run(
                    script, timeout=min(timeout, self.remaining()), secrets=credentials
                )
                break
            except TransportError as exc:
                self.drop_connection()
                if exc.retryable and attempt < retries:
                    self.emit("retry", f"{what}: {exc.cause}; retrying ({attempt}/{retries - 1})")
                    self.sleep(min(2.0**attempt * 0.1, 5.0))
                    continue
                raise
        refusal = language_refusal(result.exit_code, result.stdout)
        if refusal is not None:
            raise HostFailure("failed", f"{what}: {refusal}")
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

    @staticmethod
    def read_data(block_type: str, record: Record, what: str) -> RecordData:
        """A record's ``data`` as its resource declares it (resources/base.py): a block that returns what its
        model does not describe fails the host, as facts this version cannot read do."""
        try:
            return RESOURCES[block_type].read(record.data)
        except ValidationError as exc:
            raise HostFailure(
                "failed", f"{what}: block {record.id} returned data this version cannot read: {exc}"
            ) from None

    def gather(self, *, quiet: bool = False, retries: int = RETRIES, timeout: float = 600.0) -> Facts:
        if not quiet:
            self.emit("facts", "gathering facts")
        script = self.renderer.facts(self.target.name, facts_request(self.target.spec))
        return self.read_facts(self.run_script(script, "facts", timeout=timeout, retries=retries))

    def read_facts(self, output: ScriptOutput) -> Facts:
        """The facts block's record of a script (a FACTS script, or an apply script's last block)."""
        record = self.record(output, "facts", "facts")
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
        if result.restart_first:
            # windows-audit.md F2: restart first under if_required (converge does), stop here under never.
            never = self.target.reboot.policy == "never"
            finding = Finding(
                "error" if never else "warning",
                "reboot.pending",
                f"a restart is pending from another servicing operation ({result.restart_first}) and "
                "Install-WindowsFeature refuses to install until it happens (FailedRestartRequired); "
                + (
                    "reboot.policy is never: restart the host, then run again"
                    if never
                    else "the host restarts before the feature changes"
                ),
            )
            result = replace(result, preflight=[*result.preflight, finding])
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
            self.check(current)
        else:
            self.apply(facts, current)

    def check(self, current: Plan) -> None:
        self.result.resources = [ResourceResult(c.id, c.type, "drift", c.diff) for c in current.changes]
        self.result.status = "drift" if current.changes else "ok"
        if not current.changes and current.pending:  # Docker Desktop waits for a user (DESIGN 4.5)
            self.result.status, self.result.message = "pending_logon", current.pending
            return
        if self.target.spec.verify.when == "always" and not current.pending:
            self.verify(current)

    def apply(self, facts: Facts, current: Plan) -> None:
        changed = False
        applied: dict[str, ResourceResult] = {}
        previous: list[str] | None = None
        if current.restart_first:
            facts = self.reboot(facts, "pending")
            current = self.make_plan(facts)
        # The verify runs of the last apply script, and that script's output: the result when the plan made
        # from its facts is empty and verifies with the same runs.
        verified: tuple[list[dict[str, Any]], ScriptOutput] | None = None
        while current.changes:
            ids = [c.id for c in current.changes]
            if ids == previous:
                raise HostFailure("failed", f"did not converge: {', '.join(ids)} still differ after being applied")
            self.emit("apply", f"applying {', '.join(ids)}")
            # One script does what used to take three (issue 18): the changes, then the verify runs and the
            # facts the next plan is made from. Not when a change may reboot the host: the next plan comes
            # from the facts after the reboot, and the verify waits for it.
            may_reboot = any(c.may_reboot for c in current.changes)
            with_verify = bool(current.verify) and self._verifies_after_change() and not may_reboot
            request = None if may_reboot else facts_request(self.target.spec)
            timeout = current.apply_timeout + (current.verify_timeout if with_verify else 0.0)
            if with_verify:
                self.emit("verify", "running " + ", ".join(run.headline() for run in current.verify))
            output = self.run_script(
                self.renderer.apply(current, verify=with_verify, facts=request),
                "apply",
                timeout=timeout,
                credentials=self.download_secrets(),
            )
            did, reboot_needed = self.read_changes(current, output, applied)
            changed |= did
            verified = None
            if reboot_needed:
                if self.target.reboot.policy == "never":
                    self.result.status = "reboot_required"
                    self.result.message = "a reboot is required to finish (reboot.policy: never)"
                    return
                facts = self.reboot(facts)
                previous = None
            else:
                previous = ids
                if with_verify:
                    verified = ([run.to_json() for run in current.verify], output)
                facts = self.read_facts(output) if request is not None else self.gather()
            current = self.make_plan(facts)
        if current.pending:
            # Docker Desktop: done what a remote session can do; the rest needs a user's logon (DESIGN 4.5).
            self.result.status, self.result.message = "pending_logon", current.pending
            return
        when = self.target.spec.verify.when
        if when == "always" or (when == "changed" and (changed or current.verify_due)):
            runs = [run.to_json() for run in current.verify]
            if verified is not None and verified[0] == runs and self._verify_ran(current, verified[1]):
                self.verify_result(current, verified[1])
            else:
                self.verify(current)
        self.result.status = "changed" if changed else "ok"

    def read_changes(
        self, current: Plan, output: ScriptOutput, applied: dict[str, ResourceResult]
    ) -> tuple[bool, bool]:
        """Each change's record into ``applied`` (and the result); whether any changed, and whether any
        asked for a reboot. A failed block fails the host."""
        # An attempt lost to a transport error (HTTP 500 on Receive, a reset after the command)
        # may have made the changes, so the retry's blocks find them done and say unchanged.
        redone = self.attempts > 1
        changed = reboot_needed = False
        for change in current.changes:
            record = self.record(output, change.id, "apply")
            if not record.ok:
                applied[change.id] = ResourceResult(change.id, change.type, "failed", change.diff, record.message)
                self.result.resources = list(applied.values())
                raise HostFailure("failed", f"{change.id}: {record.message}")
            if record.skipped:
                continue  # waits for a reboot; planned again afterwards
            did = record.changed or redone
            data = self.read_data(change.type, record, "apply")
            applied[change.id] = ResourceResult(
                change.id, change.type, "changed" if did else "ok", change.diff, data=data
            )
            changed |= did
            reboot_needed |= record.reboot_required
        self.result.resources = list(applied.values())
        return changed, reboot_needed

    def _verifies_after_change(self) -> bool:
        return self.target.spec.verify.when in ("changed", "always")

    @staticmethod
    def _verify_ran(current: Plan, output: ScriptOutput) -> bool:
        """Whether every verify run of an apply script ran (none skipped for a change it required)."""
        return all(
            run.block_id in output.records and not output.records[run.block_id].skipped for run in current.verify
        )

    def reboot(self, facts: Facts, reason: str = "features") -> Facts:
        policy = self.target.reboot
        if self.result.reboots >= policy.max_per_run:
            raise HostFailure(
                "failed", f"needs another reboot but reboot.max_per_run ({policy.max_per_run}) is reached"
            )
        old_boot = facts.reboot.boot_id
        # On a workstation the signed-in users are warned first (reboot.warn_seconds, windows-audit.md F14):
        # the host goes down that much later, so the wait for it is that much longer.
        warn = policy.warn_for(facts.os.is_client)
        wait = policy.timeout + warn
        warned = f" after warning the signed-in users for {warn} s" if warn else ""
        if self.interrupt.is_set():  # before the reboot is recorded as issued: nothing was sent
            raise HostFailure("interrupted", "interrupted before the reboot script")
        if self.guard is not None:
            self.guard.checkpoint("reboot")  # the last safe point before the host goes down
            self.guard.rebooting(old_boot, self.result.reboots + 1)
        self.emit("reboot", f"rebooting{warned}; waiting up to {wait:g} s for a new boot id")
        self._in_reboot = True
        refused = self._send_reboot(old_boot, self.renderer.reboot(self.target.name, reason, warn))
        if refused is not None:
            # The host said no (shutdown.exe refused the restart): nothing to wait for.
            self._in_reboot = False
            if self.guard is not None:
                self.guard.rebooted()
            raise HostFailure("failed", f"reboot: {refused}")
        self.drop_connection()
        self.result.reboots += 1
        return self.wait_for_boot(old_boot, wait)

    def _send_reboot(self, old_boot: str, script: str) -> str | None:
        """Send the reboot script; retried after a transport error only while the host still answers with
        ``old_boot`` and without the reboot block's volatile key. A reboot is the one script that is not
        idempotent: its connection often drops as the host goes down, and a blind retry that reached the host
        after it came back rebooted it a second time (seen in the lab under load, and possible on Windows when
        an attempt hangs past the reboot). Down, up with a new boot id, or the key written (a restart
        scheduled after the users' warning) means it was received. Returns why the host refused it, if its
        record says so."""
        for attempt in range(1, RETRIES + 1):
            try:
                output = self.run_script(script, "reboot", timeout=60, retries=1)
            except HostFailure as exc:
                if exc.status == "interrupted":
                    raise
                return None  # the host answered, or went down answering; the boot id tells what happened
            except TransportError as exc:
                self.drop_connection()
                if not exc.retryable or attempt == RETRIES:
                    return None
                try:
                    answer = self.gather(quiet=True, retries=1).reboot
                except (TransportError, HostFailure):
                    self.drop_connection()
                    return None
                if answer.boot_id != old_boot or answer.restart_requested:
                    return None
                self.emit("retry", f"reboot: {exc.cause}; the host did not go down; retrying ({attempt}/{RETRIES - 1})")
                self.sleep(min(2.0**attempt * 0.1, 5.0))
                continue
            record = output.records.get("reboot")  # none when the restart took the session down first
            return record.message if record is not None and not record.ok else None
        return None

    def resume_reboot(self, old_boot: str, reboots: int) -> None:
        """An earlier delivery of this job was lost after recording that it would reboot the host from
        ``old_boot``: wait for that reboot to end rather than reboot again. The earlier delivery's lease ran
        out before this one started, so a reboot it issued has begun by now, or is scheduled (the volatile
        key is there) after the users' warning: a host that still answers with ``old_boot`` and no key was
        never rebooted, and the run goes on as usual (planning the reboot again if it is still needed)."""
        self.emit("reboot.resume", "an earlier attempt was rebooting this host; checking whether it did")
        policy = self.target.reboot
        wait = policy.timeout + policy.warn_for(client=True)  # the SKU is not known yet: the longer warning
        self.result.reboots = reboots
        self._in_reboot = True  # no safe point until it is known whether the host is mid-reboot
        try:
            answer = self.gather(quiet=True, retries=1).reboot
        except (TransportError, HostFailure):
            self.drop_connection()
            self.wait_for_boot(old_boot, wait)
            return
        if answer.restart_requested:  # scheduled and not yet done, whatever the boot id reads (it drifts on VMs)
            self.wait_for_boot(old_boot, wait)
            return
        self._in_reboot = False
        if answer.boot_id == old_boot:
            self.result.reboots = reboots - 1  # it was never issued
        if self.guard is not None:
            self.guard.rebooted()

    def wait_for_boot(self, old_boot: str, wait: float) -> Facts:
        """Poll until the host answers from a new boot (within ``wait`` seconds and the host's deadline), and
        return its facts."""
        policy = self.target.reboot
        self._in_reboot = True
        give_up = min(self.clock() + wait, self.deadline)
        delay = policy.poll_interval
        last = "no answer"
        while True:
            self.sleep(delay)
            if self.interrupt.is_set():
                raise HostFailure("interrupted", "interrupted while waiting for the host to come back")
            try:
                # This loop is the retry; a host that accepts the connection but hangs while it boots cannot hold
                # one poll past the wait's end (the script's own 600 s would).
                new = self.gather(quiet=True, retries=1, timeout=max(give_up - self.clock(), 1.0))
                # A new boot needs both: the boot id moved (LastBootUpTime drifts without a reboot on VMs) and
                # the reboot block's volatile key is gone (it lives until the restart; windows-audit.md F8).
                # Only a reboot block that died before writing the key, with jitter too, could still mislead.
                if new.reboot.boot_id != old_boot and not new.reboot.restart_requested:
                    self._in_reboot = False
                    if self.guard is not None:
                        self.guard.rebooted()
                    self.emit("rebooted", f"back after reboot (boot id {new.reboot.boot_id})")
                    return new
                last = (
                    "it has not restarted yet (the reboot block's volatile registry key is still there)"
                    if new.reboot.restart_requested
                    else f"it still answers with the boot id it had before ({old_boot})"
                )
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
                    "failed", f"did not come back within {wait:g} s after the reboot; last attempt: {last}"
                )
            # The last poll is at the deadline, not one interval short of it: the wait lasts as long as it says,
            # however short the steps before it were (a reboot script that failed fast no longer pads it).
            delay = min(delay * policy.poll_backoff, policy.poll_max, left)

    def verify(self, current: Plan) -> None:
        """Run the plan's VERIFY script (resources/base.py VerifyRun). The result is the single run's entry, or,
        when the runs name the engines they prove (Docker Desktop), the last run's image and isolation, the
        first failure, and every engine's entry (DESIGN 4.6's keys either way)."""
        runs = current.verify
        if not runs:
            return
        self.emit("verify", "running " + ", ".join(run.headline() for run in runs))
        output = self.run_script(
            self.renderer.verify(current, self.renderer.nonce), "verify", timeout=current.verify_timeout
        )
        self.verify_result(current, output)

    def verify_result(self, current: Plan, output: ScriptOutput) -> None:
        """The host's verify result from the records of the plan's runs (a VERIFY script's, or an apply's)."""
        runs = current.verify
        entries: list[dict[str, Any]] = []
        failure = ""
        for run in runs:
            record = self.record(output, run.block_id, "verify")
            entries.append(run.entry(record.ok, record.message, self.read_data(run.type, record, "verify")))
            if not record.ok and not failure:
                failure = f"{run.engine} engine: {record.message}" if run.engine else record.message
        if len(runs) == 1 and runs[0].engine is None:
            self.result.verify = entries[0]
        else:
            last = entries[-1]
            self.result.verify = {
                "image": last["image"],
                "isolation": last["isolation"],
                "ok": not failure,
                "message": failure,
                "engines": entries,
            }
        if failure:
            raise HostFailure("failed", f"verify: {failure}")


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
