"""Lab fleets for the product's end-to-end suites (e2e, fleet, desktop, doctor): one place to start them.

Built on ``provision_lab``'s public API only (``LabServer``, ``make_host``, ``build_fleet``, ``Faults``,
``ExecResult``): the product's tests drive the lab as any client would, and the suites' conftests keep
only what is theirs (ports, addresses, passwords and the shape of their inventories).

- :func:`make_hosts` builds hosts from ``{"web1": "server2022", "bad": ("win10-home", Faults())}``.
- The ``lab_servers`` fixture starts a :class:`LabServer` for such hosts and stops every one after the test.
- :class:`LabRun` is a started lab with what every suite does with it: per-host scripts received, inventory and playbook files, and runs through the engine or ``provision`` in this process.
- Playbooks written here carry ``reboot.poll_interval`` (a play option), so a simulated reboot of a few
  tenths of a second is polled as fast without patching the product.

Registered as a plugin in tests/conftest.py.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from provision_lab import ExecResult, Faults, LabServer, make_host
from provisioner import cli
from provisioner.engine import rollout
from provisioner.engine.host import Event, HostResult
from provisioner.playbook import Playbook, load_playbook
from provisioner.transport.connect import Connector

__all__ = [
    "REPO",
    "AddressBlock",
    "HostDef",
    "LabRun",
    "StartLab",
    "make_hosts",
    "merge",
    "play_of",
    "validate_report",
]

REPO = Path(__file__).resolve().parent.parent
REPORT_SCHEMA = REPO / "schema" / "report.schema.json"

HostDef = str | tuple[str, Faults] | tuple[str, Faults, dict[str, Any]]
"""A profile name; or (profile, faults); or (profile, faults, make_host keyword arguments)."""


class AddressBlock:
    """Loopback addresses ``127.<second>.<third>.<n>`` handed out once each, from ``third`` on for ``blocks``
    /24s, so the labs of one suite (and of the suites beside it) never share an address."""

    def __init__(self, second: int, third: int, blocks: int = 1) -> None:
        self._second, self._third, self._blocks = second, third, blocks
        self._next = itertools.count(0)
        self._lock = threading.Lock()

    def fresh(self) -> str:
        with self._lock:
            n = next(self._next)
        return f"127.{self._second}.{self._third + (n // 254) % self._blocks}.{n % 254 + 1}"


def make_hosts(hosts: Mapping[str, HostDef], address: Callable[[], str], reboot_seconds: float) -> dict[str, Any]:
    """Lab hosts by name from profile definitions, each on a fresh address."""
    models: dict[str, Any] = {}
    for index, (name, definition) in enumerate(hosts.items()):
        if isinstance(definition, str):
            profile, faults, extra = definition, Faults(), {}
        else:
            profile, faults = definition[0], definition[1]
            extra = definition[2] if len(definition) > 2 else {}
        models[name] = make_host(
            profile, name, address(), index=index, reboot_seconds=reboot_seconds, faults=faults, **extra
        )
    return models


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


def play_of(playbook: str) -> dict[str, Any]:
    """The first play of a shipped playbook (``playbooks/<playbook>``), as data."""
    return copy.deepcopy(yaml.safe_load((REPO / "playbooks" / playbook).read_text())[0])


def validate_report(report: dict[str, Any]) -> None:
    """report.json against schema/report.schema.json, plus what a schema cannot say: the summary
    counts the hosts' statuses, each host appears once, and the run ended after it started."""
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert report["summary"] == dict(Counter(h["status"] for h in report["hosts"]))
    assert datetime.fromisoformat(report["ended"]) >= datetime.fromisoformat(report["started"])
    assert len({h["name"] for h in report["hosts"]}) == len(report["hosts"])


def _recording(model: Any, into: list[str]) -> Callable[[str, str | None], ExecResult]:
    """Wrap a lab host's run_command so the scripts it receives (on stdin, or on the command line
    when nothing comes on stdin) are kept."""
    inner = model.run_command

    def run_command(command_line: str, stdin: str | None) -> ExecResult:
        into.append(stdin if stdin else command_line)
        result: ExecResult = inner(command_line, stdin)
        return result

    return run_command


