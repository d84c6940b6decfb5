"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary data directory, a
loopback port, trust authentication for the loopback only, no fsync (the data is thrown away).

``PROVISION_TEST_POSTGRES_URL`` points the tests at a server someone already runs instead. As root
(CI), the server runs as the ``postgres`` user through ``runuser``, since PostgreSQL refuses to run
as root; the data directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_binaries", "start_server"]


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
