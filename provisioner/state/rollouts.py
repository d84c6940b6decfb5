"""The Celery executor's rollout state in the store (PostgreSQL): rollouts, per-host leases, events.

Every method is one short transaction and none is held across host I/O: a worker's job threads,
its lease renewal and the controller's poll each take a pooled connection for a statement or two
and give it back (an earlier attempt held connections while waiting, and its workers hung on an
exhausted pool). Times are the database's ``now()``, so the clocks of the controller's and the
workers' machines never have to agree.

The guards are in the ``WHERE`` clauses (research/containerd-scaleout-history.md 3.5): a worker
leases a host only if it is ``queued`` at the attempt the message names and the rollout is
``running``; it writes a result only while it still holds that lease. So a duplicate message, a
message for a host the reaper gave to another worker, or one for a halted rollout does nothing,
whatever Celery delivered.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from provisioner.state.config import STATE_ENV, StateError, default_location
from provisioner.state.store import Store, _cause, redact_url
from provisioner.state.tables import host_event, host_run, rollout

__all__ = ["HostKey", "Lease", "PlannedHost", "RolloutState", "open_rollouts", "rollout_digest"]


@dataclass(frozen=True)
class HostKey:
    """One host of one play of one rollout, at one attempt: what a Celery message carries."""

    rollout: str
    play: int
    host: str
    attempt: int

    def to_json(self) -> dict[str, Any]:
        return {"rollout": self.rollout, "play": self.play, "host": self.host, "attempt": self.attempt}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostKey:
        return cls(str(data["rollout"]), int(data["play"]), str(data["host"]), int(data["attempt"]))


@dataclass(frozen=True)
class PlannedHost:
    play: int
    host: str
    batch: int
    site: str
    plan_digest: str


@dataclass(frozen=True)
class Lease:
    """What a worker learns when it leases a host."""

    kind: str
    job: dict[str, Any]
    batch: int
    lease_seconds: float
    plan_digest: str
    reboot_from: str | None
    reboots: int


def rollout_digest(kind: str, job: dict[str, Any], hosts: Sequence[PlannedHost]) -> str:
    """Identifies "the same rollout": a controller started again with the same command over the
    same plans resumes the one its predecessor left running."""
    text = json.dumps(
        {"kind": kind, "job": job, "hosts": [[h.play, h.host, h.plan_digest] for h in hosts]}, sort_keys=True
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def open_rollouts(location: str | None, *, pool_size: int | None = None) -> RolloutState:
    """The rollout state in the store at ``location`` (``--state``, else ``PROVISION_STATE``);
    refuses SQLite, which is one machine's file: workers on other machines cannot share it."""
    text = location or os.environ.get(STATE_ENV) or str(default_location())
    if not text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        # Refused before it is opened: opening a SQLite store would create the file.
        raise StateError(
            f"state store {redact_url(text)}: the Celery executor keeps its rollout state in PostgreSQL, which "
            "the controller and every worker share; SQLite is a file on one machine. "
            "Give --state postgresql://USER@HOST/DB (or PROVISION_STATE)"
        )
    return RolloutState(Store.open(text, pool_size=pool_size))


def _lease_end() -> sa.ColumnElement[Any]:
    """``now()`` plus the rollout's lease, inside an ``UPDATE host_run ... FROM rollout``."""
    return sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, rollout.c.lease_seconds)