@dataclass
class LabRun:
    """A started lab and the files and runs of one test on it."""

    server: LabServer
    hosts: dict[str, Any]
    dir: Path
    capture: pytest.CaptureFixture[str]
    poll_interval: float
    """The playbooks' ``reboot.poll_interval``: a simulated reboot is short, so is the wait for it."""
    scripts: dict[str, list[str]] = field(default_factory=dict)
    """Every script each host received, in order (when the lab was started with ``record=True``)."""

    # -- the hosts ------------------------------------------------------------------------------

    def host(self, name: str) -> Any:
        return self.hosts[name]

    @property
    def names(self) -> list[str]:
        return list(self.hosts)

    # -- files ----------------------------------------------------------------------------------

    def write_inventory(
        self,
        values: Mapping[str, Any],
        *,
        name: str,
        group: str = "windows",
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
        extra_hosts: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """An inventory of every lab host (``address`` plus ``host_vars``) in ``group``, with ``values``
        as the ``all`` vars, and ``extra_hosts`` that are not lab hosts."""
        hosts: dict[str, dict[str, Any]] = {h: {"address": m.address} for h, m in self.hosts.items()}
        for host, extra in (extra_hosts or {}).items():
            hosts[host] = dict(extra)
        for host, extra in (host_vars or {}).items():
            hosts[host].update(extra)
        document = {"all": {"vars": dict(values), "children": {group: {"hosts": hosts}}}}
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def write_playbook(self, play: dict[str, Any], *, name: str) -> Path:
        """One play, its reboot policy polled at this lab's pace (a test's own value wins)."""
        play = dict(play)
        play["reboot"] = merge({"poll_interval": self.poll_interval}, play.get("reboot") or {})
        path = self.dir / name
        # Escaped, not raw: PyYAML (and so Ansible) reads a raw U+0085 or U+2028 inside a scalar as a line
        # break and folds it into a space, so only escapes carry every character of a value through YAML.
        path.write_text(yaml.safe_dump([play], allow_unicode=False, sort_keys=False), encoding="utf-8")
        return path

    # -- running --------------------------------------------------------------------------------

    def load(self, playbook: Path) -> Playbook:
        return load_playbook(playbook)

    def engine(
        self, playbook: Path, mode: str = "apply", *, events: list[Event] | None = None, **kwargs: Any
    ) -> list[HostResult]:
        """``run_playbook`` directly, every event appended to ``events``."""
        on_event = events.append if events is not None else (lambda event: None)
        return rollout.run_playbook(
            self.load(playbook),
            mode,  # type: ignore[arg-type]
            Connector(),
            on_event=on_event,
            **kwargs,
        )

    def provision(self, argv: Sequence[str | Path]) -> tuple[int, str, str]:
        """``provision ARGV`` in this process (``cli.run``): exit code, stdout, stderr."""
        self.capture.readouterr()
        code = cli.run([str(a) for a in argv])
        captured = self.capture.readouterr()
        return code, captured.out, captured.err


StartLab = Callable[..., tuple[LabServer, dict[str, list[str]]]]
"""What the ``lab_servers`` fixture gives: ``start(models, *, record=False, **LabServer settings)``."""


@pytest.fixture
def lab_servers() -> Iterator[StartLab]:
    """Start lab servers for a test; every one stops after it.

    ``start(models, user=..., password=..., lab_dir=..., http_port=..., https_port=..., ssh_port=...,
    allow_unencrypted=..., seed=..., record=False)`` returns the started server and, with ``record``,
    the scripts each host receives (filled as they arrive).
    """
    servers: list[LabServer] = []

    def start(
        models: Mapping[str, Any] | Sequence[Any], *, record: bool = False, **settings: Any
    ) -> tuple[LabServer, dict[str, list[str]]]:
        hosts = list(models.values()) if isinstance(models, Mapping) else list(models)
        scripts: dict[str, list[str]] = {}
        if record:
            for model in hosts:
                scripts[model.name] = []
                model.run_command = _recording(model, scripts[model.name])
        server = LabServer(hosts, **settings)
        servers.append(server)
        server.start()
        return server, scripts

    yield start
    for server in servers:
        server.stop()
