"""End-to-end fixtures: a lab of simulated Windows hosts, an inventory and a playbook, and ways to run them.

``e2e_lab`` (function-scoped) is a factory: ``e2e_lab({"web1": "server2022", "bad": ("win10-home", Faults())})``
builds the hosts and starts a :class:`LabServer` (through tests/labfixtures.py) on unusual ports (so a lab a
developer runs on 5985/5986/2222 is left alone) on fresh 127.77.x.y addresses, with a lab
directory under ``tmp_path`` and a password holding quotes and ``$`` that reaches the tool only
through an environment variable. The returned :class:`E2ELab` writes inventories (WinRM+NTLM over
HTTPS trusting the lab CA, SSH checking the lab's known_hosts, and HTTP variants) and playbooks
whose spec is the one of ``playbooks/site.yml``, and runs them through the engine
(:meth:`E2ELab.run`) or the command line (:meth:`E2ELab.cli`). Playbooks poll a reboot every
``POLL_INTERVAL`` seconds (``reboot.poll_interval``), since simulated reboots are short.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from labfixtures import AddressBlock, HostDef, LabRun, StartLab, make_hosts, merge, play_of

from provision_lab import engine_sha256
from provisioner.engine import rollout
from provisioner.engine.host import Event, HostResult

REPO = Path(__file__).resolve().parents[2]
SITE_YML = REPO / "playbooks" / "site.yml"

HTTP_PORT, HTTPS_PORT, SSH_PORT = 25985, 25986, 22222
"""Not the lab's defaults (5985, 5986, 2222), so a lab someone runs on this machine is never touched."""
USER = "provision"
PASSWORD_ENV = "PROVISION_E2E_PASSWORD"
PASSWORD = "e2e'Pa$$w0rd\"$(whoami)` ;x"
"""A quote, a double quote, ``$``, ``$(...)`` and a backtick: it must reach the lab unchanged. ASCII
only: requests encodes Basic credentials as Latin-1."""
DOCKER_VERSION = "27.3.1"
REBOOT_SECONDS = 0.3
POLL_INTERVAL = 0.1

TRANSPORTS = ("winrm-ntlm-https", "winrm-ntlm-https-pywinrm", "ssh")
"""The ways every end-to-end behaviour is proven: WinRM with NTLM over HTTPS through the lean client
and through pywinrm (the reference), and SSH."""

_CONNECTIONS: dict[str, dict[str, Any]] = {
    "winrm-ntlm-https": {"connection": "winrm", "scheme": "https", "port": HTTPS_PORT, "transport": "ntlm"},
    "winrm-ntlm-https-pywinrm": {
        "connection": "winrm",
        "scheme": "https",
        "port": HTTPS_PORT,
        "transport": "ntlm",
        "winrm_client": "pywinrm",
    },
    "winrm-ntlm-http": {"connection": "winrm", "scheme": "http", "port": HTTP_PORT, "transport": "ntlm"},
    "winrm-basic-http": {
        "connection": "winrm",
        "scheme": "http",
        "port": HTTP_PORT,
        "transport": "basic",
        "allow_unencrypted": True,
    },
    "winrm-basic-https": {"connection": "winrm", "scheme": "https", "port": HTTPS_PORT, "transport": "basic"},
    "ssh": {"connection": "ssh", "port": SSH_PORT},
}

_BLOCK = 200 + os.getpid() % 50
"""This run's 127.77.<block>.0/24, from the pid: two runs of the suite at once seldom meet."""
_ADDRESSES = AddressBlock(77, _BLOCK, blocks=250 - _BLOCK)


def fresh_address() -> str:
    """A loopback address in 127.77.200.0 to 127.77.249.255 that no other lab of this test run has
    used (the lab's own fleets start at 127.77.0.1)."""
    return _ADDRESSES.fresh()


def site_play() -> dict[str, Any]:
    """The first play of playbooks/site.yml, as data."""
    return play_of("site.yml")


