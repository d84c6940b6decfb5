"""``provision history``: since when has a host drifted, how often, and which never converged.

Computed from the host results of the window in order of run start. Only results that observed
the host (ok, changed, drift) count: a failed or unreachable run says nothing about a resource.
For each (host, resource) an observation is *out of state* when the resource drifted (check) or
was changed (apply: it was out of state until the apply); after a ``changed`` result it is in state
again. A **flap** is a return out of state after being seen in state; **first seen** is the start
of the latest stretch out of state, **last seen** its latest observation.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from provisioner.state.records import OBSERVED
from provisioner.state.store import Store

__all__ = ["build_history", "format_history"]

_OUT = frozenset({"drift", "changed"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _resource_history(
    observations: list[tuple[datetime, str, dict[str, Any] | None]],
) -> dict[str, Any] | None:
    """One resource of one host over its host's observations: (when, host status, its row or None)."""
    flaps = drifted = corrective = 0
    state: bool | None = None  # True in state, False out, None not observed yet
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    latest: dict[str, Any] | None = None
    for when, status, row in observations:
        out = row is not None and row["status"] in _OUT
        if out:
            assert row is not None
            drifted += 1
            corrective += row["change_kind"] == "corrective"
            if state is not False:
                if state is True:
                    flaps += 1
                first_seen = when
            last_seen, latest = when, row
            state = status == "changed"  # an apply that changed it left it in state
        else:
            state = True
    if latest is None:
        return None
    return {
        "resource": latest["resource"],
        "type": latest["type"],
        "first_seen": _iso(first_seen),
        "last_seen": _iso(last_seen),
        "drifted_now": state is False,
        "flaps": flaps,
        "times_out_of_state": drifted,
        "corrective": corrective,
        "change_kind": latest["change_kind"],
        "properties": latest["diff"],
    }


