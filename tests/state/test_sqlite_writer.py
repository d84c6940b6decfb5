"""The SQLite writer takes only a store file at this version's schema head; anything else is left to
the full store, which creates, migrates or refuses it (the store tests cover what it writes)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from provisioner.state.records import SCHEMA_HEAD
from provisioner.state.sqlite_writer import SqliteWriter, sqlite_time
from provisioner.state.store import Store


def clock() -> datetime:
    return datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def test_only_a_store_at_the_schemas_head_gets_a_writer(tmp_path: Path) -> None:
    missing, junk, head = tmp_path / "missing.db", tmp_path / "junk.db", tmp_path / "head.db"
    junk.write_text("not a database")
    Store.open(head).close()
    assert SqliteWriter.at_head(missing, "missing", clock) is None
    assert not missing.exists()
    assert SqliteWriter.at_head(junk, "junk", clock) is None
    writer = SqliteWriter.at_head(head, "head", clock)
    assert writer is not None
    writer.close()
    with sqlite3.connect(head) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert SqliteWriter.at_head(head, "head", clock) is None, f"a store below {SCHEMA_HEAD} must be migrated first"


def test_timestamps_are_written_as_the_full_store_reads_and_compares_them(tmp_path: Path) -> None:
    location = tmp_path / "history.db"
    Store.open(location).close()
    writer = SqliteWriter.at_head(location, str(location), clock)
    assert writer is not None
    run_id = writer.begin_run(kind="check", playbook="site.yml", actor="ops")
    writer.close()
    with Store.open(location) as store:
        assert store.runs(since=clock(), until=clock())[0]["started"] == clock()
        assert store.run(run_id) is not None
    assert sqlite_time(datetime(2026, 12, 2, 7, 0, 0, 5, tzinfo=UTC)) == "2026-12-02 07:00:00.000005"
