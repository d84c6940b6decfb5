"""The run history's writes to a SQLite file, through the standard library's ``sqlite3``.

Why not SQLAlchemy here: ``provision check`` on 1,000 hosts spent 0.57 s of CPU on its history
(3.00 s against 2.43 s with ``--no-state``, bench/fleet.py on one lab): importing SQLAlchemy (0.1 to
0.2 s), and per row its statement compilation and parameter processing, in the fork threads' GIL.
A run writes five kinds of rows with a handful of fixed statements, which ``sqlite3`` executes
directly. SQLAlchemy (store.py) still creates and migrates the file, reads it (``provision history``,
``report``) and writes PostgreSQL; for a SQLite store it hands its writes to this class, so SQLite
has one writer and the store tests cover it. A run whose file is not yet at the schema's head opens
the full store instead (store.Store.open migrates), so this module never creates or upgrades a schema.

The rows are what SQLAlchemy's types make of the same values: timestamps as SQLite's
``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC, JSON columns as ``json.dumps`` text (``None`` as ``null``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from provisioner.state.config import StateError
from provisioner.state.records import SCHEMA_HEAD, HostRecord, batch_rows, login_name, result_values

__all__ = ["SQLITE_PRAGMAS", "SqliteWriter", "sqlite_time"]

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")
"""Every connection to a store file, SQLAlchemy's too: WAL lets ``provision history`` read while a run
writes ("readers do not block writers and a writer does not block readers", sqlite.org/wal.html),
``synchronous=NORMAL`` is WAL's documented durable-enough setting (a power cut may lose the last
transaction, never corrupt the file)."""

BUSY_SECONDS = 30.0
"""How long a write waits for another process's transaction on the same file."""

_CHUNK = 500
"""Bound parameters per ``IN (...)``: under SQLite's limit of 999 before 3.32."""

_RESULT_COLUMNS = tuple(result_values("", "", HostRecord("", "", "", "")))
_INSERT_RESULT = (
    f"INSERT INTO host_result ({', '.join(_RESULT_COLUMNS)}) VALUES ({', '.join(':' + c for c in _RESULT_COLUMNS)})"
)
_INSERT_RESOURCE = (
    "INSERT INTO resource_result (result_id, resource, type, status, change_kind, diff, message) "
    "VALUES (:result_id, :resource, :type, :status, :change_kind, :diff, :message)"
)
_KEPT = "SELECT result_id FROM host_latest UNION SELECT observed_id FROM host_latest WHERE observed_id IS NOT NULL"
_ENDED_ROLLOUTS = "SELECT id FROM rollout WHERE created < :cutoff AND status != 'running'"

Clock = Callable[[], datetime]


