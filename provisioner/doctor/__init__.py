"""``provision doctor``: check, host by host and step by step, what a run depends on, and say how
to fix the first thing that fails.

Each host goes through the steps of its connection in order and stops at the first one that
fails, because every later step needs the earlier ones (anchors.md section 7, pain points 4 and
5: auth and WinRM bootstrap problems are the ones users cannot diagnose from a failed run):

- WinRM: ``resolve`` (getaddrinfo), ``tcp`` (connect), ``tls`` (HTTPS only: handshake and the
  certificate chain, checked against the CA store the run's WinRM client uses), ``auth`` (open one WinRS
  shell, as a run does), ``roundtrip`` (a script that echoes a marker, through the same
  ``POWERSHELL_COMMAND`` bootstrap as real runs), ``powershell`` ($PSVersionTable), ``admin``
  (WindowsPrincipal.IsInRole) and ``limits`` (the WSMan settings that break provisioning).
- SSH: ``resolve``, ``tcp`` (and the SSH banner), ``hostkey`` (known_hosts), ``auth``,
  ``roundtrip``, ``powershell``, ``admin``.

Every step prints one line: ``ok: ...`` or ``FAILED: <cause>; fix: <what to do>``. The
PowerShell readings travel as a ``diagnostics`` block (templates/resources/diagnostics.ps1.j2)
with the record protocol of every other block (DESIGN 4.1), so the lab answers them from its
host model like any block. Windows facts and fix commands cite their sources inline; "WP" is
research/winrm-protocol.md, "Ansible setup" is ansible-documentation
docs/docsite/rst/os_guide/windows_setup.rst and "Ansible winrm" its windows_winrm.rst.

One module per group of steps, each class building on the one before: ``base`` (what a host's
steps share), ``network`` (resolve, tcp), ``tls``, ``ssh`` (hostkey), ``auth``, ``readings``
(roundtrip, powershell, admin, limits) and ``check`` (the order, and the stop at the first
failure); ``results`` holds what they find, ``fixes`` the fix texts, ``needs`` the WinRM limits a
run needs. This module runs them over the fleet.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provisioner.doctor.check import HostCheck
from provisioner.doctor.needs import REQUIRED_ENVELOPE_KB, REQUIRED_MEMORY_PER_SHELL_MB, REQUIRED_SHELLS_PER_USER
from provisioner.doctor.results import SSH_STEPS, WINRM_STEPS, HostDiagnosis, Step, format_step
from provisioner.errors import InputError, LoadError
from provisioner.render import Renderer
from provisioner.transport.settings import ConnectionSettings

__all__ = [
    "REQUIRED_ENVELOPE_KB",
    "REQUIRED_MEMORY_PER_SHELL_MB",
    "REQUIRED_SHELLS_PER_USER",
    "SSH_STEPS",
    "WINRM_STEPS",
    "Doctor",
    "HostDiagnosis",
    "Step",
    "command",
    "diagnose_all",
    "format_step",
]

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 3, 130
"""cli.py's exit codes (DESIGN 4.5): 0 every host passed every step, 3 some host failed one, 130 interrupted."""


def _one_at_a_time(ask: Callable[[], str | None]) -> Callable[[], str | None]:
    """``ask`` behind a lock: hosts are checked in parallel, and two threads reaching an unanswered
    ``--ask-pass`` prompt at once would both prompt on the terminal."""
    lock = threading.Lock()

    def serialized() -> str | None:
        with lock:
            return ask()

    return serialized


class Doctor:
    """Diagnoses hosts; one instance serves many hosts from several threads.

    Args:
        ask_pass: the ``--ask-pass`` prompt (asked once), as for a run.
        timeout: seconds for each connect, handshake and diagnostics script.
        renderer: the templates (``--templates``), as for a run.
    """

    def __init__(
        self,
        *,
        ask_pass: Callable[[], str | None] | None = None,
        timeout: float = 30.0,
        renderer: Renderer | None = None,
    ) -> None:
        self.ask_pass = _one_at_a_time(ask_pass) if ask_pass is not None else None
        self.timeout = timeout
        self.renderer = renderer or Renderer()

    def diagnose(
        self, name: str, settings: ConnectionSettings, on_step: Callable[[Step], None] | None = None
    ) -> HostDiagnosis:
        """Run one host's steps in order, stopping at the first failure."""
        check = HostCheck(name, settings, timeout=self.timeout, ask_pass=self.ask_pass, renderer=self.renderer)
        scheme = settings.connection if settings.connection == "ssh" else f"winrm+{settings.scheme}"
        diagnosis = HostDiagnosis(
            name, f"{scheme}://{settings.address}:{settings.effective_port}", expected=check.expected()
        )
        for step in check.run():
            diagnosis.steps.append(step)
            if on_step is not None:
                on_step(step)
        return diagnosis


