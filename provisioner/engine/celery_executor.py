"""The Celery executor: host jobs on workers over Redis, the rollout state in the store (issue 17).

Design (research/containerd-scaleout-history.md 3.5): Celery only moves messages that say "run
host H of play P of rollout R, attempt N" to the queue ``hosts.<site>`` of the host's site; the
controller (``provision apply|check --executor celery``) alone decides batches, failure thresholds
and halts, with the same code as the local executor (``rollout.batches``, ``rollout.halt_reason``);
a worker (``provision worker --site S``) runs the same :class:`HostRunner` as the local executor.
Delivery is at least once (``acks_late``, ``task_reject_on_worker_lost``, prefetch 1) and made safe
by the lease rows of :mod:`provisioner.state.rollouts`: a duplicate or stale message does nothing,
a dead worker's lease runs out and the controller's reaper queues the host again, a halt or Ctrl-C
is seen by the running hosts at their next safe point, never between a reboot and its return.

Workers use Celery's thread pool: host jobs wait on sockets, the transports are blocking
libraries, and the local executor runs hosts on threads for the same reason (rollout.py).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from provisioner.engine.host import Event, HostResult, HostRunner
from provisioner.engine.outcome import HostFailure
from provisioner.engine.rollout import Interrupt, ResultSink, batches, halt_reason, not_run
from provisioner.engine.wire import event_from_json, event_to_json, result_from_json, result_to_json
from provisioner.inventory import Vault
from provisioner.playbook import Playbook, Target, load_playbook
from provisioner.render import Renderer
from provisioner.report.text import SECRETS
from provisioner.state.config import StateError
from provisioner.state.rollouts import HostKey, Lease, PlannedHost, RolloutState, rollout_digest
from provisioner.transport import Connection, ScriptResult, TransportCounters
from provisioner.transport.settings import ConnectionSettings

__all__ = [
    "BROKER_ENV",
    "DEFAULT_SITE",
    "TASK",
    "ConnectCap",
    "ControllerSettings",
    "HostJobs",
    "celery_app",
    "queue_name",
    "run_celery",
    "run_job",
    "site_of",
    "worker_main",
]

log = logging.getLogger("provision.worker")

BROKER_ENV = "PROVISION_BROKER_URL"
"""The environment variable naming the broker (``redis://host:6379/0``), below ``--broker``."""
TASK = "provision.converge_host"
DEFAULT_SITE = "default"
"""The site of a host whose inventory has no ``site`` variable."""
VISIBILITY_TIMEOUT = 4 * 3600
"""Redis redelivers a message not acknowledged within this (research 3.5: longer than any host
job, reboots included); the reaper, not this, recovers a dead worker's hosts within a lease."""


GAP_SECONDS = 30.0
"""An event id missing for this long while later ones arrived belongs to no committed event."""


STORE_RETRY_SECONDS = 2.0
"""How long a worker waits before it hands back a job it could not lease or finish for want of the store."""


def celery_app(broker: str) -> Any:
    """The Celery application of both sides: JSON only, no result backend (results are rows in
    the store), late acknowledgement so a job whose worker dies is delivered again."""
    from celery import Celery  # type: ignore[import-untyped]

    app = Celery("provision", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


def site_of(target: Target) -> str:
    """The site a host's jobs go to: its ``site`` inventory variable (the one the history keeps)."""
    site = target.vars.get("site")
    return str(site) if isinstance(site, str | int) and not isinstance(site, bool) and str(site) else DEFAULT_SITE


def queue_name(site: str) -> str:
    return f"hosts.{site}"


# -- the controller -----------------------------------------------------------------------------


@dataclass
class ControllerSettings:
    broker: str
    state: RolloutState
    job: dict[str, Any]
    """What a worker needs to load the same targets: playbook, inventory, limit, templates, client."""
    lease_seconds: float = 60.0
    poll: float = 0.2
    app: Any = None

    def send(self, key: HostKey, site: str) -> None:
        if self.app is None:
            self.app = celery_app(self.broker)
        self.app.send_task(TASK, args=[key.to_json()], queue=queue_name(site))


def _controller_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_celery(
    book: Playbook,
    mode: Literal["apply", "check"],
    settings: ControllerSettings,
    *,
    on_event: Callable[[Event], None] = lambda event: None,
    on_result: Callable[[HostResult], None] = lambda result: None,
    on_batch: Callable[[int, int, int], None] = lambda number, total, size: None,
    on_resume: Callable[[str], None] = lambda rollout_id: None,
    interrupt: Interrupt | None = None,
    only: set[str] | None = None,
    sink: ResultSink | None = None,
) -> list[HostResult]:
    """:func:`provisioner.engine.rollout.run_playbook` with the hosts run by workers: the same
    batches, thresholds, statuses and callbacks. A running rollout of the same command and plans
    whose controller is gone is resumed (``on_resume`` is told its id) rather than started again."""
    interrupt = interrupt or Interrupt()
    state = settings.state
    controller = _controller_id()
    plays: list[tuple[int, list[list[Target]]]] = []
    planned: list[PlannedHost] = []
    for index, play in enumerate(book.plays):
        targets = [t for t in book.targets if t.play is play and (only is None or t.name in only)]
        plan = batches(targets, play.rollout)
        plays.append((index, plan))
        for number, batch in enumerate(plan, start=1):
            planned += [PlannedHost(index, t.name, number, site_of(t), t.plan_digest) for t in batch]
    digest = rollout_digest(mode, settings.job, planned)
    rollout_id, resumed = state.start(
        rollout_id=uuid.uuid4().hex,
        digest=digest,
        kind=mode,
        job=settings.job,
        lease_seconds=settings.lease_seconds,
        controller=controller,
        hosts=planned,
    )
    if resumed:
        on_resume(rollout_id)
    run = _Controller(state, settings, rollout_id, controller, on_event, interrupt)
    results: list[HostResult] = []
    halted: str | None = None
    try:
        for index, plan in plays:
            by_name = {t.name: t for batch in plan for t in batch}

            def deliver(result: HostResult, by_name: dict[str, Target] = by_name) -> None:
                if sink is not None:
                    sink.host_result(by_name[result.name], result)
                on_result(result)

            rollout_policy = book.plays[index].rollout
            for number, batch in enumerate(plan, start=1):
                if halted or interrupt.stop.is_set() or interrupt.abort.is_set():
                    status: Literal["halted", "interrupted"] = "halted" if halted else "interrupted"
                    message = halted or "not started: the run was interrupted"
                    ended = {t.name: result_to_json(not_run(t, status, message, number)) for t in batch}
                    state.settle(rollout_id, index, number, ("pending", "queued"), ended)
                    outcome = run.collect(index, number, batch, deliver, wait=not interrupt.abort.is_set())
                    results.extend(outcome)
                    continue
                on_batch(number, len(plan), len(batch))
                outcome = run.batch(index, number, batch, deliver)
                results.extend(outcome)
                halted = halted or halt_reason(number, outcome, rollout_policy)
        final = "interrupted" if interrupt.stop.is_set() else "halted" if halted else "done"
        state.set_status(rollout_id, final, halted or "")
    finally:
        state.release(rollout_id, controller)
    return results


class _Controller:
    """One controller's watch over one rollout: sending, reaping, collecting."""

    def __init__(
        self,
        state: RolloutState,
        settings: ControllerSettings,
        rollout_id: str,
        controller: str,
        on_event: Callable[[Event], None],
        interrupt: Interrupt,
    ) -> None:
        self.state, self.settings, self.rollout_id = state, settings, rollout_id
        self.controller, self.on_event, self.interrupt = controller, on_event, interrupt
        self.floor = 0
        """Every event id up to this one has been delivered (or given up as never committed)."""
        self.seen: set[int] = set()
        self.gap_since: float | None = None
        self.stopped = False
        self.held = time.monotonic()

    def batch(
        self, play: int, number: int, batch: list[Target], deliver: Callable[[HostResult], None]
    ) -> list[HostResult]:
        for key, site in self.state.queue(self.rollout_id, play, number):
            self.settings.send(key, site)
        return self.collect(play, number, batch, deliver, wait=True)

    def collect(
        self,
        play: int,
        number: int,
        batch: list[Target],
        deliver: Callable[[HostResult], None],
        *,
        wait: bool,
    ) -> list[HostResult]:
        """Deliver the batch's results as they are written, until every host is done (or, after
        a second interrupt, at once); results in the batch's order."""
        delivered: dict[str, HostResult] = {}
        while True:
            self._keep_lease()
            rows = self.state.batch(self.rollout_id, play, number, skip=delivered)
            # Events after the rows: a worker writes a host's events before its result, so every
            # event of a result read above is read here, and is shown before it.
            self._events()
            for name, data in rows.items():
                if name not in delivered and data is not None:
                    delivered[name] = result_from_json(data)
                    deliver(delivered[name])
            if len(delivered) == len(batch) or not wait:
                break
            if self.interrupt.abort.is_set():
                break
            if self.interrupt.stop.is_set() and not self.stopped:
                self._stop(play, number, batch)
                continue
            for key, site in self.state.reap(self.rollout_id):
                if self.stopped:
                    # The rollout is no longer running: a lost host is not leased again, it ends.
                    self._end_lost(key, batch, number)
                else:
                    self.settings.send(key, site)
            time.sleep(self.settings.poll)
        ordered: list[HostResult] = []
        for target in batch:
            found = delivered.get(target.name)
            if found is None:
                found = not_run(target, "interrupted", "aborted in flight by a second interrupt", number)
                deliver(found)
            ordered.append(found)
        return ordered

    def _keep_lease(self) -> None:
        if time.monotonic() - self.held > self.settings.lease_seconds / 4:
            self.state.hold(self.rollout_id, self.controller, self.settings.lease_seconds)
            self.held = time.monotonic()

    def _events(self) -> None:
        """Deliver the events committed since the last poll. Ids are taken in insert order but
        become visible in commit order, so one id can appear after a higher one (two workers'
        inserts): the poll reads from the lowest id not yet seen, not from the highest. One host's
        events are written one after another, so they are always delivered in order."""
        for event_id, event in self.state.events(self.rollout_id, self.floor):
            if event_id not in self.seen:
                self.seen.add(event_id)
                self.on_event(event_from_json(event))
        while self.floor + 1 in self.seen:
            self.floor += 1
            self.seen.discard(self.floor)
        if not self.seen:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = time.monotonic()
        elif time.monotonic() - self.gap_since > GAP_SECONDS:
            # An id that stays missing was never committed (an insert rolled back): skip it.
            self.floor = min(self.seen) - 1
            self.gap_since = None

    def _stop(self, play: int, number: int, batch: list[Target]) -> None:
        """First Ctrl-C: the rollout stops; hosts not started end ``interrupted``, running ones
        stop at their next safe point (the workers' guard reads the status)."""
        self.stopped = True
        self.state.set_status(self.rollout_id, "interrupted", "the run was interrupted")
        ended = {
            t.name: result_to_json(not_run(t, "interrupted", "not started: the run was interrupted", number))
            for t in batch
        }
        self.state.settle(self.rollout_id, play, number, ("pending", "queued"), ended)

    def _end_lost(self, key: HostKey, batch: list[Target], number: int) -> None:
        target = next(t for t in batch if t.name == key.host)
        result = HostResult(
            target.name,
            status="interrupted",
            message="interrupted: its worker was lost after the run stopped",
            batch=number,
        )
        self.state.settle(self.rollout_id, key.play, number, ("queued",), {key.host: result_to_json(result)})


# -- a worker -----------------------------------------------------------------------------------


class LeaseLost(Exception):
    """This worker no longer holds the host (the reaper gave it to another): stop, write nothing."""


class _Guard:
    """The lease guard of one host job (:class:`provisioner.engine.host.HostGuard`)."""

    def __init__(self, state: RolloutState, key: HostKey, worker: str, lease: Lease) -> None:
        self.state, self.key, self.worker, self.lease = state, key, worker, lease

    def checkpoint(self, what: str) -> None:
        status, message, held = self.state.check(self.key, self.worker)
        if not held:
            raise LeaseLost(f"{self.key.host}: lease lost before the {what} script")
        if status == "interrupted":
            raise HostFailure("interrupted", f"interrupted before the {what} script")
        if status != "running":
            raise HostFailure("halted", message or f"halted before the {what} script")

    def rebooting(self, boot_id: str, reboots: int) -> None:
        if not self.state.rebooting(self.key, self.worker, boot_id, reboots):
            raise LeaseLost(f"{self.key.host}: lease lost before the reboot")

    def rebooted(self) -> None:
        self.state.rebooted(self.key, self.worker)

    def pending_reboot(self) -> tuple[str, int] | None:
        if self.lease.reboot_from is None:
            return None
        return self.lease.reboot_from, self.lease.reboots


class ConnectCap:
    """At most ``limit`` hosts of a site connecting at once, across every worker of the site: a
    Redis sorted set of holders keyed by site (research 3.5, item 7: Celery's ``rate_limit`` is per
    worker). A holder is dropped after ``ttl`` seconds, so a worker killed while connecting frees
    its place. Held from opening a connection until its first script returns (the logon)."""

    _ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t, ARGV[2])
  return 1
end
return 0
"""

    def __init__(self, broker: str, site: str, limit: int, ttl: float = 120.0) -> None:
        import redis

        self.client = redis.Redis.from_url(broker)
        self.key, self.limit, self.ttl = f"provision:connect:{site}", limit, ttl
        self._acquire = self.client.register_script(self._ACQUIRE)

    def acquire(self) -> str:
        token = uuid.uuid4().hex
        while not self._acquire(keys=[self.key], args=[self.limit, token, self.ttl]):
            time.sleep(0.05)
        return token

    def release(self, token: str) -> None:
        self.client.zrem(self.key, token)


class _CappedConnection:
    """A connection whose place under the site's :class:`ConnectCap` is given back after its first
    script (or when it closes)."""

    def __init__(self, inner: Connection, release: Callable[[], None]) -> None:
        self.inner = inner
        self.counters: TransportCounters = inner.counters
        self._release: Callable[[], None] | None = release

    def _free(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def connect(self, *, timeout: float) -> None:
        try:
            self.inner.connect(timeout=timeout)
        finally:
            self._free()

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        try:
            return self.inner.run(script, timeout=timeout, secrets=secrets)
        finally:
            self._free()

    def close(self) -> None:
        self._free()
        self.inner.close()


@dataclass
class WorkerSettings:
    broker: str
    state: RolloutState
    sites: Sequence[str]
    concurrency: int
    vault: Vault
    connect_cap: int | None = None
    ask_pass: Callable[[], str | None] | None = None


class _Worker:
    """What a worker process shares between its job threads: the store, loaded playbooks, the
    leases it holds (renewed by one thread), the connect caps of its sites."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.state = settings.state
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._books: dict[str, Playbook] = {}
        self._lock = threading.Lock()
        self._caps: dict[str, ConnectCap] = {}
        self._held: set[HostKey] = set()
        self.renew_every = 5.0

    def book(self, rollout_id: str, job: dict[str, Any]) -> Playbook:
        with self._lock:
            if rollout_id not in self._books:
                inventory = job.get("inventory")
                self._books[rollout_id] = load_playbook(
                    Path(job["playbook"]),
                    inventory=Path(inventory) if inventory else None,
                    limit=job.get("limit"),
                    vault=self.settings.vault,
                )
                for target in self._books[rollout_id].targets:
                    # Masked in what this worker writes to the store, as the controller masks its outputs.
                    password = target.connection.password
                    SECRETS.add(password.get_secret_value() if password is not None else None)
                    if target.connection.password_env:
                        SECRETS.add(os.environ.get(target.connection.password_env))
            return self._books[rollout_id]

    def connector(self, site: str, client: Any) -> Callable[[str, ConnectionSettings], Connection]:
        from provisioner.transport.connect import Connector

        connect = Connector(self.settings.ask_pass, client)
        if self.settings.connect_cap is None:
            return connect
        with self._lock:
            cap = self._caps.setdefault(site, ConnectCap(self.settings.broker, site, self.settings.connect_cap))

        def capped(host: str, connection: ConnectionSettings) -> Connection:
            token = cap.acquire()
            try:
                inner = connect(host, connection)
            except BaseException:
                cap.release(token)
                raise
            return _CappedConnection(inner, lambda: cap.release(token))

        return capped

    def renew_forever(self) -> None:
        """Renew the leases this worker's threads hold, every third of the shortest lease it was
        given (checked every 0.1 s, so a first lease shorter than the default interval is renewed
        in time). Only hosts a thread is working on: a job that ended in any way, even one whose
        result could not be written, is let go, and the reaper queues it again."""
        last = time.monotonic()
        while True:
            time.sleep(0.1)
            if time.monotonic() - last < self.renew_every:
                continue
            last = time.monotonic()
            with self._lock:
                held = list(self._held)
            try:
                if held:
                    self.state.renew(self.id, held)
            except StateError as exc:  # the store is away: the leases may run out, the reaper recovers
                log.warning("lease renewal failed: %s", exc)

    def converge(self, key: HostKey) -> str:
        """One host job; what it did, for the worker's log."""
        lease = self.state.lease(key, self.id)
        if lease is None:
            return "ignored: not queued at this attempt, or the rollout is not running (a duplicate)"
        with self._lock:
            self._held.add(key)
            self.renew_every = min(self.renew_every, lease.lease_seconds / 3)
        try:
            try:
                result = self._run(key, lease)
            except LeaseLost as exc:
                return f"stopped: {exc}"
            except Exception as exc:  # noqa: BLE001 - the playbook failed to load here, or a bug: the host fails, the worker goes on
                result = HostResult(key.host, status="failed", message=f"worker {self.id}: {type(exc).__name__}: {exc}")
            result.batch = lease.batch
            if not self.state.complete(key, self.id, SECRETS.mask_data(result_to_json(result))):
                return "dropped: the lease was lost before the result was written"
            return result.status
        finally:
            with self._lock:
                self._held.discard(key)

    def _run(self, key: HostKey, lease: Lease) -> HostResult:
        book = self.book(key.rollout, lease.job)
        target = next((t for t in book.targets if t.play is book.plays[key.play] and t.name == key.host), None)
        if target is None or target.plan_digest != lease.plan_digest:
            return HostResult(
                key.host,
                status="failed",
                message="this worker's playbook or inventory differs from the controller's "
                "(another plan for this host); give every worker the same files",
            )
        runner = HostRunner(
            target,
            lease.kind,  # type: ignore[arg-type]
            self.connector(site_of(target), lease.job.get("winrm_client")),
            renderer=Renderer(Path(lease.job["templates"]) if lease.job.get("templates") else None),
            on_event=lambda event: self.state.event(key, SECRETS.mask_data(event_to_json(event))),
            guard=_Guard(self.state, key, self.id, lease),
        )
        # The reboots earlier deliveries made count: for the report, and for reboot.max_per_run across them.
        runner.result.reboots = lease.reboots
        try:
            return runner.run()
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in one host's run must not end the worker
            result = runner.result
            result.status, result.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
            return result


class HostJobs(Protocol):
    """What runs a host job (a worker's :class:`_Worker`): what it did, for the log."""

    def converge(self, key: HostKey) -> str: ...


def run_job(worker: HostJobs, job: dict[str, Any], *, pause: float = STORE_RETRY_SECONDS) -> None:
    """One Celery message: the host job it names. When the store is away (the lease or the result could not
    be written) the job goes back to the queue after ``pause``: a task that fails is acknowledged even under
    acks_late, and its host would stay queued with no message left, the controller waiting for it forever."""
    from celery.exceptions import Reject  # type: ignore[import-untyped]

    key = HostKey.from_json(job)
    try:
        outcome = worker.converge(key)
    except StateError as exc:
        log.warning("%s play %d attempt %d: %s; the job goes back to the queue", key.host, key.play, key.attempt, exc)
        time.sleep(pause)
        raise Reject(str(exc), requeue=True) from None
    log.info("%s play %d attempt %d: %s", key.host, key.play, key.attempt, outcome)


def worker_main(settings: WorkerSettings, *, name: str | None = None) -> None:
    """``provision worker``: consume the sites' queues with ``concurrency`` job threads until a
    signal ends the worker (Celery's warm shutdown: running jobs finish first)."""
    app = celery_app(settings.broker)
    worker = _Worker(settings)

    @app.task(name=TASK, bind=False, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def converge_host(job: dict[str, Any]) -> None:
        run_job(worker, job)

    threading.Thread(target=worker.renew_forever, name="provision-lease-renewal", daemon=True).start()
    queues = ",".join(queue_name(site) for site in settings.sites)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={settings.concurrency}",
            f"--queues={queues}",
            f"--hostname={name or 'provision-' + worker.id.replace(':', '-')}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ]
    )