def sqlite_time(value: datetime) -> str:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it (and compares it: as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class SqliteWriter:
    """Writes runs to one SQLite store file. Thread-safe: a run's writer thread records while its
    main thread opens and closes the run."""

    def __init__(self, connection: sqlite3.Connection, name: str, clock: Clock) -> None:
        self.connection = connection
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, database: str, name: str, clock: Clock, *, uri: bool = False) -> SqliteWriter:
        """A writer on ``database`` (a path, or a ``file:`` URI with ``uri``); raises StateError."""
        try:
            connection = sqlite3.connect(
                database, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False, uri=uri
            )
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
        except sqlite3.Error as exc:
            raise StateError(f"state store {name}: {_cause(exc)}") from None
        return cls(connection, name, clock)

    @classmethod
    def at_head(cls, path: Path, name: str, clock: Clock) -> SqliteWriter | None:
        """A writer on an existing store file whose schema is this version's; None when the file is
        missing, is no store, or needs migrating: store.Store.open then creates, migrates or refuses it."""
        if not path.is_file():
            return None
        try:
            writer = cls.connect(str(path), name, clock)
        except StateError:
            return None
        try:
            versions = [row[0] for row in writer.connection.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.Error:
            versions = []
        if versions != [SCHEMA_HEAD]:
            writer.close()
            return None
        return writer

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, begun IMMEDIATE: it takes the file's write lock before it reads
        the rows it builds on (``host_latest``), so another controller cannot move them in between."""
        with self._lock:
            try:
                self.connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self.connection
                except BaseException:
                    self.connection.execute("ROLLBACK")
                    raise
                self.connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"state store {self.name}: {_cause(exc)}") from None

    def begin_run(self, *, kind: str, playbook: str, actor: str | None = None, run_id: str | None = None) -> str:
        """Insert the run's row and return its id (before any host is contacted, so a store that
        cannot be written stops the run before it starts)."""
        identifier = run_id or uuid.uuid4().hex
        with self._transaction() as db:
            db.execute(
                "INSERT INTO run (id, kind, playbook, actor, started) VALUES (?, ?, ?, ?, ?)",
                (identifier, kind, playbook, actor or login_name(), sqlite_time(self.clock())),
            )
        return identifier

    def finish_run(self, run_id: str, *, exit_code: int, summary: Mapping[str, int]) -> None:
        """Close the run (once): when it ended, its exit code and its counts by status."""
        with self._transaction() as db:
            db.execute(
                "UPDATE run SET finished = ?, exit_code = ?, summary = ? WHERE id = ? AND finished IS NULL",
                (sqlite_time(self.clock()), exit_code, json.dumps(dict(summary)), run_id),
            )

    def record(self, run_id: str, records: Sequence[HostRecord]) -> None:
        """Insert host results of a run in one transaction (records.batch_rows decides their rows)."""
        batch = list(records)
        if not batch:
            return
        with self._transaction() as db:
            found = db.execute("SELECT started FROM run WHERE id = ?", (run_id,)).fetchone()
            if found is None:
                raise StateError(f"state store {self.name}: no run {run_id}")
            keys = {(r.host, r.play) for r in batch}
            latest: dict[tuple[str, str], tuple[int | None, str | None]] = {}
            for hosts in _chunks(sorted({host for host, _ in keys})):
                query = (
                    f"SELECT host, play, observed_id, observed_digest FROM host_latest WHERE host IN ({_marks(hosts)})"
                )
                for host, play, observed_id, observed_digest in db.execute(query, hosts):
                    if (host, play) in keys:
                        latest[(host, play)] = (observed_id, observed_digest)
            prior: dict[int, dict[str, str]] = {}
            observed_ids = sorted({i for i, _ in latest.values() if i is not None})
            for ids in _chunks(observed_ids):
                query = (
                    "SELECT result_id, resource, change_kind FROM resource_result "
                    f"WHERE status = 'drift' AND result_id IN ({_marks(ids)})"
                )
                for result_id, resource, change_kind in db.execute(query, ids):
                    prior.setdefault(result_id, {})[resource] = change_kind
            inserted = []
            for record in batch:
                values = result_values(run_id, found[0], record)
                values["facts"], values["verify"] = json.dumps(values["facts"]), json.dumps(values["verify"])
                cursor = db.execute(_INSERT_RESULT, values)
                inserted.append(int(cursor.lastrowid or 0))
            rows = batch_rows(batch, inserted, latest, prior)
            db.executemany("INSERT INTO host_group (result_id, name) VALUES (:result_id, :name)", rows.memberships)
            db.executemany(_INSERT_RESOURCE, [{**row, "diff": json.dumps(row["diff"])} for row in rows.resources])
            db.executemany(
                "INSERT INTO host_latest (host, play, result_id, observed_id, observed_digest) "
                "VALUES (:k_host, :k_play, :v_result, :v_observed, :v_digest)",
                rows.latest_new,
            )
            db.executemany(
                "UPDATE host_latest SET result_id = :v_result, observed_id = :v_observed, "
                "observed_digest = :v_digest WHERE host = :k_host AND play = :k_play",
                rows.latest_observed,
            )
            db.executemany(
                "UPDATE host_latest SET result_id = :v_result WHERE host = :k_host AND play = :k_play",
                rows.latest_unobserved,
            )

    def prune(self, days: int) -> int:
        """Delete runs older than ``days`` (by start), keeping every host's latest and latest
        observed result and so the runs holding them, and the ended rollouts older than that;
        returns the number of host results deleted."""
        cutoff = {"cutoff": sqlite_time(self.clock() - timedelta(days=days))}
        with self._transaction() as db:
            doomed = [
                row[0]
                for row in db.execute(
                    f"SELECT id FROM host_result WHERE started < :cutoff AND id NOT IN ({_KEPT})", cutoff
                )
            ]
            for ids in _chunks(doomed):
                for table, column in (
                    ("resource_result", "result_id"),
                    ("host_group", "result_id"),
                    ("host_result", "id"),
                ):
                    db.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(ids)})", ids)
            db.execute(
                "DELETE FROM run WHERE started < :cutoff AND id NOT IN (SELECT DISTINCT run_id FROM host_result)",
                cutoff,
            )
            db.execute(f"DELETE FROM host_event WHERE rollout_id IN ({_ENDED_ROLLOUTS})", cutoff)
            db.execute(f"DELETE FROM host_run WHERE rollout_id IN ({_ENDED_ROLLOUTS})", cutoff)
            db.execute("DELETE FROM rollout WHERE created < :cutoff AND status != 'running'", cutoff)
        return len(doomed)


def _cause(exc: sqlite3.Error) -> str:
    """One line for a database error (sqlite3's messages carry no statement or values)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
