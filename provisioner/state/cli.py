"""The command line of the run history: ``--state``/``--no-state`` on apply and check, and the
``history`` and ``report`` commands. Kept here so provisioner/cli.py only wires them in.

The store is opened and the run's row written before any host is contacted: a store that cannot
be written is one ``error:`` line and exit 1, with nothing run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.engine.host import HostResult
from provisioner.playbook import Playbook
from provisioner.state.config import DEFAULT_RETENTION_DAYS, STATE_ENV, StateError, default_location, resolve_location

if TYPE_CHECKING:
    from provisioner.state.recorder import StoreSink
    from provisioner.state.records import RunWriter
    from provisioner.state.store import Store

__all__ = [
    "add_history_command",
    "add_report_command",
    "add_state_argument",
    "add_state_options",
    "finish_run",
    "history_command",
    "now",
    "report_command",
    "start_run",
]

EXIT_OK, EXIT_BAD_INPUT = 0, 1


def now() -> datetime:
    """The store's clock; tests replace it to record runs days apart without sleeping."""
    return datetime.now(UTC)


def add_state_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        metavar="PATH|URL",
        help=f"run history: a SQLite file or postgresql://user@host/db (default: ${STATE_ENV}, else {default_location()})",
    )


def add_state_options(parser: argparse.ArgumentParser) -> None:
    """``apply`` and ``check``: where the run is recorded, or not at all."""
    add_state_argument(parser)
    parser.add_argument("--no-state", action="store_true", help="do not record this run in the history")
    parser.add_argument(
        "--retention-days",
        type=int,
        default=DEFAULT_RETENTION_DAYS,
        metavar="DAYS",
        help=f"delete runs older than this after recording (default {DEFAULT_RETENTION_DAYS}; "
        "every host's latest result is kept; 0 keeps everything)",
    )


def _since_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="WHEN", help="runs since an ISO date/time (UTC) or an age: 36h, 7d, 2w")


def add_history_command(commands: argparse._SubParsersAction[Any]) -> None:
    sub = commands.add_parser(
        "history",
        help="since when hosts drifted, how often, which never converged (from the run history)",
        description="Per host and resource: first seen, last seen, flaps, drift rate; hosts that never "
        "converged; the share in state per site. Exit 0 (the history is information, not a check).",
    )
    add_state_argument(sub)
    _since_argument(sub)
    sub.add_argument("--host", action="append", metavar="NAME", help="only this host (repeatable)")
    sub.add_argument("--resource", metavar="ID", help="only this resource, e.g. daemon/config")
    sub.add_argument("--group", metavar="NAME", help="only hosts in this inventory group")
    sub.add_argument("--site", metavar="NAME", help="only hosts whose inventory var site is NAME")
    sub.add_argument("--all", action="store_true", help="list every host, not only those out of state")
    sub.add_argument("--json", action="store_true", help="print the history as JSON (schema provision.history/v1)")


def add_report_command(commands: argparse._SubParsersAction[Any]) -> None:
    sub = commands.add_parser(
        "report",
        help="write a self-contained HTML fleet report of a run, with drift over time",
        description="One HTML file (no network at view time): summary by status, drift grouped by property "
        "with every host (searchable, sortable), per-host facts and diffs, a drift-over-time chart.",
    )
    add_state_argument(sub)
    sub.add_argument("run", nargs="?", metavar="RUN", help="run id or a unique prefix (default: the latest run)")
    _since_argument(sub)
    sub.add_argument("--html", type=Path, required=True, metavar="FILE", help="the HTML file to write")


_AGE = re.compile(r"^(\d+)([hdw])$")


def parse_since(text: str | None, clock: datetime) -> datetime | None:
    """``--since``: an age (``36h``, ``7d``, ``2w``) before now, or an ISO date or date-time (UTC
    unless it has an offset)."""
    if text is None:
        return None
    age = _AGE.match(text.strip())
    if age:
        hours = {"h": 1, "d": 24, "w": 168}[age.group(2)] * int(age.group(1))
        return clock - timedelta(hours=hours)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO date/time (2026-11-30, 2026-11-30T06:00) or 36h, 7d, 2w"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _open(args: argparse.Namespace) -> Store:
    from provisioner.state.store import Store

    return Store.open(args.state, clock=now)


def _writer(args: argparse.Namespace) -> RunWriter:
    """The run's writer: a SQLite file already at the schema's head is written without SQLAlchemy
    (sqlite_writer.py says why); anything else opens the full store, which creates or migrates it."""
    from provisioner.state.sqlite_writer import SqliteWriter

    location = resolve_location(args.state)
    if "://" not in location:
        writer = SqliteWriter.at_head(Path(location).expanduser(), location, now)
        if writer is not None:
            return writer
    return _open(args)


def start_run(args: argparse.Namespace, book: Playbook) -> StoreSink | None:
    """Open the store and write the run's row (None with ``--no-state``); before any host is
    contacted, so a store that cannot be opened or written raises StateError with nothing run."""
    if args.no_state:
        return None  # before the import: --no-state runs start without SQLAlchemy
    from provisioner.state.recorder import StoreSink

    if args.retention_days < 0:
        raise StateError(f"--retention-days {args.retention_days}: expected 0 (keep everything) or more")
    store = _writer(args)
    try:
        run_id = store.begin_run(kind=args.command, playbook=str(book.file))
    except StateError:
        store.close()
        raise
    return StoreSink(store, run_id)


def finish_run(sink: StoreSink | None, args: argparse.Namespace, code: int, results: Sequence[HostResult]) -> None:
    """Close the run and apply retention. A store that failed during the run is reported on one
    ``error:`` line; the exit code stays the run's, since the hosts were run."""
    if sink is None:
        return
    try:
        sink.finish(code, dict(sorted(Counter(r.status for r in results).items())))
        if args.retention_days > 0:
            sink.store.prune(args.retention_days)
        print(f"history: run {sink.run_id[:12]} recorded in {sink.store.name}", file=sys.stderr)
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
    finally:
        sink.store.close()


def history_command(args: argparse.Namespace) -> int:
    from provisioner.state.history import build_history, format_history

    try:
        since = parse_since(args.since, now())
        with _open(args) as store:
            data = build_history(
                store, since=since, hosts=args.host, resource=args.resource, group=args.group, site=args.site
            )
    except (StateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        if not data["runs"]:
            print("history: no runs recorded" + (" in that window" if since else "") + f" in {data['store']}")
            return EXIT_OK
        for line in format_history(data, detail=args.all or bool(args.host)):
            print(line)
    return EXIT_OK


def report_command(args: argparse.Namespace) -> int:
    from provisioner.report.html import write_html_report

    try:
        since = parse_since(args.since, now())
        with _open(args) as store:
            path = write_html_report(store, args.html, run_id=args.run, since=since)
    except (StateError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report: {path}")
    return EXIT_OK
