"""The run history store: SQLite (one WAL file) by default, PostgreSQL by URL for a team.

Why SQLAlchemy 2 (Core) with psycopg 3 and Alembic: one query layer for both databases, the
driver PostgreSQL's own documentation lists first for Python, and migrations that ship with the
package and run when a store is opened, so a newer ``provision`` upgrades an older store in place
and an older one refuses a newer store instead of misreading it. Core, not the ORM: rows are
written once and read in bulk, which is what Core's ``insert().values([...])`` and plain selects
do without an identity map.

A SQLite store is created, migrated and read here, and written by sqlite_writer.SqliteWriter
(the standard library's ``sqlite3``, which a run also uses alone once its file is at the schema's
head: see there why); PostgreSQL is written here. SQLite runs in WAL mode, so one controller
writes while ``provision history`` or ``report`` reads (research/containerd-scaleout-history.md 4.3).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from provisioner.state.config import DEFAULT_RETENTION_DAYS, StateError, resolve_location
from provisioner.state.records import SCHEMA_HEAD, HostRecord, RunWriter, batch_rows, login_name, result_values
from provisioner.state.sqlite_writer import BUSY_SECONDS, SQLITE_PRAGMAS, SqliteWriter
from provisioner.state.tables import (
    host_event,
    host_group,
    host_latest,
    host_result,
    host_run,
    resource_result,
    rollout,
    run,
)

__all__ = ["Store", "redact_url"]

Clock = Callable[[], datetime]


def redact_url(location: str) -> str:
    """A store's name for messages: a URL with its password replaced by ``***``."""
    if "://" not in location:
        return location
    try:
        url = sa.make_url(location)
        return location if url.password is None else url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown without anything after the scheme
        return location.split("://", 1)[0] + "://..."


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


MIGRATION_LOCK = 0x70726F76
"""The PostgreSQL advisory lock key migrations hold ("prov")."""


