"""The lean WS-Man client against pywinrm, the reference: the same scripts, faults, timeouts and
reboots through both, compared byte for byte (issue 18, item 2).

Each scenario runs once through each client, on two scripted hosts of the same lab (so each
client's traffic is counted apart), and yields a list of outcomes: a script's stdout, stderr and
exit code, or the one-line TransportError (kind, retry flag, message) it raised. Both lists must be
equal, and so must the lab's count of WS-Man operations per host. Like the engine, a scenario
closes a connection after an error and opens a new one for the next script.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from provisioner.transport import Connection, TransportError
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.winrm import WinRMConnection
from provisioner.transport.wsman import LeanWinRMConnection
from transport.conftest import AUTHS, NOWHERE, PASSWORD, ScriptedHost, ScriptedLab

Outcome = tuple[Any, ...]
Client = Callable[[ConnectionSettings], Connection]
CLIENTS: dict[str, Client] = {
    "pywinrm": lambda settings: WinRMConnection("h", settings, PASSWORD),
    "lean": lambda settings: LeanWinRMConnection("h", settings, PASSWORD),
}


class Session:
    """Scripts on one host through one client, reconnecting after an error as the engine does."""

    def __init__(self, client: Client, settings: ConnectionSettings) -> None:
        self.client = client
        self.settings = settings
        self.conn: Connection | None = None
        self.outcomes: list[Outcome] = []

    def run(self, script: str, timeout: float = 30.0) -> None:
        if self.conn is None:
            self.conn = self.client(self.settings)
        try:
            result = self.conn.run(script, timeout=timeout)
        except TransportError as exc:
            self.close()
            message = exc.cause.replace(self.settings.address, "<address>")
            if exc.kind == "reset":
                # The OS's words after "dropped:" depend on when the RST lands (ECONNRESET while
                # reading, ENOTCONN during the TLS handshake), not on the client.
                message = message.partition(" dropped: ")[0] + " dropped: <cause>"
            self.outcomes.append(("error", exc.kind, exc.retryable, message))
            return
        self.outcomes.append(("ok", result.stdout, result.stderr, result.exit_code))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


Scenario = Callable[[Session, ScriptedHost, ScriptedLab], None]

UNICODE = (
    "echo\r\nline one \u00e9\u00e8 \u4e2d\u6587 \U0001f433\n\u2028\u2029\u0085 tab\there \"quoted\" 'single' $x `b\n"
)


def scripts_of_every_shape(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    session.run("echo\n" + UNICODE)  # non-ASCII both ways
    session.run("echo\n" + "x" * 300_000 + "\nend\n")  # two Sends (256 KiB each) and several Receives
    session.run("big 3000")  # about 600 kB of output over several Receives
    session.run("fail 4294967295")  # stderr, an unsigned 32-bit exit code
    session.run("fail 1")
    session.run("sleep 1.0")  # Receives time out (w:TimedOut after 0.4 s) and are asked again
    session.run("echo\n")  # an empty stdin's worth
    session.close()
    # The lab writes stdout as a console does (LF as CRLF); the text itself arrives whole.
    assert session.outcomes[0][1].replace("\r\n", "\n") == UNICODE.replace("\r\n", "\n")
    assert session.outcomes[2][1].count("\n") == 3000


def a_script_past_its_deadline(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    session.run("sleep 2.0", timeout=0.9)  # Signal, then the timeout error
    session.run("echo\nafter\n")  # a new shell on a new connection
    session.close()


def http_500_on_every_request(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    host.faults.http_500_rate = 1.0
    session.run("echo\nx\n")
    host.faults.http_500_rate = 0.0
    session.run("echo\nrecovered\n")
    session.close()


def reset_on_every_request(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    host.faults.reset_rate = 1.0
    session.run("echo\nx\n")
    host.faults.reset_rate = 0.0
    session.run("echo\nrecovered\n")
    session.close()


def rejected_credentials(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    host.faults.bad_credentials = True
    session.run("echo\nx\n")
    host.faults.bad_credentials = False
    session.run("echo\nrecovered\n")
    session.close()


def shell_quota(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    host.faults.max_shells_per_user = 1
    holder = session.client(session.settings)
    holder.run("echo\nholds the only shell\n", timeout=30)
    session.run("echo\nx\n")  # Create fails: MaxShellsPerUser
    holder.close()
    session.run("echo\nnow there is room\n")
    session.close()


def a_reboot_between_scripts(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    session.run("echo\nbefore\n")
    host.restart(1.0)
    time.sleep(0.5)  # the lab notices (every 0.2 s): connections dropped, shells forgotten
    session.run("echo\nwhile down\n")
    time.sleep(1.0)
    session.run("echo\nafter the reboot\n")
    session.close()


def an_envelope_over_the_host_limit(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    host.faults.max_envelope_size_kb = 16  # MaxEnvelopeSizekb: the Send of a 20 kB script is too big
    session.run("echo\n" + "y" * 20_000 + "\n")
    host.faults.max_envelope_size_kb = None
    session.run("echo\nsmall\n")
    session.close()


def nothing_listening(session: Session, host: ScriptedHost, lab: ScriptedLab) -> None:
    session.settings = session.settings.model_copy(update={"address": NOWHERE})
    session.run("echo\nx\n")


SCENARIOS: dict[str, Scenario] = {
    "shapes": scripts_of_every_shape,
    "deadline": a_script_past_its_deadline,
    "http500": http_500_on_every_request,
    "reset": reset_on_every_request,
    "credentials": rejected_credentials,
    "quota": shell_quota,
    "reboot": a_reboot_between_scripts,
    "refused": nothing_listening,
    "envelope": an_envelope_over_the_host_limit,
}

EXPECTED = {
    "shapes": ["ok"] * 7,
    "deadline": ["timeout", "ok"],
    "http500": ["http", "ok"],
    "reset": ["reset", "ok"],
    "credentials": ["auth", "ok"],
    "quota": ["quota", "ok"],
    "reboot": ["ok", "reset", "ok"],
    "refused": ["refused"],
    "envelope": ["http", "ok"],
}
"""What each scenario must produce (``ok`` or the error kind), so agreeing on nothing cannot pass."""

TIMING = {"deadline": {"wsman.Receive", "wsman.fault.TimedOut"}, "shapes": {"wsman.Receive", "wsman.fault.TimedOut"}}
"""Counters that depend on the clock: how many idle Receives fit in a sleep."""


def run_through(client: str, scenario: Scenario, lab: ScriptedLab, auth: str) -> tuple[list[Outcome], Counter[str]]:
    host = lab.host()
    host.counters["reserved"] = 1
    session = Session(CLIENTS[client], lab.settings(host, auth))
    scenario(session, host, lab)
    time.sleep(0.05)  # a Delete's answer may still be counted after close returns
    return session.outcomes, host.wsman()


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lean_client_matches_pywinrm(scripted_lab: ScriptedLab, auth: str, name: str) -> None:
    reference, reference_counts = run_through("pywinrm", SCENARIOS[name], scripted_lab, auth)
    lean, lean_counts = run_through("lean", SCENARIOS[name], scripted_lab, auth)

    assert lean == reference
    assert [o[0] if o[0] == "ok" else o[1] for o in reference] == EXPECTED[name]
    if name in TIMING:  # every message but the idle Receives must agree
        for counts in (lean_counts, reference_counts):
            counts["wsman.messages"] -= counts["wsman.Receive"]
    for key in TIMING.get(name, ()):
        assert (lean_counts.pop(key, 0) > 0) == (reference_counts.pop(key, 0) > 0), key
    assert lean_counts == reference_counts
