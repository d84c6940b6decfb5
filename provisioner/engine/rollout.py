"""Running plays over fleets: forks, serial batches, failure thresholds, interruption (DESIGN 4.7).

Hosts run on threads: pywinrm and paramiko are blocking libraries, so an asyncio engine would
run the same calls in a thread pool anyway and add a loop on top. bench/forks.py measures both:
about 40 us of controller CPU per host with threads against about 185 us with asyncio and
``to_thread`` (1,000 hosts, 100 at once), both negligible beside a WS-Man message (about 2 ms). Threads are daemons, so a host stuck in a socket call past its ``host_timeout``
is abandoned (reported ``failed``) instead of holding up the batch or the process's exit.
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from provisioner.engine.host import Event, HostResult, HostRunner
from provisioner.playbook import Playbook, Target
from provisioner.render import Renderer
from provisioner.spec import RolloutPolicy
from provisioner.transport import Connection
from provisioner.transport.settings import ConnectionSettings

__all__ = ["ABANDON_GRACE", "Interrupt", "ResultSink", "batches", "exit_code", "halt_reason", "not_run", "run_playbook"]

ABANDON_GRACE = 1.0
"""Seconds past ``host_timeout`` before a host whose thread has not returned is given up on and
reported ``failed``. The runner ends itself at its deadline between transport calls, but a call
blocked in a socket read can last up to one read timeout (30 s) longer; ``host_timeout`` is a hard
deadline (DESIGN 4.7), so the batch does not wait for it."""


class ResultSink(Protocol):
    """Where each host's final result goes as it ends, with the target it ran (the run history:
    ``provisioner.state.recorder.StoreSink``). Called from the fork threads, once per host."""

    def host_result(self, target: Target, result: HostResult) -> None: ...


@dataclass
class Interrupt:
    """Ctrl-C / SIGTERM state shared with the running hosts.

    The first signal sets ``stop``: no new host starts, and hosts in flight end after their
    current script with status ``interrupted``. The second sets ``abort``: the run returns at
    once with what it has.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)

    def signal(self) -> None:
        if self.stop.is_set():
            self.abort.set()
        self.stop.set()


def batches(targets: Sequence[Target], rollout: RolloutPolicy) -> list[list[Target]]:
    """Split a play's hosts by ``serial``: an int, a percentage, or a list whose last entry repeats."""
    serial = rollout.serial
    if serial is None:
        return [list(targets)] if targets else []
    sizes = serial if isinstance(serial, list) else [serial]
    result: list[list[Target]] = []
    start, index = 0, 0
    while start < len(targets):
        entry = sizes[min(index, len(sizes) - 1)]
        if isinstance(entry, str):
            size = max(1, math.floor(len(targets) * float(entry.rstrip("%")) / 100))
        else:
            size = entry
        result.append(list(targets[start : start + size]))
        start += size
        index += 1
    return result


def not_run(target: Target, status: Literal["halted", "interrupted"], message: str, batch: int) -> HostResult:
    """The result of a host the rollout never started."""
    return HostResult(target.name, status=status, message=message, batch=batch)


def halt_reason(number: int, outcome: Sequence[HostResult], rollout: RolloutPolicy) -> str | None:
    """Why batch ``number`` halts the rollout (``any_errors_fatal``, or ``failed + unreachable``
    over ``max_fail_percentage`` of the batch), or None; every executor decides with this."""
    failures = sum(1 for r in outcome if r.status in {"failed", "unreachable"})
    if failures and rollout.any_errors_fatal:
        return f"halted: batch {number} had a failure and any_errors_fatal is set"
    if rollout.max_fail_percentage is not None and failures * 100 / len(outcome) > rollout.max_fail_percentage:
        return (
            f"halted: batch {number} failed {failures} of {len(outcome)} hosts, over "
            f"max_fail_percentage {rollout.max_fail_percentage:g}%"
        )
    return None


def _detached(runner: HostRunner, since: float, status: Literal["failed", "interrupted"], message: str) -> HostResult:
    """A copy of a still-running host's result, ended with ``status``: the abandoned thread keeps
    writing to its own result, and must not change what was reported."""
    result = copy.copy(runner.result)
    result.resources, result.preflight = list(result.resources), list(result.preflight)
    result.counters = copy.copy(result.counters)
    result.status, result.message, result.duration = status, message, time.monotonic() - since
    return result


