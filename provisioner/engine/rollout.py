"""Running plays over their hosts and turning host statuses into the run's exit code (DESIGN 4.5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from provisioner.engine.host import Event, HostResult, HostRunner
from provisioner.inventory import ConnectionSettings
from provisioner.playbook import Playbook
from provisioner.render import Renderer
from provisioner.transport import Connection

__all__ = ["exit_code", "run_playbook"]


def run_playbook(
    book: Playbook,
    mode: Literal["apply", "check"],
    connect: Callable[[str, ConnectionSettings], Connection],
    *,
    renderer: Renderer | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
    poll_interval: float = 1.0,
) -> list[HostResult]:
    """Every target, one after another, in playbook order."""
    renderer = renderer or Renderer()
    results = []
    for target in book.targets:
        runner = HostRunner(target, mode, connect, renderer=renderer, on_event=on_event, poll_interval=poll_interval)
        results.append(runner.run())
    return results


def exit_code(results: Sequence[HostResult]) -> int:
    """3 when anything failed, was unreachable or halted; 130 interrupted; 2 drift or waiting; else 0."""
    statuses = {r.status for r in results}
    if statuses & {"failed", "unreachable", "halted"}:
        return 3
    if "interrupted" in statuses:
        return 130
    if statuses & {"drift", "reboot_required", "pending_logon"}:
        return 2
    return 0
