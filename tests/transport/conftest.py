"""A lab whose hosts run scripted programs, for holding the two WinRM clients to the same behaviour.

``ScriptedHost`` is a :class:`~provision_lab.api.LabHost` that knows no Windows: a script's first
line names a program (``echo``, ``big``, ``sleep``...) whose output is fixed, so what a client
returns can be compared byte for byte. The lab's real WS-Man endpoint serves it, with its faults,
quotas and NTLM sealing; ``max_timeout_ms`` is 400 ms so an idle Receive times out (and is asked
again) quickly. Ports 15985/15986/12222 on 127.77.250-254.x (from the pid), apart from every other lab of
the test suite and from one a developer runs.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from provision_lab.api import ExecResult, Faults
from provision_lab.server import LabServer
from provision_lab.wsman import WinRSLimits
from provisioner.transport.settings import ConnectionSettings

HTTP_PORT, HTTPS_PORT, SSH_PORT = 15985, 15986, 12222
USER = "provision"
PASSWORD = "tr'Pa$$w0rd\"$(x)`"
"""Quotes, ``$`` and a backtick: the password must reach the host unchanged through both clients."""
OPERATION_SECONDS = 0.4
"""The lab's MaxTimeoutms: a Receive with no output answers w:TimedOut after this long."""

_addresses = itertools.count(0)
_lock = threading.Lock()
_BLOCK = 250 + os.getpid() % 5


NOWHERE = f"127.77.{_BLOCK}.250"
"""An address no lab listens on (the scripted hosts take .1 to .120): connections are refused."""


def fresh_address() -> str:
    with _lock:
        n = next(_addresses)
    return f"127.77.{_BLOCK}.{n % 200 + 1}"


def program_output(script: str) -> ExecResult:
    """What a scripted host prints for ``script``: its first line is ``PROGRAM ARG...``."""
    head, _, rest = script.partition("\n")
    program, *args = head.split(" ")
    if program == "echo":  # stdin comes back: the script travelled intact
        return ExecResult(rest, "", 0)
    if program == "big":  # more output than one Receive holds (MaxEnvelopeSize 153600)
        line = "0123456789abcdef\u00e9\u2028\u4e2d" * 10
        return ExecResult("".join(f"{i:06d} {line}\n" for i in range(int(args[0]))), "", 0)
    if program == "fail":  # stderr as PowerShell writes it, and an unsigned 32-bit exit code
        return ExecResult("partial\n", "Write-Error: it broke \u00fc\n", int(args[0]))
    if program == "sleep":
        time.sleep(float(args[0]))
        return ExecResult("slept\n", "", 0)
    return ExecResult("", f"unknown program {program!r}\n", 9009)


@dataclass
class ScriptedHost:
    """A lab host that runs :func:`program_output`; ``down`` makes it drop off the network."""

    name: str
    address: str
    faults: Faults = field(default_factory=Faults)
    counters: Counter[str] = field(default_factory=Counter)
    down_until: float = 0.0

    def is_up(self) -> bool:
        return time.monotonic() >= self.down_until

    def run_script(self, script: str) -> ExecResult:
        self.counters["scripts"] += 1
        return program_output(script)

    def restart(self, seconds: float) -> None:
        """Go down now for ``seconds``, as a reboot does: connections drop, shells are forgotten."""
        self.down_until = time.monotonic() + seconds

    def wsman(self) -> Counter[str]:
        """The lab's count of WS-Man operations on this host (Create, Command, ... , faults)."""
        return Counter({k: v for k, v in self.counters.items() if k.startswith("wsman.")})


@dataclass
class ScriptedLab:
    server: LabServer
    allow_unencrypted: bool
    hosts: list[ScriptedHost]

    def host(self) -> ScriptedHost:
        """A host of its own for one client's run (its counters are that run's alone)."""
        free = [h for h in self.hosts if not h.counters]
        if not free:
            raise RuntimeError("the scripted lab has no unused host left")
        return free[0]

    def settings(self, host: ScriptedHost, auth: str, **changes: Any) -> ConnectionSettings:
        """Connection settings for ``auth``: ``basic-http``, ``ntlm-http``, ``ntlm-https``, ``basic-https``."""
        transport, scheme = auth.split("-")
        values: dict[str, Any] = {
            "address": host.address,
            "scheme": scheme,
            "port": HTTP_PORT if scheme == "http" else HTTPS_PORT,
            "transport": transport,
            "user": USER,
            "allow_unencrypted": transport == "basic" and scheme == "http",
            "ca_bundle": str(self.server.ca_path),
        }
        values.update(changes)
        return ConnectionSettings(**values)


AUTHS = ("basic-http", "ntlm-http", "ntlm-https")


@pytest.fixture(scope="module")
def scripted_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptedLab]:
    """120 scripted hosts behind the lab's WS-Man endpoint (allow_unencrypted on: Basic over HTTP)."""
    hosts = [ScriptedHost(f"s{i:03d}", fresh_address()) for i in range(120)]
    server = LabServer(
        hosts,
        user=USER,
        password=PASSWORD,
        lab_dir=tmp_path_factory.mktemp("scripted-lab"),
        http_port=HTTP_PORT,
        https_port=HTTPS_PORT,
        ssh_port=SSH_PORT,
        allow_unencrypted=True,
        limits=WinRSLimits(max_timeout_ms=int(OPERATION_SECONDS * 1000)),
    )
    server.start()
    try:
        yield ScriptedLab(server, True, hosts)
    finally:
        server.stop()
