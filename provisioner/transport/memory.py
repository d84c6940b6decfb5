"""An in-memory Connection: each script goes to a function instead of a host (like httpx's MockTransport).

For tests of everything above the transport (the engine, the rollout, the doctor's readings):
the handler sees the script a host would receive and answers what the host would print, or
raises the TransportError a transport would raise (an HTTP 500, a reset, a timeout), so retries,
reboots and timeouts run in microseconds, with no socket, thread or lab behind them::

    def handler(script: str, timeout: float) -> ScriptResult:
        return ScriptResult('@@provision {"id":"facts","ok":true,"data":{...}}\\n', "", 0)

    connect = lambda host, settings: MemoryConnection(handler, host=host)
    HostRunner(target, "apply", connect).run()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from provisioner.protocol.bootstrap import stdin_for
from provisioner.transport import ScriptResult, TransportCounters, TransportError

__all__ = ["Handler", "MemoryConnection"]

Handler = Callable[[str, float], ScriptResult]
"""``handler(script, timeout)``: what the host prints for the script; may raise TransportError."""


class MemoryConnection:
    """A Connection whose host is ``handler``; counts one message per script, as SSH does.

    ``on_connect``, when given, is called by ``connect`` (and by the first ``run``) and may raise
    the TransportError of a failed log-on. A closed connection refuses to run, as a real one
    whose shell was deleted would.
    """

    def __init__(
        self, handler: Handler, *, host: str = "memory", on_connect: Callable[[float], None] | None = None
    ) -> None:
        self.handler = handler
        self.host = host
        self.on_connect = on_connect
        self.counters = TransportCounters()
        self.connected = False
        self.closed = False

    def connect(self, *, timeout: float) -> None:
        if self.closed:
            raise TransportError(self.host, "the connection is closed", kind="reset", retryable=True)
        if not self.connected:
            if self.on_connect is not None:
                self.on_connect(timeout)
            self.connected = True

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        self.connect(timeout=timeout)
        # What a real transport sends on stdin, the secrets line included; the handler sees the script.
        sent = len(stdin_for(script, secrets))
        self.counters.messages += 1
        self.counters.bytes_sent += sent
        result = self.handler(script, timeout)
        self.counters.scripts += 1
        self.counters.bytes_received += len(result.stdout.encode("utf-8")) + len(result.stderr.encode("utf-8"))
        return result

    def close(self) -> None:
        self.closed = True
