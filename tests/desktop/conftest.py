"""Docker Desktop end to end: lab workstations, an inventory and playbooks/workstations.yml's play.

``desktop_lab`` is a factory like tests/e2e's ``e2e_lab``, on ports of its own (45985, 45986, 42222)
and addresses from 127.77.240.1 up, so it never meets another lab of the test run or one a developer
runs on 5985/5986/2222. The lab directory is under ``tmp_path``, the password (quotes and ``$``
included) reaches the tool only through an environment variable, and the playbook is the shipped
playbooks/workstations.yml with its inventory replaced.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from provision_lab.api import ExecResult, Faults
from provision_lab.desktop import desktop_sha256, wsl_sha256, wsl_url
from provision_lab.model import LabHostModel, engine_sha256
from provision_lab.profiles import make_host
from provision_lab.server import LabServer
from provisioner import cli
from provisioner.engine import rollout
from provisioner.engine.host import Event, HostResult
from provisioner.playbook import load_playbook
from provisioner.transport.connect import Connector

REPO = Path(__file__).resolve().parents[2]
WORKSTATIONS_YML = REPO / "playbooks" / "workstations.yml"
REPORT_SCHEMA = REPO / "schema" / "report.schema.json"

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

_addresses = itertools.count(0)
_lock = threading.Lock()


def fresh_address() -> str:
    with _lock:
        n = next(_addresses)
    return f"127.77.{240 + n // 254}.{n % 254 + 1}"


def merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, mappings recursively; a None value removes the key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def workstation_play() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(WORKSTATIONS_YML.read_text())[0])


def validate_report(report: dict[str, Any]) -> None:
    """report.json against schema/report.schema.json, and the summary against the hosts."""
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert report["summary"] == dict(Counter(h["status"] for h in report["hosts"]))
    assert datetime.fromisoformat(report["ended"]) >= datetime.fromisoformat(report["started"])


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
class DesktopLab:
    server: LabServer
    hosts: dict[str, LabHostModel]
    dir: Path
    capsys: pytest.CaptureFixture[str]
    scripts: dict[str, list[str]] = field(default_factory=dict)
    _reports: Iterator[int] = field(default_factory=itertools.count)

    def snapshot(self, name: str) -> dict[str, Any]:
        return self.hosts[name].snapshot()

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
        hosts = {h: {"address": m.address, **(host_vars or {}).get(h, {})} for h, m in self.hosts.items()}
        path = self.dir / f"inventory-{transport}.yml"
        path.write_text(
            yaml.safe_dump(
                {"all": {"vars": values, "children": {group: {"hosts": hosts}}}}, allow_unicode=True, sort_keys=False
            ),
            encoding="utf-8",
        )
        return path

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
        path = self.dir / name
        path.write_text(yaml.safe_dump([play], allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

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
        results = rollout.run_playbook(
            load_playbook(playbook),
            mode,
            Connector(),  # type: ignore[arg-type]
            on_event=events.append,
            poll_interval=POLL_INTERVAL,
        )
        return RunOutcome(results, events, rollout.exit_code(results))

    def cli(self, *argv: str | Path, report: bool = False) -> CliOutcome:
        args = [str(a) for a in argv]
        report_file = None
        if report:
            report_file = self.dir / f"report-{next(self._reports)}.json"
            args += ["--report", str(report_file)]
        self.capsys.readouterr()
        code = cli.run(args)
        captured = self.capsys.readouterr()
        data = json.loads(report_file.read_text(encoding="utf-8")) if report_file else None
        if data is not None:
            validate_report(data)
        return CliOutcome(code, captured.out, captured.err, data)


def _recording(model: LabHostModel, into: list[str]) -> Callable[[str], ExecResult]:
    inner = model.run_script

    def run_script(script: str) -> ExecResult:
        into.append(script)
        return inner(script)

    return run_script


@pytest.fixture
def desktop_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., DesktopLab]]:
    """A factory of started labs: ``desktop_lab({"ws1": "workstation-win11-23h2-pro"})``."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    original = rollout.run_playbook

    def fast_run_playbook(*args: Any, **kwargs: Any) -> list[HostResult]:
        kwargs.setdefault("poll_interval", POLL_INTERVAL)
        return original(*args, **kwargs)

    monkeypatch.setattr(cli, "run_playbook", fast_run_playbook)
    servers: list[LabServer] = []

    def make(hosts: Mapping[str, str | tuple[str, Faults]]) -> DesktopLab:
        models: dict[str, LabHostModel] = {}
        for index, (name, definition) in enumerate(hosts.items()):
            profile, faults = (definition, Faults()) if isinstance(definition, str) else definition
            models[name] = make_host(
                profile, name, fresh_address(), index=index, reboot_seconds=REBOOT_SECONDS, faults=faults
            )
        lab_dir = tmp_path / f"lab{len(servers)}"
        server = LabServer(
            list(models.values()),
            user=USER,
            password=PASSWORD,
            lab_dir=lab_dir / "state",
            http_port=HTTP_PORT,
            https_port=HTTPS_PORT,
            ssh_port=SSH_PORT,
        )
        lab = DesktopLab(server, models, lab_dir, capsys)
        for name, model in models.items():
            lab.scripts[name] = []
            model.run_script = _recording(model, lab.scripts[name])  # type: ignore[method-assign]
        servers.append(server)
        server.start()
        return lab

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(params=tuple(CONNECTIONS))
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
