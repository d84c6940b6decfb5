"""Run history at scale: 1,000 hosts x 30 daily checks, then ``provision history`` and the HTML report.

Records a month of daily checks of a 1,000-host fleet (facts of a Server 2022 host, about 5% of
hosts drifting on a given day on one of three properties, some flapping, a few never converging)
through ``Store.record``: one transaction per run, plus one run written host by host, as the
command line does while a rollout runs. Then times, in this process and as the command a user
types (a child process, start-up included):

- ``provision history`` over the whole month, for one host, for the last 7 days, for one group;
- ``provision report --html`` of the latest run (1,000 hosts with their facts, 30 runs of chart).

    python bench/history_scale.py                     # SQLite in a temporary directory
    python bench/history_scale.py --postgres          # also a throwaway PostgreSQL server (tests/servers.py)
    python bench/history_scale.py --hosts 300 --days 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from provisioner.report.html import build_context, render_html
from provisioner.state.history import build_history, format_history
from provisioner.state.records import HostRecord, ResourceRecord
from provisioner.state.store import Store

REPO = Path(__file__).resolve().parents[1]
FACTS = json.loads((REPO / "tests" / "fixtures" / "facts" / "server2022-converged.json").read_text())
DRIFTS = [
    ("daemon/config", "daemon_config", "daemon.log-level", "debug", "warn"),
    ("engine/docker", "container_engine", "engine.service.status", "Stopped", "Running"),
    ("feature/Containers", "windows_feature", "features.Containers", "Disabled", "Enabled"),
]


def records(hosts: int, day: int, rng: random.Random) -> list[HostRecord]:
    """One day's check of the fleet: a stable set of flappers, random drift, a few failing hosts."""
    result = []
    for index in range(hosts):
        name = f"host-{index + 1:05d}"
        site = f"site-{index % 8}"
        groups = ("windows", site, "k8s" if index % 2 else "ci")
        if index % 250 == 7:
            result.append(HostRecord(name, "containers", "failed", "plan-1", "preflight: VT off", site, groups))
            continue
        flapper = index % 40 == 3 and day % 3 == 1
        drift = flapper or rng.random() < 0.04
        resources: tuple[ResourceRecord, ...] = ()
        if drift:
            rid, rtype, path, before, after = DRIFTS[index % 3]
            resources = (ResourceRecord(rid, rtype, "drift", [{"path": path, "before": before, "after": after}]),)
        facts = dict(FACTS, os=dict(FACTS["os"], hostname=name))
        result.append(
            HostRecord(
                name,
                "containers",
                "drift" if drift else "ok",
                "plan-1",
                site=site,
                groups=groups,
                batch=1,
                duration=rng.uniform(0.3, 2.0),
                facts=facts,
                resources=resources,
            )
        )
    return result


def timed(work: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def command(*args: str) -> float:
    """Wall seconds of ``provision ARGS`` as a child process (median of 3)."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "provisioner.cli", *args], capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"provision {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return statistics.median(times)


def bench(location: str, label: str, hosts: int, days: int, out_dir: Path) -> None:
    now = [datetime(2026, 11, 1, 6, 0, tzinfo=UTC)]
    store = Store.open(location, clock=lambda: now[0])
    rng = random.Random(16)
    started = time.perf_counter()
    for day in range(days - 1):
        run_id = store.begin_run(kind="check", playbook="playbooks/site.yml")
        store.record(run_id, records(hosts, day, rng))
        store.finish_run(run_id, exit_code=2, summary={})
        now[0] += timedelta(days=1)
    batched = time.perf_counter() - started
    # The last day host by host, as the rollout's sink writes while hosts finish.
    started = time.perf_counter()
    run_id = store.begin_run(kind="check", playbook="playbooks/site.yml")
    for record in records(hosts, days - 1, rng):
        store.record(run_id, [record])
    store.finish_run(run_id, exit_code=2, summary={})
    one_by_one = time.perf_counter() - started
    store.close()
    print(f"\n{label}: {hosts} hosts x {days} daily checks")
    print(f"  record, one transaction per run: {batched / (days - 1) * 1000:.0f} ms per run ({batched:.1f} s total)")
    print(
        f"  record, one transaction per host (the CLI): {one_by_one:.2f} s for {hosts} hosts "
        f"({one_by_one / hosts * 1000:.2f} ms per host)"
    )

    store = Store.open(location, clock=lambda: now[0])
    week = now[0] - timedelta(days=7)
    queries: list[tuple[str, Callable[[], Any], list[str]]] = [
        ("history (whole month, fleet)", lambda: build_history(store), []),
        ("history --host host-00004", lambda: build_history(store, hosts=["host-00004"]), ["--host", "host-00004"]),
        ("history --since 7d", lambda: build_history(store, since=week), ["--since", "7d"]),
        ("history --group site-3", lambda: build_history(store, group="site-3"), ["--group", "site-3"]),
    ]
    for name, work, args in queries:
        seconds, data = timed(work)
        lines = len(format_history(data, detail=bool(args and args[0] == "--host")))
        print(
            f"  {name}: {seconds * 1000:.0f} ms in process; {data['summary']['hosts']} hosts, "
            f"{data['summary']['observations']} observations, drift rate {data['summary']['drift_rate']:.3f}, "
            f"{lines} lines"
        )
    report_seconds, context = timed(lambda: render_html(build_context(store)))
    html = out_dir / f"report-{label}.html"
    html.write_text(context, encoding="utf-8")
    print(
        f"  report --html (latest run, {days}-run chart): {report_seconds * 1000:.0f} ms in process, {len(context) / 1e6:.1f} MB"
    )
    store.close()
    env_location = ["--state", location]
    print(f"  provision history (child process): {command('history', *env_location):.2f} s")
    print(
        f"  provision history --host host-00004 --json (child process): {command('history', *env_location, '--host', 'host-00004', '--json'):.2f} s"
    )
    print(f"  provision report --html (child process): {command('report', *env_location, '--html', str(html)):.2f} s")
    if location.endswith(".db"):
        size = sum(p.stat().st_size for p in Path(location).parent.glob("history.db*"))
        print(f"  SQLite file with WAL: {size / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="also run against a throwaway PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provision-history-bench-") as directory:
        out = Path(directory)
        bench(str(out / "sqlite" / "history.db"), "sqlite", args.hosts, args.days, out)
        if args.postgres:
            sys.path.insert(0, str(REPO / "tests"))
            from servers import start_server

            server = start_server()
            try:
                with psycopg.connect(server.url, autocommit=True) as connection:
                    connection.execute("CREATE DATABASE history_bench")
                bench(server.database_url("history_bench"), "postgresql", args.hosts, args.days, out)
            finally:
                server.stop()
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs, shared with other work)")


if __name__ == "__main__":
    main()
