"""Fleet fixtures: a lab fleet of simulated Windows hosts built by ``build_fleet``, its inventory
and playbook, and ways to run them through the engine or the command line.

``make_fleet(count, profiles, faults=...)`` builds ``count`` hosts (``lab-0001``... on 127.77.x.y)
and serves them on ports no other test suite uses (HTTP and SSH in 33000-34999 by pid; no HTTPS), so the
fleet tests never meet the e2e suite's labs (25985...) or a developer's lab (5985...). Inventories
default to WinRM Basic over plain HTTP with ``allow_unencrypted`` on both sides, the cheapest
transport, so hundreds of hosts fit the suite's time budget; ``transport="ntlm"`` and per-host
``host_vars`` (e.g. ``connection: ssh``) give the others.

The password reaches the tool only through an environment variable and is distinctive, so the
secrets test can search every output for it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from labfixtures import REPORT_SCHEMA, LabRun, StartLab, merge, play_of, validate_report

from provision_lab import build_fleet, engine_sha256, parse_profiles
from provisioner.engine.host import Event, HostResult

__all__ = ["REPORT_SCHEMA", "validate_report"]  # re-exported for the suite's tests


HTTP_PORT = 33000 + 2 * (os.getpid() % 1000)
SSH_PORT = HTTP_PORT + 1
"""From the pid, in 33000-34999: a fleet's addresses are fixed (lab-0001 is 127.77.0.1), so two runs of
the suite at once (engineers sharing this machine) meet only if their pids agree modulo 1000."""
USER = "provision"
PASSWORD_ENV = "PROVISION_FLEET_PASSWORD"
PASSWORD = "Fl33t-xq7Zk'w$(hostname)\"v9"
"""Distinctive (searched for in every output), with a quote, ``$(...)`` and a double quote; ASCII
because requests encodes Basic credentials as Latin-1."""
SECRET_FORMS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), "Fl33t-xq7Zk")
"""The password, the Basic ``Authorization`` value that carries it, and a distinctive prefix
(a password cut short or re-quoted is still a leak)."""
DOCKER_VERSION = "27.3.1"
REBOOT_SECONDS = 0.2
POLL_INTERVAL = 0.05

_CONNECTIONS: dict[str, dict[str, Any]] = {
    "basic": {
        "connection": "winrm",
        "scheme": "http",
        "port": HTTP_PORT,
        "transport": "basic",
        "allow_unencrypted": True,
    },
    "ntlm": {"connection": "winrm", "scheme": "http", "port": HTTP_PORT, "transport": "ntlm"},
}
SSH_HOST_VARS = {"connection": "ssh", "port": SSH_PORT}
"""Host vars that move one host of a WinRM inventory to SSH (the lab's known_hosts is trusted)."""

PROTOCOL_COUNTERS = ("http.", "wsman.", "ssh.", "bytes.")


def report_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def site_play() -> dict[str, Any]:
    return play_of("site.yml")


@dataclass
class CliRun:
    """One ``provision`` command run in this process."""

    code: int
    out: str
    err: str
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.files["report"].read_text(encoding="utf-8"))
        return report

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.files["events"].read_text(encoding="utf-8").splitlines()]

    def statuses(self) -> dict[str, str]:
        return {h["name"]: h["status"] for h in self.report["hosts"]}


