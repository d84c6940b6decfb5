"""The apply script's transport timeout comes from its blocks' own timeouts (windows-audit.md F3).

The lab models an installer's run on the machine's clock, not the wall clock, so it cannot make a
real 600 s pass; what it shows is what the controller gives the transport for each script, while the
installers inside that script are allowed ``install_timeout`` each (1,800 s by default)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from provisioner.engine import rollout
from provisioner.transport import Connection, ScriptResult, TransportCounters
from provisioner.transport.connect import Connector
from provisioner.transport.settings import ConnectionSettings

from .conftest import DesktopLab, workstation_play

_BLOCK_TYPES = re.compile(r'^#@provision-begin \{.*?"type":"([a-z_]+)"', re.MULTILINE)


@dataclass
class _Recorded:
    """A connection that remembers the timeout each script was given, with the block types it held."""

    inner: Connection
    log: list[tuple[list[str], float]]
    counters: TransportCounters = field(init=False)

    def __post_init__(self) -> None:
        self.counters = self.inner.counters

    def connect(self, *, timeout: float) -> None:
        self.inner.connect(timeout=timeout)

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        self.log.append((_BLOCK_TYPES.findall(script), timeout))
        return self.inner.run(script, timeout=timeout, secrets=secrets)

    def close(self) -> None:
        self.inner.close()


def test_the_apply_script_with_both_installers_gets_their_timeouts_and_more(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    play = workstation_play()
    # host_timeout is the user's hard deadline per host and caps every script: make it not the limit here.
    play.update(inventory=str(lab.inventory("winrm-ntlm-https")), hosts="workstations")
    play.update(rollout={"forks": 8, "host_timeout": 100_000}, reboot={**play["reboot"], "timeout": 10})
    playbook = lab.write_playbook(play, name="ws-timeouts.yml")
    log: list[tuple[list[str], float]] = []
    connector = Connector()

    def connect(host: str, settings: ConnectionSettings) -> Connection:
        return _Recorded(connector(host, settings), log)

    (result,) = rollout.run_playbook(lab.load(playbook), "apply", connect)

    assert result.status == "pending_logon", result.message
    installer_scripts = [(types, t) for types, t in log if "docker_desktop" in types]
    assert installer_scripts, log
    install_timeout = 1800.0  # workstations.yml leaves engine.install_timeout at its default
    for types, timeout in installer_scripts:
        installers = types.count("docker_desktop") + types.count("wsl_package")
        # Each installer's own timeout, and room for its download and the rest of the script.
        assert timeout > installers * install_timeout, (types, timeout)
