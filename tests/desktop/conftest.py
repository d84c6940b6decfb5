"""Docker Desktop end to end: lab workstations, an inventory and playbooks/workstations.yml's play.

``desktop_lab`` is a factory like tests/e2e's ``e2e_lab``, on ports of its own (45985, 45986, 42222)
and addresses from 127.77.240.1 up, so it never meets another lab of the test run or one a developer
runs on 5985/5986/2222. The lab directory is under ``tmp_path``, the password (quotes and ``$``
included) reaches the tool only through an environment variable, and the playbook is the shipped
playbooks/workstations.yml with its inventory replaced.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from labfixtures import AddressBlock, LabRun, StartLab, make_hosts, merge, play_of, validate_report

from provision_lab import Faults, desktop_sha256, engine_sha256, wsl_sha256, wsl_url
from provisioner.engine import rollout
from provisioner.engine.host import Event, HostResult

HTTP_PORT, HTTPS_PORT, SSH_PORT = 45985, 45986, 42222
USER = "provision"
PASSWORD_ENV = "PROVISION_DESKTOP_PASSWORD"
PASSWORD = "dd'Pa$$w0rd\"$(whoami)` ;x"
REBOOT_SECONDS = 0.3
POLL_INTERVAL = 0.1

CONNECTIONS: dict[str, dict[str, Any]] = {
    "winrm-ntlm-https": {"connection": "winrm", "scheme": "https", "port": HTTPS_PORT, "transport": "ntlm"},
    "ssh": {"connection": "ssh", "port": SSH_PORT},
}

_ADDRESSES = AddressBlock(77, 240, blocks=10)


def fresh_address() -> str:
    return _ADDRESSES.fresh()


def workstation_play() -> dict[str, Any]:
    return play_of("workstations.yml")


@dataclass
class RunOutcome:
    results: list[HostResult]
    events: list[Event]
    code: int

    def host(self, name: str) -> HostResult:
        return next(r for r in self.results if r.name == name)


@dataclass
class CliOutcome:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None = None

    def report_host(self, name: str) -> dict[str, Any]:
        assert self.report is not None
        return next(h for h in self.report["hosts"] if h["name"] == name)


@dataclass
class DesktopLab(LabRun):
    _reports: Iterator[int] = field(default_factory=itertools.count)

    def snapshot(self, name: str) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.hosts[name].snapshot()
        return snapshot

    def counters(self, name: str) -> Counter[str]:
        return Counter(self.hosts[name].counters)

    def inventory(
        self,
        transport: str = "winrm-ntlm-https",
        *,
        group: str = "workstations",
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """Every lab host in ``group``, with the lab's Docker Desktop, WSL and Docker CE stand-ins as vars."""
        values: dict[str, Any] = {
            **CONNECTIONS[transport],
            "user": USER,
            "password_env": PASSWORD_ENV,
            "ca_bundle": str(self.server.ca_path),
            "known_hosts": str(self.server.known_hosts_path),
            "desktop_version": "4.43.1",
            "desktop_build": 198352,
            "desktop_sha256": desktop_sha256("4.43.1"),
            "wsl_version": "2.5.10",
            "wsl_url": wsl_url("2.5.10"),
            "wsl_sha256": wsl_sha256("2.5.10"),
            "docker_version": "27.3.1",
            "docker_sha256": engine_sha256("27.3.1"),
        }
        return self.write_inventory(values, name=f"inventory-{transport}.yml", group=group, host_vars=host_vars)

    def playbook(
        self,
        inventory: Path,
        *,
        name: str = "workstations.yml",
        spec: Mapping[str, Any] | None = None,
        hosts: str = "workstations",
    ) -> Path:
        """playbooks/workstations.yml's play on this lab: its spec with ``spec`` merged in, a 10 s reboot
        timeout and every host in one batch."""
        play = workstation_play()
        play.update(inventory=str(inventory), hosts=hosts, rollout={"forks": 8})
        play["spec"] = merge(play["spec"], spec or {})
        play["reboot"] = merge(play["reboot"], {"timeout": 10})
        return self.write_playbook(play, name=name)

    def setup(
        self,
        transport: str = "winrm-ntlm-https",
        *,
        spec: Mapping[str, Any] | None = None,
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        return self.playbook(self.inventory(transport, host_vars=host_vars), name=f"ws-{transport}.yml", spec=spec)

    def run(self, playbook: Path, mode: str = "apply") -> RunOutcome:
        events: list[Event] = []
        results = self.engine(playbook, mode, events=events)
        return RunOutcome(results, events, rollout.exit_code(results))

    def cli(self, *argv: str | Path, report: bool = False) -> CliOutcome:
        args = [str(a) for a in argv]
        report_file = None
        if report:
            report_file = self.dir / f"report-{next(self._reports)}.json"
            args += ["--report", str(report_file)]
        code, out, err = self.provision(args)
        data = json.loads(report_file.read_text(encoding="utf-8")) if report_file else None
        if data is not None:
            validate_report(data)
        return CliOutcome(code, out, err, data)


@pytest.fixture
def desktop_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lab_servers: StartLab
) -> Callable[..., DesktopLab]:
    """A factory of started labs: ``desktop_lab({"ws1": "workstation-win11-23h2-pro"})``."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    count = itertools.count()

    def make(hosts: Mapping[str, str | tuple[str, Faults]]) -> DesktopLab:
        models = make_hosts(hosts, fresh_address, REBOOT_SECONDS)
        lab_dir = tmp_path / f"lab{next(count)}"
        server, scripts = lab_servers(
            models,
            record=True,
            user=USER,
            password=PASSWORD,
            lab_dir=lab_dir / "state",
            http_port=HTTP_PORT,
            https_port=HTTPS_PORT,
            ssh_port=SSH_PORT,
        )
        return DesktopLab(server, models, lab_dir, capsys, POLL_INTERVAL, scripts)

    return make


@pytest.fixture(params=tuple(CONNECTIONS))
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