@dataclass
class Fleet(LabRun):
    profile: dict[str, str] = field(default_factory=dict)
    _run: int = 0

    def profiles(self) -> dict[str, str]:
        """Each host's lab profile."""
        return dict(self.profile)

    def counters(self) -> dict[str, Counter[str]]:
        """A copy of every host's lab counters (the lab's own count, not the tool's)."""
        return {name: Counter(model.counters) for name, model in self.hosts.items()}

    def contacted_since(self, before: Mapping[str, Counter[str]]) -> set[str]:
        """Hosts whose endpoints saw any traffic since ``before`` (from :meth:`counters`)."""
        return {
            name
            for name, model in self.hosts.items()
            if any(
                model.counters[k] != before[name][k]
                for k in set(model.counters) | set(before[name])
                if k.startswith(PROTOCOL_COUNTERS)
            )
        }

    # -- files ----------------------------------------------------------------------------------

    def inventory(
        self,
        transport: str = "basic",
        *,
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
        name: str = "inventory.yml",
        **overrides: Any,
    ) -> Path:
        values = merge(
            {
                **_CONNECTIONS[transport],
                "user": USER,
                "password_env": PASSWORD_ENV,
                "known_hosts": str(self.server.known_hosts_path),
                "docker_version": DOCKER_VERSION,
                "docker_sha256": engine_sha256(DOCKER_VERSION),
            },
            overrides,
        )
        return self.write_inventory(values, name=name, host_vars=host_vars)

    def playbook(
        self,
        inventory: Path | None = None,
        *,
        name: str = "site.yml",
        rollout: Mapping[str, Any] | None = None,
        spec: Mapping[str, Any] | None = None,
        reboot: Mapping[str, Any] | None = None,
    ) -> Path:
        """playbooks/site.yml's play on this fleet. Its rollout is replaced by ``rollout`` (default:
        all hosts at once, 50 forks); its reboot policy gets a 10 s timeout; ``spec`` is merged in."""
        play = site_play()
        play["inventory"] = str(inventory or self.inventory())
        play["rollout"] = dict(rollout or {"forks": 50})
        play["reboot"] = merge(merge(play.get("reboot") or {}, {"timeout": 10}), reboot or {})
        play["spec"] = merge(play["spec"], spec or {})
        return self.write_playbook(play, name=name)

    # -- running --------------------------------------------------------------------------------

    def run(
        self, playbook: Path, mode: str = "apply", *, events: list[Event] | None = None, **kwargs: Any
    ) -> list[HostResult]:
        """``run_playbook`` directly."""
        return self.engine(playbook, mode, events=events, **kwargs)

    def upcoming(self, kind: str, suffix: str = "jsonl", ahead: int = 1) -> Path:
        """The file of ``kind`` (report, events, junit) that the next :meth:`cli` call writes, so a
        test can watch it while the command runs."""
        return self.dir / f"run{self._run + ahead}-{kind}.{suffix}"

    def stop(self) -> None:
        """Stop the lab now and wait for run threads the engine abandoned (a hung host, a second
        interrupt) to end, so none of them writes into a later test's output."""
        self.server.stop()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(t.name.startswith("provision-fork-") for t in threading.enumerate()):
            time.sleep(0.02)
        assert not any(t.name.startswith("provision-fork-") for t in threading.enumerate())

    def cli(
        self,
        command: str,
        playbook: Path,
        *args: str | Path,
        report: bool = True,
        events: bool = False,
        junit: bool = False,
    ) -> CliRun:
        """``provision COMMAND PLAYBOOK ARGS`` through ``cli.run`` in this process, with output files
        in the fleet directory; stdout and stderr captured (file descriptors included)."""
        self._run += 1
        files: dict[str, Path] = {}
        argv = [command, str(playbook), *(str(a) for a in args)]
        for kind, wanted, suffix in (("report", report, "json"), ("events", events, "jsonl"), ("junit", junit, "xml")):
            if wanted:
                files[kind] = self.upcoming(kind, suffix, 0)
                argv += [f"--{kind}", str(files[kind])]
        started = time.monotonic()
        code, out, err = self.provision(argv)
        return CliRun(code, out, err, time.monotonic() - started, files)


MakeFleet = Callable[..., Fleet]


@pytest.fixture
def make_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], lab_servers: StartLab
) -> MakeFleet:
    """A factory of one started fleet per test (the ports are fixed); it stops after the test."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    started: list[Fleet] = []

    def make(
        count: int,
        profiles: str,
        faults: str | Mapping[str, Mapping[str, Any]] | None = None,
        *,
        seed: int = 7,
        ssh: bool = False,
        reboot_seconds: float = REBOOT_SECONDS,
    ) -> Fleet:
        assert not started, "one fleet per test: the fleet's addresses and ports are fixed"
        models = build_fleet(count, profiles, seed, reboot_seconds=reboot_seconds, faults_spec=faults)
        server, _ = lab_servers(
            models,
            user=USER,
            password=PASSWORD,
            lab_dir=tmp_path / "lab-state",
            http_port=HTTP_PORT,
            https_port=None,
            ssh_port=SSH_PORT if ssh else None,
            allow_unencrypted=True,
            seed=seed,
        )
        profile = dict(zip((m.name for m in models), parse_profiles(profiles, count, seed), strict=True))
        fleet = Fleet(server, {m.name: m for m in models}, tmp_path, capfd, POLL_INTERVAL, profile=profile)
        started.append(fleet)
        return fleet

    return make


@pytest.fixture
def sigint_guard() -> Iterator[list[int]]:
    """A SIGINT handler around the test, so a signal that arrives after ``cli.run`` restored the
    previous handler is counted instead of ending pytest with KeyboardInterrupt."""
    stray: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stray.append(signum))
    yield stray
    signal.signal(signal.SIGINT, previous)


def follow_events(
    path: Path, predicate: Callable[[list[dict[str, Any]]], bool], action: Callable[[], None], timeout: float = 60.0
) -> threading.Thread:
    """Watch a growing ``--events`` file from a thread; call ``action`` once ``predicate`` holds
    for the complete lines written so far."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
                complete = [json.loads(line) for line in lines if line.endswith("\n")]
                if predicate(complete):
                    action()
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, name="fleet-test-watcher", daemon=True)
    thread.start()
    return thread


def send_sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)
