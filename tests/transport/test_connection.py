"""The Connection protocol (transport/__init__.py): one signature for every transport, and the
in-memory one (transport/memory.py) that the engine tests drive."""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from protocol.test_boundary import product_imports

from provisioner.transport import Connection, ScriptResult, TransportError
from provisioner.transport.memory import MemoryConnection
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.ssh import SSHConnection
from provisioner.transport.winrm import WinRMConnection
from provisioner.transport.wsman import LeanWinRMConnection

TRANSPORTS = [WinRMConnection, LeanWinRMConnection, SSHConnection, MemoryConnection]


@pytest.mark.parametrize("method", ["connect", "run", "close"])
@pytest.mark.parametrize("cls", TRANSPORTS, ids=lambda cls: cls.__name__)
def test_every_transport_has_the_protocols_signature(cls: type, method: str) -> None:
    """mypy checks the classes against the Protocol where they are used; this also catches a
    parameter that is positional in one and keyword-only in another (connect() once was both)."""
    ours = inspect.signature(getattr(cls, method))
    protocol = inspect.signature(getattr(Connection, method))
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.kind) for p in protocol.parameters.values()
    ]


def test_memory_connection_hands_scripts_to_its_handler_and_counts_them() -> None:
    seen: list[tuple[str, float]] = []

    def handler(script: str, timeout: float) -> ScriptResult:
        seen.append((script, timeout))
        return ScriptResult("out\u00e9", "err", 3)

    conn: Connection = MemoryConnection(handler)
    result = conn.run("Write-Output 'x'", timeout=7.5)
    assert result == ScriptResult("out\u00e9", "err", 3)
    assert seen == [("Write-Output 'x'", 7.5)]
    counters = conn.counters
    # What a real transport sends on stdin: an empty secrets line, then the script.
    assert (counters.scripts, counters.messages, counters.bytes_sent, counters.bytes_received) == (1, 1, 17, 8)


def test_a_failed_logon_is_raised_by_connect_and_by_the_first_run() -> None:
    attempts: list[float] = []

    def refuse(timeout: float) -> None:
        attempts.append(timeout)
        raise TransportError("h", "authentication failed", kind="auth")

    conn = MemoryConnection(lambda script, timeout: ScriptResult("", "", 0), on_connect=refuse)
    with pytest.raises(TransportError, match="authentication failed"):
        conn.connect(timeout=2)
    with pytest.raises(TransportError, match="authentication failed"):
        conn.run("x", timeout=9)
    assert attempts == [2, 9]
    assert conn.counters.scripts == 0


def test_a_handlers_transport_error_reaches_the_caller_uncounted_as_a_script() -> None:
    def fail(script: str, timeout: float) -> ScriptResult:
        raise TransportError("h", "HTTP 500 from the WinRM service", kind="http", retryable=True)

    conn = MemoryConnection(fail)
    with pytest.raises(TransportError) as raised:
        conn.run("x", timeout=1)
    assert raised.value.retryable and raised.value.kind == "http"
    assert (conn.counters.scripts, conn.counters.messages) == (0, 1)


def test_a_closed_memory_connection_refuses_to_run() -> None:
    conn = MemoryConnection(lambda script, timeout: ScriptResult("", "", 0))
    conn.close()
    with pytest.raises(TransportError) as raised:
        conn.run("x", timeout=1)
    assert raised.value.kind == "reset"


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung WinRM service)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    listener.close()


@pytest.mark.parametrize("cls", [LeanWinRMConnection, WinRMConnection], ids=lambda cls: cls.__name__)
def test_connect_gives_up_within_its_timeout(
    cls: type[LeanWinRMConnection | WinRMConnection], silent_listener: int
) -> None:
    """Without the bound, a log-on to a host that accepts and never answers waits for the clients'
    usual 30-second read timeout."""
    settings = ConnectionSettings(address="127.0.0.1", port=silent_listener, scheme="http", user="u")
    conn = cls("h", settings, "pw")
    started = time.monotonic()
    with pytest.raises(TransportError) as raised:
        conn.connect(timeout=1)
    assert raised.value.kind == "timeout"
    assert time.monotonic() - started < 10
    conn.close()


def test_no_transport_imports_the_loader() -> None:
    """ConnectionSettings lives in transport/settings.py: the transports build on the contract and
    their settings, never on the inventory or playbook loader (issue 14 item 3)."""
    package = Path(__file__).resolve().parents[2] / "provisioner" / "transport"
    imports = set().union(*(product_imports(path) for path in package.glob("*.py")))
    assert {m for m in imports if m.startswith(("provisioner.inventory", "provisioner.playbook"))} == set()
    assert "provisioner.protocol.bootstrap" in imports
