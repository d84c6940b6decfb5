"""``provision report --html``: one self-contained HTML file of a run from the history.

Self-contained means nothing is fetched at view time: the CSS and the few lines of script (search
and sort) are inline, the chart is inline SVG, there is no font, image or CDN reference, so the
file can be mailed or archived and opened offline. Everything from hosts (names, messages, facts,
diff values) is text: Jinja2 escapes it (autoescape) and C0 control characters are dropped first,
so a hostile daemon.json value can neither inject markup nor garble the page.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from provisioner.state.store import Store

__all__ = ["TREND_RUNS", "build_context", "clean_text", "render_html", "write_html_report"]

TREND_RUNS = 30
"""Runs in the drift-over-time chart when no ``--since`` is given: a month of daily checks."""

_C0 = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
"""C0 controls and DEL, except TAB and LF, which are harmless in text."""

_STATUS_ORDER = ("failed", "unreachable", "drift", "changed", "reboot_required", "pending_logon", "halted")
_OUT = {"drift", "changed"}
_FAILED = {"failed", "unreachable"}


def clean_text(value: Any) -> Any:
    """``value`` with C0 control characters dropped from strings (Jinja2's ``finalize``)."""
    return _C0.sub("", value) if isinstance(value, str) else value


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Facts as (dotted path, value) rows, for a table a person can scan."""
    if isinstance(value, dict) and value:
        rows: list[tuple[str, str]] = []
        for key in sorted(value):
            rows += _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix, _show(value))]


def _order(status: str) -> tuple[int, str]:
    return (_STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER), status)


def build_context(store: Store, *, run_id: str | None = None, since: datetime | None = None) -> dict[str, Any]:
    """What the template shows: the chosen run (default: the latest) and the runs of the chart
    (since ``since``, else the last :data:`TREND_RUNS` up to the chosen run)."""
    if run_id is not None:
        chosen = store.run(run_id)
        if chosen is None:
            raise ValueError(f"no single run {run_id!r} in {store.name} (provision history prints the latest run's id)")
        runs = store.runs(since=since, until=chosen["started"])
    else:
        runs = store.runs(since=since)
        if not runs:
            raise ValueError(f"no runs recorded in {store.name}" + (" in that window" if since else ""))
        chosen = runs[-1]
    if since is None:
        runs = runs[-TREND_RUNS:]
    if not runs or runs[-1]["id"] != chosen["id"]:
        runs = [r for r in runs if r["id"] != chosen["id"]] + [chosen]
    results = store.results(run_ids=[chosen["id"]], facts=True)
    results.sort(key=lambda r: (_order(r["status"]), r["host"]))
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    hosts = []
    for index, row in enumerate(results):
        changes = []
        for res in row["resources"]:
            for entry in res["diff"]:
                if res["status"] in _OUT:
                    groups[(entry["path"], _show(entry["before"]), _show(entry["after"]))].append(index)
                changes.append(
                    {
                        "resource": res["resource"],
                        "status": res["status"],
                        "kind": res["change_kind"],
                        "path": entry["path"],
                        "before": _show(entry["before"]),
                        "after": _show(entry["after"]),
                    }
                )
            if not res["diff"]:
                changes.append(
                    {
                        "resource": res["resource"],
                        "status": res["status"],
                        "kind": res["change_kind"],
                        "path": "",
                        "before": "",
                        "after": res["message"],
                    }
                )
        hosts.append(
            {
                "anchor": f"h{index}",
                "name": row["host"],
                "status": row["status"],
                "message": row["message"],
                "site": row["site"] or "",
                "groups": ", ".join(row["groups"]),
                "duration": row["duration_ms"] / 1000,
                "reboots": row["reboots"],
                "out": sum(1 for res in row["resources"] if res["status"] in _OUT),
                "changes": changes,
                "facts": _flatten(row["facts"]) if row["facts"] else [],
                "verify": row["verify"],
            }
        )
    drift = [
        {"path": path, "before": before, "after": after, "hosts": [hosts[i] for i in members]}
        for (path, before, after), members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    counts = Counter(h["status"] for h in hosts)
    return {
        "run": chosen,
        "store": store.name,
        "summary": sorted(counts.items(), key=lambda item: _order(item[0])),
        "total": len(hosts),
        "drift": drift,
        "drifted_hosts": sum(1 for h in hosts if h["out"]),
        "hosts": hosts,
        "chart": _chart(runs, store.status_counts([r["id"] for r in runs]), chosen["id"]),
    }


def _chart(runs: list[dict[str, Any]], counts: dict[str, dict[str, int]], chosen: str) -> dict[str, Any]:
    """Bars per run, out of state (drift or changed) under failed or unreachable, as inline SVG
    geometry: the template only places numbers, so the chart needs no script or library."""
    width, height, left, bottom, top = 760, 220, 40, 30, 10
    plot = height - bottom - top
    rows = []
    for run in runs:
        per = counts.get(run["id"], {})
        rows.append(
            {
                "id": run["id"],
                "kind": run["kind"],
                "when": run["started"].strftime("%Y-%m-%d %H:%M"),
                "day": run["started"].strftime("%m-%d"),
                "out": sum(per.get(s, 0) for s in _OUT),
                "failed": sum(per.get(s, 0) for s in _FAILED),
                "hosts": sum(per.values()),
                "chosen": run["id"] == chosen,
            }
        )
    peak = max([r["out"] + r["failed"] for r in rows] + [1])
    step = (width - left - 10) / max(len(rows), 1)
    bar = max(min(step * 0.7, 40), 2)
    for index, row in enumerate(rows):
        x = left + index * step + (step - bar) / 2
        out_h = plot * row["out"] / peak
        failed_h = plot * row["failed"] / peak
        row |= {
            "x": round(x, 1),
            "w": round(bar, 1),
            "out_y": round(top + plot - out_h, 1),
            "out_h": round(out_h, 1),
            "failed_y": round(top + plot - out_h - failed_h, 1),
            "failed_h": round(failed_h, 1),
            "label_x": round(x + bar / 2, 1),
            "label": index % max(1, len(rows) // 10) == 0 or row["chosen"],
        }
    return {
        "width": width,
        "height": height,
        "left": left,
        "base": top + plot,
        "top": top,
        "peak": peak,
        "rows": rows,
    }


_ENV = Environment(
    loader=PackageLoader("provisioner.report", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    finalize=clean_text,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(context: dict[str, Any]) -> str:
    return _ENV.get_template("report.html.j2").render(**context)


def write_html_report(store: Store, file: Path, *, run_id: str | None = None, since: datetime | None = None) -> Path:
    """Render the report and write it atomically (a half-written report is never left behind)."""
    text = render_html(build_context(store, run_id=run_id, since=since))
    file.parent.mkdir(parents=True, exist_ok=True)
    staging = file.with_name(file.name + ".tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, file)
    return file