def _migrate(connection: Connection) -> None:
    """Bring the schema to this version's head with the packaged Alembic scripts."""
    if sa.inspect(connection).has_table("alembic_version"):
        current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        if current == [SCHEMA_HEAD]:
            return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    location = str(resources.files("provisioner.state") / "migrations")
    config = Config()
    config.set_main_option("script_location", location)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_heads()
    heads = set(script.get_heads())
    if set(current) == heads:
        return
    known = {rev.revision for rev in script.walk_revisions()}
    if any(rev not in known for rev in current):
        raise StateError(
            f"the store's schema ({', '.join(current)}) is newer than this provision knows: upgrade provision"
        )
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Store:
    """A run history. Thread-safe: the rollout's forks hand results in from their threads."""

    def __init__(self, engine: Engine, name: str, clock: Clock | None = None) -> None:
        self.engine = engine
        self.name = name
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._writes: RunWriter
        """Where a run's rows go: SQLite's writer on the same file, or SQLAlchemy Core for PostgreSQL."""
        if engine.dialect.name == "sqlite":
            args, options = engine.dialect.create_connect_args(engine.url)
            self._writes = SqliteWriter.connect(args[0], name, self.clock, uri=bool(options.get("uri")))
        else:
            self._writes = _CoreWriter(engine, name, self.clock)

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, location: str | Path | None = None, *, clock: Clock | None = None, pool_size: int | None = None
    ) -> Store:
        """Open (creating and migrating) the store at a path or URL; default: ``PROVISION_STATE``,
        else :func:`default_location`. Raises :class:`StateError` with one line naming the store.
        ``pool_size``: PostgreSQL connections kept open, for a process whose threads all use the
        store (a Celery worker: one per job thread, plus its lease renewal)."""
        text = resolve_location(location)
        name = redact_url(text)
        try:
            engine = cls._engine(text, pool_size)
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Several processes may open a new store at once (a controller and its workers
                    # starting together): one migrates, the others wait for it, then find it done.
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                _migrate(connection)
        except StateError as exc:
            raise StateError(f"state store {name}: {exc}") from None
        except (SQLAlchemyError, OSError, ValueError, ImportError) as exc:
            raise StateError(f"state store {name}: {_cause(exc)}") from None
        try:
            return cls(engine, name, clock)
        except StateError:
            engine.dispose()
            raise

    @staticmethod
    def _engine(text: str, pool_size: int | None = None) -> Engine:
        if "://" in text:
            url = sa.make_url(text)
            if url.drivername in {"postgresql", "postgres"}:
                url = url.set(drivername="postgresql+psycopg")
            if url.get_backend_name() == "sqlite":
                return Store._sqlite(url)
            if url.get_backend_name() != "postgresql":
                raise ValueError(f"unsupported store {url.drivername!r}: use a file path, sqlite:/// or postgresql://")
            sizing = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 2}
            return sa.create_engine(url, pool_pre_ping=True, **sizing)
        path = Path(text).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create its directory {path.parent}: {exc.strerror}") from None
        return Store._sqlite(sa.URL.create("sqlite", database=str(path)))

    @staticmethod
    def _sqlite(url: sa.URL) -> Engine:
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_SECONDS})

        @sa.event.listens_for(engine, "connect")
        def pragmas(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        return engine

    def close(self) -> None:
        self._writes.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- writing ---------------------------------------------------------------------------------

    def begin_run(self, *, kind: str, playbook: str, actor: str | None = None, run_id: str | None = None) -> str:
        """Insert the run's row and return its id. Called before any host is contacted, so a
        store that cannot be written stops the run before it starts."""
        return self._writes.begin_run(kind=kind, playbook=playbook, actor=actor, run_id=run_id)

    def finish_run(self, run_id: str, *, exit_code: int, summary: Mapping[str, int]) -> None:
        """Close the run: when it ended, its exit code and its counts by status."""
        self._writes.finish_run(run_id, exit_code=exit_code, summary=summary)

    def record(self, run_id: str, records: Sequence[HostRecord]) -> None:
        """Insert host results of a run (one transaction), with each resource's change kind
        (records.batch_rows)."""
        self._writes.record(run_id, records)

    def prune(self, days: int = DEFAULT_RETENTION_DAYS) -> int:
        """Delete runs older than ``days`` and ended rollouts as old (see the writers); returns the
        number of host results deleted."""
        return self._writes.prune(days)

    # -- reading ---------------------------------------------------------------------------------

    def runs(self, *, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        """Runs in order of start, with ``since``/``until`` bounds (inclusive)."""
        query = sa.select(run).order_by(run.c.started, run.c.id)
        if since is not None:
            query = query.where(run.c.started >= since)
        if until is not None:
            query = query.where(run.c.started <= until)
        with self.engine.connect() as connection:
            return [_run_row(dict(row._mapping)) for row in connection.execute(query)]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id or by a unique prefix of it (as ``git`` takes commits)."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(run).where(run.c.id.startswith(run_id, autoescape=True)).limit(2)).all()
        if len(rows) != 1:
            return None
        return _run_row(dict(rows[0]._mapping))

    def status_counts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Hosts per status for each run, counted by the database (the report's trend chart)."""
        counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        if not run_ids:
            return counts
        query = (
            sa.select(host_result.c.run_id, host_result.c.status, sa.func.count())
            .where(host_result.c.run_id.in_(list(run_ids)))
            .group_by(host_result.c.run_id, host_result.c.status)
        )
        with self.engine.connect() as connection:
            for run_id, status, count in connection.execute(query):
                counts[run_id][status] = count
        return counts

    def results(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        hosts: Sequence[str] | None = None,
        group: str | None = None,
        site: str | None = None,
        facts: bool = False,
        groups: bool = True,
    ) -> list[dict[str, Any]]:
        """Host results (with their resource rows, and their groups unless ``groups`` is false: a
        month of a fleet has three times more group rows than results) in order of run start, then host."""
        conditions: list[sa.ColumnElement[bool]] = []
        if run_ids is not None:
            conditions.append(host_result.c.run_id.in_(list(run_ids)))
        if since is not None:
            conditions.append(host_result.c.started >= since)
        if hosts:
            conditions.append(host_result.c.host.in_(list(hosts)))
        if site is not None:
            conditions.append(host_result.c.site == site)
        if group is not None:
            conditions.append(host_result.c.id.in_(sa.select(host_group.c.result_id).where(host_group.c.name == group)))
        columns = [c for c in host_result.c if facts or c.name not in {"facts", "verify"}]
        query = (
            sa.select(*columns).where(*conditions).order_by(host_result.c.started, host_result.c.host, host_result.c.id)
        )
        # Children by the same conditions as a subquery, not by a list of ids: 30,000 bound
        # parameters cost more to compile than the query takes to run.
        selected = sa.select(host_result.c.id).where(*conditions)
        with self.engine.connect() as connection:
            result = connection.execute(query)
            keys = list(result.keys())
            rows = [dict(zip(keys, row, strict=True)) for row in result]
            by_id = {row["id"]: row for row in rows}
            for row in rows:
                row["started"] = _utc(row["started"])
                row["groups"], row["resources"] = [], []
            if groups:
                membership = (
                    sa.select(host_group).where(host_group.c.result_id.in_(selected)).order_by(host_group.c.name)
                )
                for result_id, name in connection.execute(membership):
                    by_id[result_id]["groups"].append(name)
            children = (
                sa.select(resource_result)
                .where(resource_result.c.result_id.in_(selected))
                .order_by(resource_result.c.id)
            )
            result = connection.execute(children)
            keys = list(result.keys())
            for child in result:
                item = dict(zip(keys, child, strict=True))
                by_id[item.pop("result_id")]["resources"].append(item)
        return rows

    def groups(self, result_ids: Sequence[int]) -> dict[int, list[str]]:
        """The inventory groups of some host results, by result id."""
        found: dict[int, list[str]] = {result_id: [] for result_id in result_ids}
        with self.engine.connect() as connection:
            for start in range(0, len(result_ids), 5000):
                chunk = list(result_ids[start : start + 5000])
                query = sa.select(host_group).where(host_group.c.result_id.in_(chunk)).order_by(host_group.c.name)
                for result_id, name in connection.execute(query):
                    found[result_id].append(name)
        return found


class _CoreWriter:
    """PostgreSQL's writes, on SQLAlchemy Core (a SQLite store's are sqlite_writer.SqliteWriter's).
    Thread-safe: a run's writer thread records while its main thread opens and closes the run."""

    def __init__(self, engine: Engine, name: str, clock: Clock) -> None:
        self.engine = engine
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing of its own: the store disposes of the engine."""

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        with self._lock:
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except SQLAlchemyError as exc:
                raise StateError(f"state store {self.name}: {_cause(exc)}") from None

    def begin_run(self, *, kind: str, playbook: str, actor: str | None = None, run_id: str | None = None) -> str:
        """Insert the run's row and return its id. Called before any host is contacted, so a
        store that cannot be written stops the run before it starts."""
        identifier = run_id or uuid.uuid4().hex
        values = {
            "id": identifier,
            "kind": kind,
            "playbook": playbook,
            "actor": actor or login_name(),
            "started": self.clock(),
        }
        self._write(lambda connection: connection.execute(run.insert().values(**values)))
        return identifier

    def finish_run(self, run_id: str, *, exit_code: int, summary: Mapping[str, int]) -> None:
        """Close the run: when it ended, its exit code and its counts by status."""
        values = {"finished": self.clock(), "exit_code": exit_code, "summary": dict(summary)}
        self._write(
            lambda connection: connection.execute(
                run.update().where(run.c.id == run_id, run.c.finished.is_(None)).values(**values)
            )
        )

    def record(self, run_id: str, records: Sequence[HostRecord]) -> None:
        """Insert host results of a run (one transaction), with each resource's change kind
        (records.batch_rows)."""
        batch = list(records)
        if batch:
            self._write(lambda connection: self._record(connection, run_id, batch))

    def _record(self, connection: Connection, run_id: str, records: list[HostRecord]) -> None:
        """A handful of statements whatever the number of records (multi-row inserts),
        so a batch of hosts costs about what one host does in round trips."""
        started = connection.execute(sa.select(run.c.started).where(run.c.id == run_id)).scalar_one_or_none()
        if started is None:
            raise StateError(f"state store {self.name}: no run {run_id}")
        keys = [(r.host, r.play) for r in records]
        latest = {
            (row.host, row.play): (row.observed_id, row.observed_digest)
            for row in connection.execute(
                sa.select(host_latest).where(sa.tuple_(host_latest.c.host, host_latest.c.play).in_(keys))
            )
        }
        observed_ids = [observed_id for observed_id, _ in latest.values() if observed_id is not None]
        prior: dict[int, dict[str, str]] = {}
        if observed_ids:
            for row in connection.execute(
                sa.select(resource_result.c.result_id, resource_result.c.resource, resource_result.c.change_kind).where(
                    resource_result.c.result_id.in_(observed_ids), resource_result.c.status == "drift"
                )
            ):
                prior.setdefault(row.result_id, {})[row.resource] = row.change_kind
        inserted = connection.execute(
            host_result.insert().returning(host_result.c.id, sort_by_parameter_order=True),
            [result_values(run_id, started, record) for record in records],
        )
        rows = batch_rows(records, [row[0] for row in inserted], latest, prior)
        memberships, children = rows.memberships, rows.resources
        fresh, moved_observed, moved = rows.latest_new, rows.latest_observed, rows.latest_unobserved
        if memberships:
            connection.execute(host_group.insert(), memberships)
        if children:
            connection.execute(resource_result.insert(), children)
        if fresh:
            connection.execute(
                host_latest.insert().values(
                    host=sa.bindparam("k_host"),
                    play=sa.bindparam("k_play"),
                    result_id=sa.bindparam("v_result"),
                    observed_id=sa.bindparam("v_observed"),
                    observed_digest=sa.bindparam("v_digest"),
                ),
                fresh,
            )
        where = (host_latest.c.host == sa.bindparam("k_host"), host_latest.c.play == sa.bindparam("k_play"))
        if moved_observed:
            connection.execute(
                host_latest.update()
                .where(*where)
                .values(
                    result_id=sa.bindparam("v_result"),
                    observed_id=sa.bindparam("v_observed"),
                    observed_digest=sa.bindparam("v_digest"),
                ),
                moved_observed,
            )
        if moved:
            # A result that observed nothing (failed, unreachable, ...) keeps the last observed one.
            connection.execute(
                host_latest.update().where(*where).values(result_id=sa.bindparam("v_result")),
                [{"k_host": r["k_host"], "k_play": r["k_play"], "v_result": r["v_result"]} for r in moved],
            )

    def prune(self, days: int) -> int:
        """Delete runs older than ``days`` (by start), keeping every host's latest and latest
        observed result and so the runs holding them, and the ended rollouts of the Celery executor
        older than that; returns the number of host results deleted."""
        cutoff = self.clock() - timedelta(days=days)

        def work(connection: Connection) -> int:
            kept = sa.union(
                sa.select(host_latest.c.result_id),
                sa.select(host_latest.c.observed_id).where(host_latest.c.observed_id.is_not(None)),
            ).subquery()
            doomed = sa.select(host_result.c.id).where(
                host_result.c.started < cutoff, host_result.c.id.not_in(sa.select(kept.c[0]))
            )
            ids = [row[0] for row in connection.execute(doomed)]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                connection.execute(resource_result.delete().where(resource_result.c.result_id.in_(chunk)))
                connection.execute(host_group.delete().where(host_group.c.result_id.in_(chunk)))
                connection.execute(host_result.delete().where(host_result.c.id.in_(chunk)))
            connection.execute(
                run.delete().where(run.c.started < cutoff, run.c.id.not_in(sa.select(host_result.c.run_id).distinct()))
            )
            # The Celery executor's rollouts (their leases and events) once they ended, by the same age:
            # its results are in the runs above; a rollout still running may yet be resumed.
            ended = sa.select(rollout.c.id).where(rollout.c.created < cutoff, rollout.c.status != "running")
            connection.execute(host_event.delete().where(host_event.c.rollout_id.in_(ended)))
            connection.execute(host_run.delete().where(host_run.c.rollout_id.in_(ended)))
            connection.execute(rollout.delete().where(rollout.c.created < cutoff, rollout.c.status != "running"))
            return len(ids)

        deleted: int = self._write(work)
        return deleted


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    row["started"] = _utc(row["started"])
    row["finished"] = _utc(row["finished"]) if row["finished"] is not None else None
    return row


def _cause(exc: BaseException) -> str:
    """One line for an exception from the database layer, without the SQL statement or parameters
    (they may carry values) and without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
