"""Throwaway servers for the tests, from Debian's packages, on loopback ports (a pytest plugin,
registered in tests/conftest.py).

PostgreSQL: Debian's binaries, a temporary data directory, trust authentication for the loopback
only, no fsync (the data is thrown away). ``PROVISION_TEST_POSTGRES_URL`` points the tests at a
server someone already runs instead. As root (CI), the server runs as the ``postgres`` user through
``runuser``, since PostgreSQL refuses to run as root; the data directory is handed to that user.

Redis (the Celery executor's broker): ``redis-server`` with no persistence, bound to 127.0.0.1.

A server that cannot be started skips the tests that need it, unless ``PROVISION_REQUIRE_POSTGRES=1``
or ``PROVISION_REQUIRE_REDIS=1`` (set by .ci/run) turns the skip into a failure.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

__all__ = [
    "PostgresServer",
    "RedisServer",
    "find_binaries",
    "new_database",
    "reap",
    "start_redis",
    "start_server",
]


def reap(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a process that was asked to end; kill it if it is still there after ``timeout``."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


_DATABASES = itertools.count(1)
Server = TypeVar("Server", "PostgresServer", "RedisServer")


def find_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl, or one on PATH."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    url: str
    """``postgresql://provision@127.0.0.1:PORT/postgres``: the maintenance database."""
    directory: Path | None = None
    bin: Path | None = None
    as_user: list[str] | None = None

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.directory is None or self.bin is None:
            return
        subprocess.run(
            [
                *(self.as_user or []),
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start_server() -> PostgresServer:
    """Start a server; raises RuntimeError saying why one cannot be started."""
    url = os.environ.get("PROVISION_TEST_POSTGRES_URL")
    if url:
        return PostgresServer(url)
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL binaries (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="provision-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError("running as root and there is no postgres user to run the server as") from None
        os.chown(directory, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data, log = directory / "data", directory / "server.log"
    steps = [
        [str(binaries / "initdb"), "-D", str(data), "-U", "provision", "-A", "trust", "-E", "UTF8", "--no-sync"],
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
        ],
    ]
    for step in steps:
        done = subprocess.run([*as_user, *step], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            server_log = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(f"{Path(step[0]).name} failed: {' | '.join(detail[-3:] + server_log)}")
    return PostgresServer(f"postgresql://provision@127.0.0.1:{port}/postgres", directory, binaries, as_user)


def new_database(server: PostgresServer) -> str:
    """The URL of a new, empty database on the server."""
    name = f"provision_test_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(server.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.database_url(name)


@dataclass
class RedisServer:
    url: str
    """``redis://127.0.0.1:PORT/0``."""
    process: subprocess.Popen[bytes] | None = None
    directory: Path | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            reap(self.process, 10)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start a redis-server; raises RuntimeError saying why one cannot be started."""
    url = os.environ.get("PROVISION_TEST_REDIS_URL")
    if url:
        return RedisServer(url)
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        raise RuntimeError("no redis-server (apt-get install redis-server)")
    directory = Path(tempfile.mkdtemp(prefix="provision-redis-"))
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(directory), "--logfile", str(directory / "server.log")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = (process.stderr.read() if process.stderr else b"").decode(errors="replace").strip()
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(f"redis-server exited {process.returncode}: {detail[-300:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return RedisServer(f"redis://127.0.0.1:{port}/0", process, directory)
        except OSError:
            time.sleep(0.05)
    process.kill()
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError("redis-server did not answer within 30 s")


def _started(start: Callable[[], Server], name: str, required: str) -> Iterator[Server | str]:
    """A session fixture's body: the started server, or why it could not start (a failure when
    the ``required`` variable is 1); stopped after the session."""
    try:
        server = start()
    except RuntimeError as exc:
        if os.environ.get(required) == "1":
            pytest.fail(f"{name} is required ({required}=1) but could not start: {exc}")
        yield str(exc)
        return
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | str]:
    """The test PostgreSQL server, or why none could be started."""
    yield from _started(start_server, "PostgreSQL", "PROVISION_REQUIRE_POSTGRES")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | str]:
    """The test Redis server, or why none could be started."""
    yield from _started(start_redis, "Redis", "PROVISION_REQUIRE_REDIS")
