"""Console output: live progress (rich on a TTY, a line per event otherwise, or JSON), then a summary.

Fleet summaries group what repeats: 500 hosts with the same drift, or halted by the same
threshold, read as one line with a count, not 500 lines.

Every line goes through :func:`~provisioner.report.text.inert` on its way out: messages and
values come from hosts, and a control sequence in one must reach the terminal as text, not as
a command (security review F7).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TextIO

from provisioner.engine.host import Event, HostResult
from provisioner.facts import Facts
from provisioner.report.text import SECRETS, inert

if TYPE_CHECKING:
    from rich.console import Group

__all__ = ["Display", "make_display", "print_facts_table", "print_json_summary", "print_results"]

_PROBLEMS = ("failed", "unreachable", "halted", "interrupted", "reboot_required", "pending_logon")
DETAIL_LIMIT = 20
"""Up to this many hosts, the summary shows every host; beyond it, groups with counts."""


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Display:
    """Receives events, results and batch starts from the rollout threads (thread-safe)."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self._lock = threading.Lock()
        self.closed = False
        """Set when the terminal or pipe went away (``provision apply | head``): progress stops, the run
        and its report files do not."""

    def _line(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError):  # BrokenPipeError, EIO from a closed terminal, a closed file
            self.closed = True

    def event(self, event: Event) -> None:
        if event.kind == "done":
            return
        with self._lock:
            self._line(inert(f"[{event.host}] {event.message}"))

    def result(self, result: HostResult) -> None:
        with self._lock:
            message = f": {result.message}" if result.message else ""
            self._line(inert(f"[{result.name}] {result.status}{message}"))

    def batch(self, number: int, total: int, size: int) -> None:
        with self._lock:
            self._line(f"batch {number}/{total}: {size} host{'s' if size != 1 else ''}")

    def __enter__(self) -> Display:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        return None


class JsonDisplay(Display):
    """One JSON object per line on stdout, for machines."""

    def _write(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._line(SECRETS.dumps(payload))

    def event(self, event: Event) -> None:
        self._write({"kind": f"host.{event.kind}", "host": event.host, "message": event.message, **event.data})

    def result(self, result: HostResult) -> None:
        self._write(
            {
                "kind": "host.result",
                "host": result.name,
                "status": result.status,
                "message": result.message,
                "batch": result.batch,
                "duration": round(result.duration, 3),
                "reboots": result.reboots,
                "resources": [
                    {
                        "id": r.id,
                        "type": r.type,
                        "status": r.status,
                        "message": r.message,
                        "diff": [{"path": d.path, "before": d.before, "after": d.after} for d in r.diff],
                    }
                    for r in result.resources
                ],
            }
        )

    def batch(self, number: int, total: int, size: int) -> None:
        self._write({"kind": "batch", "number": number, "of": total, "size": size})


class RichDisplay(Display):
    """A progress bar over hosts, the batch, counts by status and the slowest hosts in flight."""

    def __init__(self, out: TextIO, total: int) -> None:
        # Imported here: rich is about 50 ms of start-up, and plain and JSON output (cron, CI,
        # bench/) never need it.
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(out, total)
        self.console = Console(file=out)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("hosts", total=total)
        self.counts: Counter[str] = Counter()
        self.batch_text = ""
        self.in_flight: dict[str, tuple[float, str]] = {}
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, get_renderable=self._render)

    def _render(self) -> Group:
        from rich.console import Group
        from rich.table import Table

        status = "  ".join(f"{name} {count}" for name, count in sorted(self.counts.items())) or "starting"
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("slowest in flight")
        table.add_column("s", justify="right")
        table.add_column("doing")
        now = time.monotonic()
        for host, (since, doing) in sorted(self.in_flight.items(), key=lambda item: item[1][0])[:5]:
            table.add_row(inert(host), f"{now - since:.0f}", inert(doing))
        return Group(self.progress, f"{self.batch_text}  {status}", table)

    def event(self, event: Event) -> None:
        with self._lock:
            if event.kind == "done":
                self.in_flight.pop(event.host, None)
            else:
                since = self.in_flight.get(event.host, (time.monotonic(), ""))[0]
                self.in_flight[event.host] = (since, event.message)

    def result(self, result: HostResult) -> None:
        with self._lock:
            self.counts[result.status] += 1
            self.in_flight.pop(result.name, None)
            self.progress.advance(self.task)
            if result.status in _PROBLEMS and result.status not in {"halted", "interrupted"}:
                self.console.print(inert(f"[{result.name}] {result.status}: {result.message}"), markup=False)

    def batch(self, number: int, total: int, size: int) -> None:
        with self._lock:
            self.batch_text = f"batch {number}/{total} ({size} hosts)"

    def __enter__(self) -> Display:
        self.live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.live.stop()