def _run_batch(
    batch: list[Target],
    number: int,
    forks: int,
    make_runner: Callable[[Target], HostRunner],
    interrupt: Interrupt,
    on_result: Callable[[HostResult], None],
) -> list[HostResult]:
    """Run one batch with up to ``forks`` hosts at once; results in the batch's order."""
    pending: queue.SimpleQueue[Target] = queue.SimpleQueue()
    for target in batch:
        pending.put(target)
    results: dict[str, HostResult] = {}
    started: dict[str, tuple[float, HostRunner]] = {}
    running: dict[str, tuple[float, HostRunner]] = {}
    """The started hosts not yet claimed: at most ``forks``, so the deadline scan does not walk the batch."""
    lock = threading.Lock()

    claimed: set[str] = set()

    def finish(result: HostResult) -> None:
        with lock:
            if result.name in claimed:
                return  # abandoned at its deadline already
            claimed.add(result.name)
            running.pop(result.name, None)
        # Handed on before the batch counts it done: the batch (and the run) must not end while
        # the last result is still being recorded or displayed.
        on_result(result)
        with lock:
            results[result.name] = result

    def worker() -> None:
        while not interrupt.stop.is_set():
            try:
                target = pending.get_nowait()
            except queue.Empty:
                return
            runner = make_runner(target)
            runner.result.batch = number
            with lock:
                started[target.name] = running[target.name] = (time.monotonic(), runner)
            try:
                result = runner.run()
            except Exception as exc:  # noqa: BLE001 - a bug in one host's run must not end the others'
                result = runner.result
                result.status, result.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
            finish(result)

    threads = [
        threading.Thread(target=worker, name=f"provision-fork-{i}", daemon=True) for i in range(min(forks, len(batch)))
    ]
    for thread in threads:
        thread.start()
    while len(results) < len(batch) and any(t.is_alive() for t in threads) and not interrupt.abort.is_set():
        time.sleep(0.05)
        now = time.monotonic()
        with lock:
            overdue = [
                runner
                for since, runner in running.values()
                if now - since > runner.target.play.rollout.host_timeout + ABANDON_GRACE
            ]
        for runner in overdue:
            timeout = runner.target.play.rollout.host_timeout
            finish(
                _detached(
                    runner,
                    started[runner.target.name][0],
                    "failed",
                    f"host_timeout of {timeout:g} s reached with a call to the host still blocked; abandoned",
                )
            )
    ordered = []
    for target in batch:
        with lock:
            result = results.get(target.name)
            in_flight = started.get(target.name)
        if result is None:
            if in_flight is not None:
                result = _detached(in_flight[1], in_flight[0], "interrupted", "aborted in flight by a second interrupt")
            else:
                result = not_run(target, "interrupted", "not started: the run was interrupted", number)
            finish(result)
        ordered.append(result)
    return ordered


def run_playbook(
    book: Playbook,
    mode: Literal["apply", "check"],
    connect: Callable[[str, ConnectionSettings], Connection],
    *,
    renderer: Renderer | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
    on_result: Callable[[HostResult], None] = lambda result: None,
    on_batch: Callable[[int, int, int], None] = lambda number, total, size: None,
    interrupt: Interrupt | None = None,
    only: set[str] | None = None,
    forks: int | None = None,
    sink: ResultSink | None = None,
) -> list[HostResult]:
    """Every play in order, its hosts in batches; a batch over its failure threshold halts the rest.

    ``only`` restricts the run to those host names (``--retry-failed``); ``forks`` overrides
    every play's ``rollout.forks`` (``--forks``); ``sink`` receives every final result before
    ``on_result`` (halted and interrupted hosts too).
    """
    renderer = renderer or Renderer()
    interrupt = interrupt or Interrupt()
    results: list[HostResult] = []
    halted: str | None = None

    def make_runner(target: Target) -> HostRunner:
        return HostRunner(
            target,
            mode,
            connect,
            renderer=renderer,
            on_event=on_event,
            interrupt=interrupt.stop,
        )

    # Every targeted host gets a result, whatever ends the run: the batches after a halt or an
    # interrupt (one or two signals) are walked too and their hosts recorded as not started, so a
    # report lists the whole run and ``--retry-failed`` retries all that did not converge.
    for play in book.plays:
        targets = [t for t in book.targets if t.play is play and (only is None or t.name in only)]
        by_name = {t.name: t for t in targets}
        rollout = play.rollout

        def deliver(result: HostResult, by_name: dict[str, Target] = by_name) -> None:
            if sink is not None:
                sink.host_result(by_name[result.name], result)
            on_result(result)

        plan = batches(targets, rollout)
        for number, batch in enumerate(plan, start=1):
            if halted or interrupt.stop.is_set() or interrupt.abort.is_set():
                status: Literal["halted", "interrupted"] = "halted" if halted else "interrupted"
                message = halted or "not started: the run was interrupted"
                for target in batch:
                    result = not_run(target, status, message, number)
                    results.append(result)
                    deliver(result)
                continue
            on_batch(number, len(plan), len(batch))
            outcome = _run_batch(batch, number, forks or rollout.forks, make_runner, interrupt, deliver)
            results.extend(outcome)
            halted = halt_reason(number, outcome, rollout)
    return results


def exit_code(results: Sequence[HostResult], interrupted: bool = False) -> int:
    """130 interrupted; 3 anything failed, unreachable or halted; 2 drift or waiting; else 0."""
    statuses = {r.status for r in results}
    if interrupted or "interrupted" in statuses:
        return 130
    if statuses & {"failed", "unreachable", "halted"}:
        return 3
    if statuses & {"drift", "reboot_required", "pending_logon"}:
        return 2
    return 0