class RolloutState:
    """Reads and writes of the rollout tables; thread-safe (each call takes its own connection)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.name = store.name

    def close(self) -> None:
        self.store.close()

    def _do(self, work: Any, *, transaction: bool = True) -> Any:
        """``work(connection)``, in one transaction unless it only reads (the polls); a store error is a
        one-line StateError."""
        try:
            with self.store.engine.begin() if transaction else self.store.engine.connect() as connection:
                return work(connection)
        except SQLAlchemyError as exc:
            raise StateError(f"state store {self.name}: {_cause(exc)}") from None

    # -- the controller ----------------------------------------------------------------------

    def start(
        self,
        *,
        rollout_id: str,
        digest: str,
        kind: str,
        job: dict[str, Any],
        lease_seconds: float,
        controller: str,
        hosts: Sequence[PlannedHost],
    ) -> tuple[str, bool]:
        """The running rollout with this digest (resumed), else a new one: (id, resumed). Raises
        StateError when another controller still holds the running one."""

        def work(connection: Connection) -> tuple[str, bool]:
            found = connection.execute(
                sa.select(rollout.c.id, rollout.c.controller, rollout.c.controller_until, sa.func.now())
                .where(rollout.c.digest == digest, rollout.c.status == "running")
                .order_by(rollout.c.created.desc())
                .limit(1)
                .with_for_update()
            ).first()
            if found is not None:
                if found.controller_until > found[3] and found.controller != controller:
                    raise StateError(
                        f"rollout {found.id[:12]} of this playbook is being run by controller {found.controller} "
                        f"(its lease ends {found.controller_until.isoformat(timespec='seconds')}); "
                        "wait for it to end, or for its lease to run out if it died"
                    )
                connection.execute(
                    rollout.update()
                    .where(rollout.c.id == found.id)
                    .values(controller=controller, controller_until=sa.func.now() + _seconds(lease_seconds))
                )
                return found.id, True
            connection.execute(
                rollout.insert().values(
                    id=rollout_id,
                    digest=digest,
                    kind=kind,
                    job=job,
                    status="running",
                    message="",
                    lease_seconds=lease_seconds,
                    controller=controller,
                    controller_until=sa.func.now() + _seconds(lease_seconds),
                    created=sa.func.now(),
                )
            )
            if hosts:
                connection.execute(
                    host_run.insert(),
                    [
                        {
                            "rollout_id": rollout_id,
                            "play": h.play,
                            "host": h.host,
                            "batch": h.batch,
                            "site": h.site,
                            "plan_digest": h.plan_digest,
                            "state": "pending",
                            "attempt": 0,
                            "reboots": 0,
                        }
                        for h in hosts
                    ],
                )
            return rollout_id, False

        result: tuple[str, bool] = self._do(work)
        return result

    def hold(self, rollout_id: str, controller: str, seconds: float) -> None:
        """Renew the controller's lease on the rollout (a successor waits for it to run out)."""
        self._do(
            lambda c: c.execute(
                rollout.update()
                .where(rollout.c.id == rollout_id, rollout.c.controller == controller)
                .values(controller_until=sa.func.now() + _seconds(seconds))
            )
        )

    def set_status(self, rollout_id: str, status: str, message: str = "") -> None:
        self._do(
            lambda c: c.execute(
                rollout.update().where(rollout.c.id == rollout_id).values(status=status, message=message)
            )
        )

    def release(self, rollout_id: str, controller: str) -> None:
        """The controller ends cleanly: its lease ends now."""
        self._do(
            lambda c: c.execute(
                rollout.update()
                .where(rollout.c.id == rollout_id, rollout.c.controller == controller)
                .values(controller_until=sa.func.now())
            )
        )

    def queue(self, rollout_id: str, play: int, batch: int) -> list[tuple[HostKey, str]]:
        """Move a batch's pending hosts to ``queued`` (attempt 1) and return every queued host of the
        batch with its site: those are (re)sent; a resend of one already sent is a harmless duplicate."""

        def work(connection: Connection) -> list[tuple[HostKey, str]]:
            where = (host_run.c.rollout_id == rollout_id, host_run.c.play == play, host_run.c.batch == batch)
            connection.execute(
                host_run.update()
                .where(*where, host_run.c.state == "pending")
                .values(state="queued", attempt=host_run.c.attempt + 1)
            )
            rows = connection.execute(
                sa.select(host_run.c.host, host_run.c.attempt, host_run.c.site).where(
                    *where, host_run.c.state == "queued"
                )
            )
            return [(HostKey(rollout_id, play, row.host, row.attempt), row.site) for row in rows]

        result: list[tuple[HostKey, str]] = self._do(work)
        return result

    def reap(self, rollout_id: str) -> list[tuple[HostKey, str]]:
        """Leases that ran out (a worker died or lost the store): back to ``queued`` at the next
        attempt, returned to be sent again. The old attempt's message, if Celery redelivers it,
        finds the attempt changed and does nothing."""

        def work(connection: Connection) -> list[tuple[HostKey, str]]:
            rows = connection.execute(
                host_run.update()
                .where(
                    host_run.c.rollout_id == rollout_id,
                    host_run.c.state == "leased",
                    host_run.c.lease_until < sa.func.now(),
                )
                .values(state="queued", attempt=host_run.c.attempt + 1, worker=None, lease_until=None)
                .returning(host_run.c.play, host_run.c.host, host_run.c.attempt, host_run.c.site)
            )
            return [(HostKey(rollout_id, row.play, row.host, row.attempt), row.site) for row in rows]

        result: list[tuple[HostKey, str]] = self._do(work)
        return result

    def settle(
        self, rollout_id: str, play: int, batch: int, states: Iterable[str], results: dict[str, Any]
    ) -> list[str]:
        """End the batch's hosts still in ``states`` with the given result JSON by host (hosts that
        will not run: interrupted before they started, or whose worker was lost after a halt)."""

        def work(connection: Connection) -> list[str]:
            ended: list[str] = []
            rows = connection.execute(
                sa.select(host_run.c.host).where(
                    host_run.c.rollout_id == rollout_id,
                    host_run.c.play == play,
                    host_run.c.batch == batch,
                    host_run.c.state.in_(list(states)),
                    # Only the hosts given: one lost host is settled alone while others still run.
                    host_run.c.host.in_(list(results)),
                )
            ).all()
            for row in rows:
                done = connection.execute(
                    host_run.update()
                    .where(
                        host_run.c.rollout_id == rollout_id,
                        host_run.c.play == play,
                        host_run.c.host == row.host,
                        host_run.c.state.in_(list(states)),
                    )
                    .values(state="done", worker=None, lease_until=None, result=results[row.host])
                )
                if done.rowcount:
                    ended.append(row.host)
            return ended

        result: list[str] = self._do(work)
        return result

    def batch(
        self, rollout_id: str, play: int, batch: int, skip: Iterable[str] = ()
    ) -> dict[str, dict[str, Any] | None]:
        """Each host of a batch with its result once ``done`` (None before). Results of the hosts in
        ``skip`` (already delivered) are not read again: the controller polls this several times a
        second, and a result with its facts is a few kilobytes."""
        skipped = set(skip)

        def work(connection: Connection) -> dict[str, dict[str, Any] | None]:
            where = (host_run.c.rollout_id == rollout_id, host_run.c.play == play, host_run.c.batch == batch)
            states = connection.execute(sa.select(host_run.c.host, host_run.c.state).where(*where)).all()
            wanted = [row.host for row in states if row.state == "done" and row.host not in skipped]
            found: dict[str, dict[str, Any] | None] = {row.host: None for row in states}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in connection.execute(
                    sa.select(host_run.c.host, host_run.c.result).where(*where, host_run.c.host.in_(chunk))
                ):
                    found[row.host] = row.result
            return found

        result: dict[str, dict[str, Any] | None] = self._do(work, transaction=False)
        return result

    def events(self, rollout_id: str, after: int) -> list[tuple[int, dict[str, Any]]]:
        """The rollout's events after id ``after``, in order."""

        def work(connection: Connection) -> list[tuple[int, dict[str, Any]]]:
            rows = connection.execute(
                sa.select(host_event)
                .where(host_event.c.rollout_id == rollout_id, host_event.c.id > after)
                .order_by(host_event.c.id)
            )
            return [
                (row.id, {"host": row.host, "kind": row.kind, "message": row.message, "data": row.data}) for row in rows
            ]

        result: list[tuple[int, dict[str, Any]]] = self._do(work, transaction=False)
        return result

    # -- a worker ----------------------------------------------------------------------------

    def lease(self, key: HostKey, worker: str) -> Lease | None:
        """Take the host for this attempt, or None: already taken (a duplicate), re-queued at a
        later attempt, ended, or the rollout is no longer running."""

        def work(connection: Connection) -> Lease | None:
            row = connection.execute(
                host_run.update()
                .where(
                    host_run.c.rollout_id == rollout.c.id,
                    rollout.c.status == "running",
                    host_run.c.rollout_id == key.rollout,
                    host_run.c.play == key.play,
                    host_run.c.host == key.host,
                    host_run.c.attempt == key.attempt,
                    host_run.c.state == "queued",
                )
                .values(state="leased", worker=worker, lease_until=_lease_end())
                .returning(
                    rollout.c.kind,
                    rollout.c.job,
                    host_run.c.batch,
                    rollout.c.lease_seconds,
                    host_run.c.plan_digest,
                    host_run.c.reboot_from,
                    host_run.c.reboots,
                )
            ).first()
            if row is None:
                return None
            return Lease(row.kind, row.job, row.batch, row.lease_seconds, row.plan_digest, row.reboot_from, row.reboots)

        result: Lease | None = self._do(work)
        return result

    def renew(self, worker: str, keys: Sequence[HostKey]) -> int:
        """Extend this worker's leases of ``keys`` (its renewal thread); the number renewed."""

        def work(connection: Connection) -> int:
            done = connection.execute(
                host_run.update()
                .where(
                    host_run.c.rollout_id == rollout.c.id,
                    host_run.c.worker == worker,
                    host_run.c.state == "leased",
                    sa.tuple_(host_run.c.rollout_id, host_run.c.play, host_run.c.host, host_run.c.attempt).in_(
                        [(k.rollout, k.play, k.host, k.attempt) for k in keys]
                    ),
                )
                .values(lease_until=_lease_end())
            )
            return int(done.rowcount)

        result: int = self._do(work)
        return result

    def check(self, key: HostKey, worker: str) -> tuple[str, str, bool]:
        """(rollout status, its message, whether this worker still holds the host's lease)."""
        row = self._do(
            lambda connection: connection.execute(
                sa.select(rollout.c.status, rollout.c.message, host_run.c.worker, host_run.c.attempt, host_run.c.state)
                .join(host_run, host_run.c.rollout_id == rollout.c.id)
                .where(rollout.c.id == key.rollout, host_run.c.play == key.play, host_run.c.host == key.host)
            ).first(),
            transaction=False,
        )
        if row is None:
            return "gone", "", False
        held = row.worker == worker and row.attempt == key.attempt and row.state == "leased"
        return row.status, row.message, held

    def _mine(self, key: HostKey, worker: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (
            host_run.c.rollout_id == key.rollout,
            host_run.c.play == key.play,
            host_run.c.host == key.host,
            host_run.c.attempt == key.attempt,
            host_run.c.worker == worker,
            host_run.c.state == "leased",
        )

    def rebooting(self, key: HostKey, worker: str, boot_id: str, reboots: int) -> bool:
        """Record the boot id a reboot is issued from, and the host's reboots counting this one; False when
        this worker no longer holds the host (then it must not reboot it: another delivery may)."""
        result: bool = self._do(
            lambda c: (
                c.execute(
                    host_run.update().where(*self._mine(key, worker)).values(reboot_from=boot_id, reboots=reboots)
                ).rowcount
                == 1
            )
        )
        return result

    def rebooted(self, key: HostKey, worker: str) -> None:
        """The host is back from the recorded reboot."""
        self._do(lambda c: c.execute(host_run.update().where(*self._mine(key, worker)).values(reboot_from=None)))

    def event(self, key: HostKey, event: dict[str, Any]) -> None:
        self._do(
            lambda c: c.execute(
                host_event.insert().values(
                    rollout_id=key.rollout,
                    host=event["host"],
                    kind=event["kind"],
                    message=event["message"],
                    data=event["data"],
                )
            )
        )

    def complete(self, key: HostKey, worker: str, result: dict[str, Any]) -> bool:
        """Write the host's result if this worker still holds its lease; False if it was lost."""

        def work(connection: Connection) -> bool:
            done = connection.execute(
                host_run.update()
                .where(*self._mine(key, worker))
                .values(state="done", result=result, lease_until=None, reboot_from=None)
            )
            return bool(done.rowcount)

        result_: bool = self._do(work)
        return result_


def _seconds(seconds: float) -> sa.ColumnElement[Any]:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)