def canonical_daemon_json(settings: Mapping[str, Any]) -> str:
    """daemon.json as DESIGN 4.3 says it is written: sorted keys, UTF-8 (two-space indent, final newline)."""
    return json.dumps(dict(settings), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def block_markers(script: str) -> list[dict[str, Any]]:
    """The JSON of every ``#@provision-begin`` marker in a script, in order (DESIGN 4.1)."""
    return [json.loads(m.group(1)) for m in re.finditer(r"^#@provision-begin (\{.*\})\s*$", script, re.MULTILINE)]


@dataclass
class RunOutcome:
    """One run through the engine: the results, every event, and the exit code."""

    results: list[HostResult]
    events: list[Event]
    code: int

    def host(self, name: str) -> HostResult:
        return next(r for r in self.results if r.name == name)

    def events_of(self, name: str, kind: str | None = None) -> list[Event]:
        return [e for e in self.events if e.host == name and (kind is None or e.kind == kind)]


@dataclass
class CliOutcome:
    """One ``provision`` command: exit code, what it printed, and the report when one was asked for."""

    code: int
    out: str
    err: str
    report: dict[str, Any] | None = None

    def report_host(self, name: str) -> dict[str, Any]:
        assert self.report is not None, "no --report was written"
        return next(h for h in self.report["hosts"] if h["name"] == name)


@dataclass
class E2ELab(LabRun):
    _reports: Iterator[int] = field(default_factory=itertools.count)

    def counters(self, name: str) -> Counter[str]:
        """A copy of a host's request counters (the lab's own count, not the tool's)."""
        return Counter(self.hosts[name].counters)

    def snapshot(self, name: str) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.hosts[name].snapshot()
        return snapshot

    # -- files ----------------------------------------------------------------------------------

    def inventory(
        self,
        transport: str = "winrm-ntlm-https",
        *,
        name: str | None = None,
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
        **overrides: Any,
    ) -> Path:
        """An inventory of every lab host in group ``windows``; ``overrides`` change the ``all`` vars
        (None removes one). Connection paths are the lab's CA and known_hosts."""
        values: dict[str, Any] = {
            **_CONNECTIONS[transport],
            "user": USER,
            "password_env": PASSWORD_ENV,
            "ca_bundle": str(self.server.ca_path),
            "known_hosts": str(self.server.known_hosts_path),
            "docker_version": DOCKER_VERSION,
            "docker_sha256": engine_sha256(DOCKER_VERSION),
        }
        return self.write_inventory(
            merge(values, overrides), name=name or f"inventory-{transport}.yml", host_vars=host_vars
        )

    def playbook(
        self,
        inventory: Path,
        *,
        name: str = "site.yml",
        spec: Mapping[str, Any] | None = None,
        reboot: Mapping[str, Any] | None = None,
        rollout: Mapping[str, Any] | None = None,
        play_vars: Mapping[str, Any] | None = None,
    ) -> Path:
        """playbooks/site.yml's play, for this lab's inventory: its spec with ``spec`` merged in; its
        reboot policy with a 10 s timeout and ``reboot`` merged in; a rollout of all hosts at once
        (site.yml's canary batches and 5% threshold would halt the failure tests' other hosts)."""
        play = site_play()
        play["inventory"] = str(inventory)
        play["spec"] = merge(play["spec"], spec or {})
        play["reboot"] = merge(merge(play.get("reboot") or {}, {"timeout": 10}), reboot or {})
        play["rollout"] = merge({"forks": 8}, rollout or {})
        if play_vars:
            play["vars"] = dict(play_vars)
        return self.write_playbook(play, name=name)

    def setup(
        self,
        transport: str = "winrm-ntlm-https",
        *,
        spec: Mapping[str, Any] | None = None,
        reboot: Mapping[str, Any] | None = None,
        host_vars: Mapping[str, Mapping[str, Any]] | None = None,
        **inventory_overrides: Any,
    ) -> Path:
        """An inventory for ``transport`` and a site.yml playbook on it; returns the playbook."""
        inventory = self.inventory(transport, host_vars=host_vars, **inventory_overrides)
        return self.playbook(inventory, name=f"site-{transport}.yml", spec=spec, reboot=reboot)

    # -- running --------------------------------------------------------------------------------

    def run(self, playbook: Path, mode: str = "apply") -> RunOutcome:
        """The engine directly (``run_playbook``); every event kept."""
        events: list[Event] = []
        results = self.engine(playbook, mode, events=events)
        return RunOutcome(results, events, rollout.exit_code(results))

    def cli(self, *argv: str | Path, report: bool = False) -> CliOutcome:
        """``provision ARGV`` in this process (``cli.run``); with ``report``, ``--report`` into the lab dir."""
        args = [str(a) for a in argv]
        report_file = None
        if report:
            report_file = self.dir / f"report-{next(self._reports)}.json"
            args += ["--report", str(report_file)]
        code, out, err = self.provision(args)
        data = json.loads(report_file.read_text(encoding="utf-8")) if report_file else None
        return CliOutcome(code, out, err, data)


@pytest.fixture
def e2e_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lab_servers: StartLab
) -> Callable[..., E2ELab]:
    """A factory of started labs (see the module docstring); every lab stops after the test."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    count = itertools.count()

    def make(
        hosts: Mapping[str, HostDef],
        *,
        allow_unencrypted: bool = False,
        seed: int | None = None,
        reboot_seconds: float = REBOOT_SECONDS,
    ) -> E2ELab:
        models = make_hosts(hosts, fresh_address, reboot_seconds)
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
            allow_unencrypted=allow_unencrypted,
            seed=seed,
        )
        return E2ELab(server, models, lab_dir, capsys, POLL_INTERVAL, scripts)

    return make


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs over WinRM+NTLM+HTTPS (both clients) and over SSH."""
    return str(request.param)
