"""Fixtures for the lab's protocol tests: a test-only host and a factory of running labs.

The hosts here are not the lab's host model: ``ScriptHost.run_script`` echoes the script (or
does what a test asks), so these tests exercise only the WinRM and SSH endpoints.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provision_lab.api import ExecResult, Faults
from provision_lab.server import LabServer

REPO = Path(__file__).resolve().parents[2]
"""The repository the lab lives in (its committed inventories/lab.yml is what `provision-lab up` writes)."""


@pytest.fixture
def repo() -> Path:
    return REPO


# Each test run takes its own 127.x.0.0/16 (x from the pid), so concurrent runs on this machine
# and listeners of earlier tests never meet.
_NETWORK = 100 + os.getpid() % 100
_next_address = itertools.count(1)
_address_lock = threading.Lock()


def _fresh_addresses(count: int) -> list[str]:
    """Loopback addresses no other lab of this test run has used."""
    with _address_lock:
        numbers = [next(_next_address) for _ in range(count)]
    return [f"127.{_NETWORK}.{n // 250}.{n % 250 + 1}" for n in numbers]


def echo(script: str) -> ExecResult:
    """The default behaviour of a test host: print the script back."""
    return ExecResult(stdout=script, stderr="", exit_code=0)


@dataclass
class ScriptHost:
    """A LabHost for protocol tests: records scripts and answers with ``behaviour``."""

    name: str
    address: str
    faults: Faults = field(default_factory=Faults)
    counters: Counter[str] = field(default_factory=Counter)
    up: bool = True
    behaviour: Callable[[str], ExecResult] = echo
    scripts: list[str] = field(default_factory=list)

    def is_up(self) -> bool:
        return self.up

    def run_script(self, script: str) -> ExecResult:
        self.scripts.append(script)
        return self.behaviour(script)


@dataclass
class RunningLab:
    """A started lab, its test hosts and the account they accept."""

    server: LabServer
    hosts: list[ScriptHost]
    user: str
    password: str

    @property
    def host(self) -> ScriptHost:
        return self.hosts[0]


MakeLab = Callable[..., RunningLab]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[MakeLab]:
    """Start a lab of ``hosts`` fresh test hosts (of ``kind``) on the default ports; all stop after the test.

    Other keyword arguments go to :class:`LabServer` (``allow_unencrypted``, ``limits``, ...).
    """
    labs: list[LabServer] = []

    def make(hosts: int = 1, *, kind: type[ScriptHost] = ScriptHost, **settings: Any) -> RunningLab:
        members = [kind(f"win-{a.replace('.', '-')}", a) for a in _fresh_addresses(hosts)]
        options: dict[str, Any] = {
            "user": "vagrant",
            "password": "Lab:Pässw0rd!",
            "lab_dir": tmp_path / f"lab{len(labs)}",
        }
        options.update(settings)
        server = LabServer(members, **options)
        labs.append(server)
        server.start()
        return RunningLab(server, members, options["user"], options["password"])

    yield make
    for server in labs:
        server.stop()
