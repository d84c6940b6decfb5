"""Fixtures for ``provision doctor``: one lab for the module, with a host per fault, and an inventory.

The lab listens on its own ports (55985, 55986, 52222: never the lab's defaults nor the e2e
tests'), on 127.77.N.x addresses where N comes from the process id, so two test runs on one
machine never meet. Each host carries the fault a test looks for; a test picks its host with
``--limit``. Only loopback addresses are used; the one name lookup is of a ``.invalid`` name,
which never resolves (RFC 6761).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from labfixtures import make_hosts

from provision_lab import Faults, LabServer
from provisioner import cli

HTTP_PORT, HTTPS_PORT, SSH_PORT = 55985, 55986, 52222
NETWORK = f"127.77.{100 + os.getpid() % 100}"
"""127.77.100-199.x: apart from the lab's fleets (127.77.0.x up) and the e2e tests' (127.77.200.x up)."""
SILENT = f"{NETWORK}.250"
"""An address of this lab's network where nothing listens."""
USER = "provision"
PASSWORD_ENV = "PROVISION_DOCTOR_PASSWORD"
PASSWORD = "d0ctor'Pa$$\"x"

HOSTS: Mapping[str, tuple[str, Faults]] = {
    "healthy": ("server2022", Faults()),
    "old-build": ("server2019", Faults()),
    "bad-credentials": ("server2022", Faults(bad_credentials=True)),
    "unreachable": ("server2022", Faults(unreachable=True)),
    "small-envelope": ("server2022", Faults(max_envelope_size_kb=150)),
    "standard-user": ("server2022", Faults(not_admin=True)),
    "locked-down": ("server2022", Faults(constrained_language=True)),
}


@dataclass
class DoctorLab:
    server: LabServer
    hosts: dict[str, Any]
    dir: Path

    def inventory(
        self,
        name: str = "inventory.yml",
        *,
        extra_hosts: Mapping[str, Mapping[str, Any]] | None = None,
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
        **overrides: Any,
    ) -> Path:
        """Every lab host (WinRM NTLM over HTTPS trusting the lab CA, unless ``overrides`` or
        ``host_vars`` say otherwise), plus ``extra_hosts`` that are not lab hosts."""
        values: dict[str, Any] = {
            "connection": "winrm",
            "scheme": "https",
            "port": HTTPS_PORT,
            "transport": "ntlm",
            "user": USER,
            "password_env": PASSWORD_ENV,
            "ca_bundle": str(self.server.ca_path),
            "known_hosts": str(self.server.known_hosts_path),
        }
        values.update(overrides)
        hosts: dict[str, dict[str, Any]] = {h: {"address": m.address} for h, m in self.hosts.items()}
        for host, extra in (extra_hosts or {}).items():
            hosts[host] = dict(extra)
        for host, extra in (host_vars or {}).items():
            hosts[host].update(extra)
        path = self.dir / name
        path.write_text(
            yaml.safe_dump({"all": {"vars": values, "children": {"windows": {"hosts": hosts}}}}, sort_keys=False),
            encoding="utf-8",
        )
        return path


@pytest.fixture(scope="module")
def doctor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DoctorLab]:
    directory = tmp_path_factory.mktemp("doctor")
    numbers = iter(range(1, len(HOSTS) + 1))
    models = make_hosts(HOSTS, lambda: f"{NETWORK}.{next(numbers)}", reboot_seconds=5.0)
    server = LabServer(
        list(models.values()),
        user=USER,
        password=PASSWORD,
        lab_dir=directory / "lab",
        http_port=HTTP_PORT,
        https_port=HTTPS_PORT,
        ssh_port=SSH_PORT,
    )
    server.start()
    try:
        yield DoctorLab(server, models, directory)
    finally:
        server.stop()


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def lines(self, host: str) -> list[str]:
        """The step lines of one host, without the host column."""
        return [line.split(None, 1)[1] for line in self.out.splitlines() if line.split(None, 1)[0] == host]

    def step(self, host: str, name: str) -> str:
        """The message of one host's step (``ok: ...`` or ``FAILED: ...``)."""
        for line in self.lines(host):
            step, _, message = line.partition(" ")
            if step == name:
                return message.strip()
        raise AssertionError(f"{host} has no {name} line in:\n{self.out}")

    def steps(self, host: str) -> list[str]:
        return [line.split(None, 1)[0] for line in self.lines(host)]


RunDoctor = Callable[..., Outcome]
"""``run_doctor(*argv)``: one ``provision doctor`` run in this process."""


@pytest.fixture
def run_doctor(capsys: pytest.CaptureFixture[str], password: None) -> RunDoctor:
    """``provision doctor ARGS`` in this process: exit code and output."""

    def run(*argv: str | Path) -> Outcome:
        capsys.readouterr()
        code = cli.run(["doctor", *(str(a) for a in argv), "--timeout", "5"])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
