"""The Celery executor against real parts: a Redis broker and a PostgreSQL store started for the
session (tests/servers.py), two ``provision worker`` processes, and lab fleets of simulated hosts
served from this process (tests/fleet/conftest.py).

The workers live for the session (about 2.5 s each to start on 2 cores) and read each test's
playbook from the path the controller records, as workers on other machines would read a shared
checkout: sites ``east`` (both workers) and ``west`` (worker ``w2`` only). A test that kills one
restarts it through :meth:`Cluster.ensure`.

Every wait has a deadline, and a test that hangs past :data:`HANG_SECONDS` dumps every thread's
stack and ends the run (faulthandler), with the workers' logs in the failure output, instead of
hanging CI (an earlier attempt's two-worker run hung on an exhausted connection pool).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fleet.conftest import HTTP_PORT, PASSWORD, PASSWORD_ENV, POLL_INTERVAL, USER, Fleet, make_fleet, sigint_guard  # noqa: F401
from labfixtures import StartLab
from servers import PostgresServer, RedisServer, new_database, reap

from provision_lab import build_fleet, parse_profiles
from provisioner.engine.celery_executor import celery_app, queue_name
from provisioner.state.rollouts import HostKey
from provisioner.state.tables import host_run

REPO = Path(__file__).resolve().parents[2]
HANG_SECONDS = 240
LEASE_SECONDS = 3.0
"""Leases in the tests: a killed worker's hosts are queued again about this long after it died."""
WORKERS = {"w1": ["east"], "w2": ["east", "west"]}
CONCURRENCY = 20
TWIN_PORT = HTTP_PORT + 1000 if HTTP_PORT < 34000 else HTTP_PORT - 1000
"""The HTTP port of :func:`twin_fleet` (still in the fleet suite's 33000-34999)."""


@pytest.fixture(autouse=True)
def _hang_dump() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@dataclass
class Worker:
    name: str
    sites: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """The session's broker, store and workers."""

    broker: str
    state: str
    directory: Path
    workers: dict[str, Worker] = field(default_factory=dict)
    engine: sa.Engine | None = None

    def db(self) -> sa.Engine:
        if self.engine is None:
            self.engine = sa.create_engine(self.state.replace("postgresql://", "postgresql+psycopg://"))
        return self.engine

    def start(self, name: str, sites: list[str], *extra: str) -> Worker:
        log = self.directory / f"{name}.log"
        env = {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "provisioner.cli", "worker", "--broker", self.broker, "--state", self.state]
        command += ["-c", str(CONCURRENCY), "--name", name, *extra]
        for site in sites:
            command += ["--site", site]
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        worker = Worker(name, sites, process, log)
        self.workers[name] = worker
        self._wait_ready(worker)
        return worker

    def _wait_ready(self, worker: Worker) -> None:
        app = celery_app(self.broker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker {worker.name} exited {worker.process.returncode}:\n{worker.tail()}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(f"{worker.name}@") for reply in replies for name in reply):
                return
        raise AssertionError(f"worker {worker.name} did not answer a ping within 60 s:\n{worker.tail()}")

    def ensure(self) -> None:
        """Every worker of :data:`WORKERS` running (one a test killed is started again)."""
        for name, sites in WORKERS.items():
            worker = self.workers.get(name)
            if worker is None or worker.process.poll() is not None:
                self.start(name, sites)

    def kill(self, name: str) -> None:
        worker = self.workers[name]
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=30)

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers.values():
            reap(worker.process, 30)
        if self.engine is not None:
            self.engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {w.name} ---\n{w.tail()}" for w in self.workers.values())

    # -- the store ------------------------------------------------------------------------------

    def rows(self, rollout: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(host_run)
        if rollout is not None:
            query = query.where(host_run.c.rollout_id == rollout)
        with self.db().connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def rollout_of(self, playbook: Path) -> str | None:
        """The newest rollout of a playbook (the controller records its absolute path), if any yet."""
        with self.db().connect() as connection:
            rows = connection.execute(sa.text("SELECT id, job FROM rollout ORDER BY created DESC")).all()
        return next((row.id for row in rows if row.job["playbook"] == str(playbook.resolve())), None)

    def rows_of(self, playbook: Path) -> list[dict[str, Any]]:
        """The host rows of a playbook's newest rollout (none before it starts)."""
        rollout = self.rollout_of(playbook)
        return self.rows(rollout) if rollout is not None else []

    def wait(self, what: str, condition: Callable[[], bool], timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{self.logs()}")

    # -- the broker -----------------------------------------------------------------------------

    def send(self, key: HostKey, site: str) -> None:
        celery_app(self.broker).send_task("provision.converge_host", args=[key.to_json()], queue=queue_name(site))

    def queues_empty(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.broker)
        waiting = sum(client.llen(queue_name(site)) for site in ("east", "west"))
        return waiting == 0 and client.hlen("unacked") == 0


@pytest.fixture(scope="session")
def cluster(
    postgres: PostgresServer | str, redis_server: RedisServer | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if isinstance(postgres, str):
        pytest.skip(f"no PostgreSQL server could be started: {postgres}")
    if isinstance(redis_server, str):
        pytest.skip(f"no Redis server could be started: {redis_server}")
    running = Cluster(redis_server.url, new_database(postgres), tmp_path_factory.mktemp("workers"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def workers(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The cluster with both workers running; their logs are printed when the test fails."""
    cluster.ensure()
    yield cluster
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(cluster.logs())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def celery_args(cluster: Cluster) -> list[str]:
    return [
        "--executor",
        "celery",
        "--broker",
        cluster.broker,
        "--state",
        cluster.state,
        "--lease-seconds",
        str(LEASE_SECONDS),
    ]


def site_vars(fleet: Fleet, west_every: int = 3) -> dict[str, dict[str, Any]]:
    """Every third host in site ``west`` (worker w2 only), the others in ``east`` (both workers)."""
    return {name: {"site": "west" if index % west_every == 0 else "east"} for index, name in enumerate(fleet.names)}


def twin_fleet(
    fleet: Fleet,
    lab_servers: StartLab,
    count: int,
    profiles: str,
    faults: str | Mapping[str, Mapping[str, Any]] | None,
    *,
    seed: int = 7,
    reboot_seconds: float,
) -> Fleet:
    """A second fleet built like ``fleet`` (same profiles, faults and seed) on the next port: the
    same hosts, in the same state, for a run through the other executor."""
    port = TWIN_PORT
    models = build_fleet(count, profiles, seed, reboot_seconds=reboot_seconds, faults_spec=faults)
    server, _ = lab_servers(
        models,
        user=USER,
        password=PASSWORD,
        lab_dir=fleet.dir / "twin-lab-state",
        http_port=port,
        https_port=None,
        ssh_port=None,
        allow_unencrypted=True,
        seed=seed,
    )
    profile = dict(zip((m.name for m in models), parse_profiles(profiles, count, seed), strict=True))
    twin = Fleet(server, {m.name: m for m in models}, fleet.dir / "twin", fleet.capture, POLL_INTERVAL, profile=profile)
    twin.dir.mkdir(parents=True, exist_ok=True)
    return twin
