"""State store fixtures: the same tests against SQLite and a real PostgreSQL server, and a clock
the tests move by hand (runs days apart, without sleeping).

The PostgreSQL path is skipped only when no server can be started here; ``PROVISION_REQUIRE_POSTGRES=1``
(set by .ci/run) turns that skip into a failure, so CI always tests it (the server: tests/servers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fleet.conftest import make_fleet  # noqa: F401 - the lab fleet fixtures, reused
from servers import PostgresServer, new_database

from provisioner.state import cli as state_cli
from provisioner.state.store import Store


@dataclass
class Clock:
    """A settable UTC clock for the store."""

    now: datetime = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of every store opened in the test, the command line's included."""
    value = Clock()
    monkeypatch.setattr(state_cli, "now", value)
    return value


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store location: a SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "history.db")
    server: PostgresServer | str = request.getfixturevalue("postgres")
    if isinstance(server, str):
        pytest.skip(f"no PostgreSQL server could be started: {server}")
    return new_database(server)


OpenStore = Callable[..., Store]


@pytest.fixture
def open_store(store_url: str, clock: Clock) -> Iterator[OpenStore]:
    """Opens the test's store (each call a new ``Store`` on the same location), closing them after."""
    opened: list[Store] = []

    def open_(location: str | None = None) -> Store:
        store = Store.open(location or store_url, clock=clock)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()