def make_display(kind: Literal["auto", "plain", "rich", "json"], total: int, out: TextIO | None = None) -> Display:
    """``auto``: rich on a terminal, plain lines otherwise."""
    out = sys.stdout if out is None else out  # looked up per call, so redirect_stdout is honoured
    if kind == "auto":
        kind = "rich" if out.isatty() else "plain"
    if kind == "rich":
        return RichDisplay(out, total)
    if kind == "json":
        return JsonDisplay(out, total)
    return Display(out, total)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f", ... ({len(names) - 3} more)" if len(names) > 3 else "")


class _Inert:
    """A text stream that makes everything written to it inert; what this module writes to it is
    whole lines of its own making around host text, so the line ends are the only controls kept."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.out.write(inert(text))
        except (OSError, ValueError):  # the reader went away: the rest of the summary is not for anyone
            self.closed = True


def print_results(results: Sequence[HostResult], mode: str, out: TextIO | None = None) -> None:
    """Per host when few, grouped when many; in check mode the drift grouped by property."""
    lines = _Inert(sys.stdout if out is None else out)
    if len(results) <= DETAIL_LIMIT:
        for result in results:
            _host_detail(result, lines)
    else:
        _grouped_results(results, mode, lines)
    counts = Counter(r.status for r in results)
    lines.write(f"summary ({len(results)} hosts): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "\n")


def _host_detail(result: HostResult, lines: _Inert) -> None:
    """One host: status and time, its message, every diff entry and resource message, the verify verdicts."""
    extra = f", {result.reboots} reboot{'s' if result.reboots != 1 else ''}" if result.reboots else ""
    lines.write(f"{result.name}: {result.status} ({result.duration:.1f} s{extra})\n")
    if result.message:
        # pending_logon: what the workstation's user has to do (Docker Desktop, DESIGN 4.5).
        label = "to do: " if result.status == "pending_logon" else ""
        lines.write(f"  {label}{result.message}\n")
    for resource in result.resources:
        for entry in resource.diff:
            lines.write(f"  {resource.id}: {entry.path}: {_value(entry.before)} -> {_value(entry.after)}\n")
        if resource.message:
            lines.write(f"  {resource.id}: {resource.message}\n")
    if result.verify and result.verify.get("engines"):  # Docker Desktop: a run per engine
        for run in result.verify["engines"]:
            verdict = "ok" if run["ok"] else f"failed: {run['message']}"
            lines.write(f"  verify {run['image']} on the {run['os']} engine ({run['isolation']}): {verdict}\n")
    elif result.verify:
        verdict = "ok" if result.verify["ok"] else f"failed: {result.verify['message']}"
        lines.write(f"  verify {result.verify['image']} ({result.verify['isolation']}): {verdict}\n")


def _grouped_results(results: Sequence[HostResult], mode: str, lines: _Inert) -> None:
    """Many hosts: the problems grouped by status and message, then the drift (or changes) by property."""
    problems: dict[tuple[str, str], list[str]] = defaultdict(list)
    for result in results:
        if result.status in _PROBLEMS:
            problems[(result.status, result.message)].append(result.name)
    for (status, message), names in sorted(problems.items(), key=lambda item: -len(item[1])):
        lines.write(f"{status} ({len(names)} host{'s' if len(names) != 1 else ''}: {_names(names)}): {message}\n")
    drift: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for result in results:
        for resource in result.resources:
            if resource.status in {"drift", "changed"}:
                for entry in resource.diff:
                    drift[(entry.path, _value(entry.before), _value(entry.after))].append(result.name)
    if drift:
        lines.write("drift:\n" if mode == "check" else "changes:\n")
    for (path, before, after), names in sorted(drift.items(), key=lambda item: (-len(item[1]), item[0])):
        lines.write(
            f"  {path}: {before} -> {after}  ({len(names)} host{'s' if len(names) != 1 else ''}: {_names(names)})\n"
        )


def print_json_summary(
    results: Sequence[HostResult], mode: str, exit_code: int, run_id: str | None, out: TextIO | None = None
) -> None:
    """``--output json``'s last line: counts by status, the drift grouped by property with every
    host named (what ``print_results`` shows people, for machines), the exit code and the run id."""
    out = sys.stdout if out is None else out
    drift: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for result in results:
        for resource in result.resources:
            if resource.status in {"drift", "changed"}:
                for entry in resource.diff:
                    drift[(entry.path, json.dumps(entry.before), json.dumps(entry.after))].append(result.name)
    payload = {
        "kind": "summary",
        "mode": mode,
        "run_id": run_id,
        "hosts": len(results),
        "summary": dict(sorted(Counter(r.status for r in results).items())),
        "drift": [
            {"path": path, "before": json.loads(before), "after": json.loads(after), "hosts": names}
            for (path, before, after), names in sorted(drift.items(), key=lambda item: (-len(item[1]), item[0]))
        ],
        "exit_code": exit_code,
    }
    out.write(SECRETS.dumps(payload) + "\n")
    out.flush()


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no", None: "?"}.get(value, str(value))


def print_facts_table(results: Sequence[HostResult], out: TextIO | None = None) -> None:
    """The facts of each host as one row; a host whose facts could not be read shows why."""
    lines = _Inert(sys.stdout if out is None else out)
    header = ["host", "build", "edition", "VT", "SLAT", "hypervisor", "VM", "nested", "features", "engine", "reboot"]
    rows = []
    for result in results:
        if result.facts is None:
            rows.append([result.name, f"{result.status}: {result.message}"])
            continue
        facts = Facts.model_validate(result.facts)
        hw = facts.hardware
        features = ",".join(f"{name}={state}" for name, state in sorted(facts.features.items()))
        engine = facts.engine.version or "-" if facts.engine.installed else "-"
        if facts.engine.service.exists:
            engine += f" ({facts.engine.service.status})"
        if facts.desktop is not None and facts.desktop.installed:  # Docker Desktop: version and the engines up
            running = ",".join(name for name, up in facts.desktop.engines.items() if up) or "no engine running"
            engine = f"desktop {facts.desktop.version} ({running})"
        rows.append(
            [
                result.name,
                f"{facts.os.build}.{facts.os.ubr}",
                facts.os.edition_id,
                hw.firmware_vt,
                # Under a running hypervisor the SLAT reading is hidden like the VT one (facts.py).
                "unknown" if hw.hypervisor_present and not hw.slat else _yes_no(hw.slat),
                _yes_no(hw.hypervisor_present),
                hw.vm_platform or _yes_no(hw.is_vm),
                facts.nested_virtualization or "-",
                features,
                engine,
                "pending" if facts.reboot.pending else "-",
            ]
        )
    # A row that is only a failure message does not widen the columns of the others (review F18).
    full = [row for row in [header, *rows] if len(row) == len(header)]
    widths = [max(len(str(row[i])) for row in full) for i in range(len(header))]
    for row in [header, *rows]:
        lines.write("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