def diagnose_all(
    targets: Sequence[tuple[str, ConnectionSettings]],
    doctor: Doctor,
    *,
    forks: int = 16,
    on_host: Callable[[HostDiagnosis], None] | None = None,
) -> list[HostDiagnosis]:
    """Diagnose hosts in parallel; ``on_host`` sees each result in the order of ``targets``.

    On an interruption the hosts not started are dropped and the exception propagates at once;
    checks in flight end by their own timeouts.
    """
    results: list[HostDiagnosis] = []
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(targets) or 1)), thread_name_prefix="doctor")
    finished = False
    try:
        futures = [pool.submit(doctor.diagnose, name, settings) for name, settings in targets]
        for future in futures:
            result = future.result()
            results.append(result)
            if on_host is not None:
                on_host(result)
        finished = True
    finally:
        pool.shutdown(wait=finished, cancel_futures=True)
    return results


def command(
    *,
    playbook: Path | None,
    inventory: Path | None,
    limit: str | None,
    ask_pass: Callable[[], str | None] | None,
    timeout: float = 30.0,
    forks: int = 16,
    templates: Path | None = None,
    out: Callable[[str], None] = print,
    announce: Callable[[str], None] | None = None,
) -> int:
    """``provision doctor``: load the hosts, print one line per step and a summary; 0 when every
    host passed every step, 3 otherwise. Bad input raises InputError (the CLI prints it and exits 1)."""
    from provisioner.playbook import facts_targets, load_playbook

    say = announce or (lambda text: print(text, file=sys.stderr))
    if playbook is not None:
        book = load_playbook(playbook, inventory=inventory, limit=limit)
        seen: dict[str, ConnectionSettings] = {}
        for target in book.targets:
            seen.setdefault(target.name, target.connection)
        targets = list(seen.items())
        inventories = [play.inventory for play in book.plays]
    elif inventory is not None:
        found = facts_targets(inventory, limit)
        targets = [(t.name, t.connection) for t in found]
        inventories = [found[0].play.inventory]
    else:
        raise InputError(
            [LoadError(None, None, None, (), "provision doctor needs an inventory (-i FILE) or a playbook")]
        )
    doctor = Doctor(ask_pass=ask_pass, timeout=timeout, renderer=Renderer(templates))
    width = max(len(name) for name, _ in targets)

    def show(diagnosis: HostDiagnosis) -> None:
        for step in diagnosis.steps:
            out(format_step(diagnosis.name, step, width))

    try:
        results = diagnose_all(targets, doctor, forks=forks, on_host=show)
    except KeyboardInterrupt:
        out("doctor: interrupted")
        return EXIT_INTERRUPTED
    failed = [r for r in results if not r.ok]
    passed = len(results) - len(failed)
    summary = f"doctor: {passed} of {len(results)} host{'s' if len(results) != 1 else ''} ready"
    if failed:
        summary += "; failed: " + ", ".join(f"{r.name} ({r.failed.name if r.failed else '?'})" for r in failed)
    out(summary)
    lab_inventory = any("provision_lab" in inventory.groups["all"].vars for inventory in inventories)
    if lab_inventory and any(r.failed is not None and r.failed.name in ("tcp", "tls", "auth") for r in failed):
        # The lab is its own program (lab/, provision-lab), which this tool neither imports nor starts.
        say('lab: start the lab with `provision-lab up` and export PROVISION_LAB_PASSWORD="$(provision-lab password)"')
    return EXIT_OK if not failed else EXIT_FAILED