def build_history(
    store: Store,
    *,
    since: datetime | None = None,
    hosts: Sequence[str] | None = None,
    resource: str | None = None,
    group: str | None = None,
    site: str | None = None,
) -> dict[str, Any]:
    """The history as JSON-ready data (``provision history --json`` prints exactly this)."""
    rows = store.results(since=since, hosts=hosts, group=group, site=site, groups=False)
    runs = {row["run_id"] for row in rows}
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_host[row["host"]].append(row)
    latest_groups = store.groups([results[-1]["id"] for results in by_host.values()])
    report_hosts = []
    sites: dict[str, Counter[str]] = defaultdict(Counter)
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for name in sorted(by_host):
        results = by_host[name]
        observed = [r for r in results if r["status"] in OBSERVED]
        out = sum(1 for r in observed if r["status"] in _OUT)
        per_resource: dict[str, list[tuple[datetime, str, dict[str, Any] | None]]] = defaultdict(list)
        ids = {res["resource"] for r in observed for res in r["resources"]}
        if resource is not None:
            ids = {i for i in ids if i == resource}
        for r in observed:
            mine = {res["resource"]: res for res in r["resources"]}
            for rid in ids:
                per_resource[rid].append((r["started"], r["status"], mine.get(rid)))
        resources = [h for rid in sorted(ids) if (h := _resource_history(per_resource[rid])) is not None]
        latest = results[-1]
        converged = any(r["status"] in {"ok", "changed"} for r in results)
        in_state = bool(observed) and observed[-1]["status"] in {"ok", "changed"}
        entry = {
            "host": name,
            "site": latest["site"],
            "groups": latest_groups[latest["id"]],
            "results": len(results),
            "observed": len(observed),
            "out_of_state": out,
            "drift_rate": round(out / len(observed), 4) if observed else None,
            "first_result": _iso(results[0]["started"]),
            "last_result": _iso(latest["started"]),
            "latest_status": latest["status"],
            "latest_message": latest["message"],
            "in_state": in_state,
            "never_converged": not converged,
            "resources": resources,
        }
        report_hosts.append(entry)
        verdict = "in_state" if in_state else "out_of_state" if observed else "unknown"
        sites[latest["site"] or "-"][verdict] += 1
        for g in latest_groups[latest["id"]]:
            groups[g][verdict] += 1
    window = [r for r in store.runs(since=since) if r["id"] in runs]
    latest_run = (
        {key: _iso(value) if isinstance(value, datetime) else value for key, value in window[-1].items()}
        if window
        else None
    )
    observations = sum(h["observed"] for h in report_hosts)
    out_total = sum(h["out_of_state"] for h in report_hosts)

    def shares(table: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
        return {
            key: {
                "hosts": sum(counts.values()),
                "in_state": counts["in_state"],
                "share_in_state": round(counts["in_state"] / sum(counts.values()), 4),
            }
            for key, counts in sorted(table.items())
        }

    return {
        "schema": "provision.history/v1",
        "store": store.name,
        "since": _iso(since),
        "filters": {"hosts": list(hosts or []), "resource": resource, "group": group, "site": site},
        "runs": len(runs),
        "latest_run": latest_run,
        "summary": {
            "hosts": len(report_hosts),
            "observations": observations,
            "out_of_state": out_total,
            "drift_rate": round(out_total / observations, 4) if observations else None,
            "drifted_now": [h["host"] for h in report_hosts if any(r["drifted_now"] for r in h["resources"])],
            "never_converged": [h["host"] for h in report_hosts if h["never_converged"]],
        },
        "sites": shares(sites),
        "groups": shares(groups),
        "resources": _by_resource(report_hosts),
        "hosts": report_hosts,
    }


def _by_resource(hosts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per resource across the hosts: how many are out of state now, were ever, and flapped."""
    table: dict[str, dict[str, Any]] = {}
    for host in hosts:
        for res in host["resources"]:
            entry = table.setdefault(
                res["resource"], {"type": res["type"], "drifted_now": 0, "hosts_out_of_state": 0, "flaps": 0}
            )
            entry["drifted_now"] += res["drifted_now"]
            entry["hosts_out_of_state"] += 1
            entry["flaps"] += res["flaps"]
    return dict(sorted(table.items()))


def _short(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


def _percent(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "-"


def format_history(data: dict[str, Any], *, detail: bool) -> list[str]:
    """Text for people: the fleet's figures, then each resource out of state with first/last seen
    and flaps; ``detail`` (one host asked for, or few) lists every host, not only drifted ones."""
    summary = data["summary"]
    lines = [
        f"history: {data['runs']} run{'s' if data['runs'] != 1 else ''}, "
        f"{summary['hosts']} host{'s' if summary['hosts'] != 1 else ''}"
        + (f" since {_short(data['since'])}" if data["since"] else "")
        + f"; drift rate {_percent(summary['drift_rate'])} of {summary['observations']} observations"
    ]
    if len(data["sites"]) > 1 or "-" not in data["sites"]:
        lines.append(
            "in state by site: "
            + ", ".join(
                f"{name} {_percent(v['share_in_state'])} ({v['in_state']}/{v['hosts']})"
                for name, v in data["sites"].items()
            )
        )
    if data["resources"] and not detail:
        lines.append(
            "by resource: "
            + ", ".join(
                f"{name} {v['drifted_now']} drifted now / {v['hosts_out_of_state']} ever, "
                f"{v['flaps']} flap{'s' if v['flaps'] != 1 else ''}"
                for name, v in data["resources"].items()
            )
        )
    for host in data["hosts"]:
        if not detail and not host["resources"] and not host["never_converged"]:
            continue
        flags = " never converged" if host["never_converged"] else ""
        lines.append(
            f"{host['host']}: {host['latest_status']} at {_short(host['last_result'])}; "
            f"out of state {host['out_of_state']}/{host['observed']} ({_percent(host['drift_rate'])}){flags}"
        )
        for res in host["resources"]:
            now = "drifted" if res["drifted_now"] else "in state now"
            lines.append(
                f"  {res['resource']}: {now}, {res['change_kind']}; first seen {_short(res['first_seen'])}, "
                f"last seen {_short(res['last_seen'])}, {res['flaps']} flap{'s' if res['flaps'] != 1 else ''}"
            )
            for prop in res["properties"] if res["drifted_now"] else []:
                lines.append(f"    {prop['path']}: {_value(prop['before'])} -> {_value(prop['after'])}")
    if summary["never_converged"]:
        names = summary["never_converged"]
        lines.append(f"never converged ({len(names)}): {', '.join(names)}")
    latest = data["latest_run"]
    if latest is not None:
        exit_code = f", exit {latest['exit_code']}" if latest["exit_code"] is not None else ", not finished"
        lines.append(
            f"latest run {latest['id'][:12]}: {latest['kind']} at {_short(latest['started'])}{exit_code} "
            f"(provision report {latest['id'][:12]} --html FILE)"
        )
    return lines


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
