"""Executors compared: the local executor against the Celery executor with one and with two workers.

A lab fleet in its own process (as bench/fleet.py starts it), a throwaway Redis and PostgreSQL
(tests/servers.py), and ``provision check|apply`` as a child process whose rusage is read with
``os.wait4``. The total concurrency is the same in every cell: ``--forks C`` locally, one worker
with ``-c C``, two workers with ``-c C/2`` each. Per cell:

- wall time of the controller command;
- controller CPU per host (the controller's user + system time over the hosts);
- worker CPU per host (the workers' processes, read from /proc before they stop; 0 locally);
- queue overhead per host: the wall time the executor adds, spread over the concurrency
  (``(wall - local wall) * C / hosts``): how much longer each host's slot is held.

    python bench/executors.py                      # 200 hosts, check and apply, 1 run each
    python bench/executors.py --hosts 500 --modes check --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.append(str(REPO / "tests"))  # after bench/: its fleet.py, not tests/fleet

from fleet import bench_folder, start_lab, write_inventory  # noqa: E402
from servers import new_database, start_redis, start_server  # noqa: E402

from provision_lab.fleet import address_for  # noqa: E402
from provisioner.engine.celery_executor import celery_app  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system time of a running process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11:15]) / ticks


def start_workers(
    count: int, concurrency: int, env: dict[str, str], broker: str, state: str
) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(count):
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "provisioner.cli", "worker", "--site", "default", "--broker", broker]
                + ["--state", state, "-c", str(concurrency), "--name", f"bench{index}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    app = celery_app(broker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dead = [w for w in workers if w.poll() is not None]
        if dead:
            raise SystemExit(f"a worker exited {dead[0].returncode} while starting")
        names = {name.split("@")[0] for reply in app.control.ping(timeout=0.5) for name in reply}
        if {f"bench{i}" for i in range(count)} <= names:
            return workers
    raise SystemExit("the workers did not answer a ping within 60 s")


def controller(mode: str, folder: Path, env: dict[str, str], extra: list[str]) -> dict[str, float]:
    report = folder / f"report-{mode}.json"
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioner.cli", mode, str(folder / "site.yml"), "--output", "plain"]
        + ["--report", str(report), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    hosts = json.loads(report.read_text())["hosts"]
    bad = [h for h in hosts if h["status"] not in ("ok", "changed")]
    if bad:
        code = os.waitstatus_to_exitcode(status)
        raise SystemExit(f"{mode}: {len(bad)} hosts ended {bad[0]['status']}: {bad[0]['message']} (exit {code})")
    return {"wall_s": wall, "controller_cpu_ms_per_host": (usage.ru_utime + usage.ru_stime) * 1000 / len(hosts)}


def cell(kind: str, mode: str, count: int, concurrency: int, broker: str, pg: object) -> dict[str, float]:
    folder, lab_dir, env = bench_folder("provision-bench-executors-", {})
    env["XDG_STATE_HOME"] = str(folder / "state")
    write_inventory(folder, count, "basic", "server2022-converged" if mode == "check" else "server2022")
    (folder / "addresses.txt").write_text("".join(f"{address_for(i)}\n" for i in range(1, count + 1)))
    lab = start_lab(folder / "inventory.yml", lab_dir, env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        if kind == "local":
            sample = controller(mode, folder, env, ["--forks", str(concurrency), "--no-state"])
            sample["worker_cpu_ms_per_host"] = 0.0
            return sample
        state = new_database(pg)  # type: ignore[arg-type]
        count_workers = 1 if kind == "1 worker" else 2
        workers = start_workers(count_workers, concurrency // count_workers, env, broker, state)
        before = sum(cpu_seconds(w.pid) for w in workers)
        sample = controller(mode, folder, env, ["--executor", "celery", "--broker", broker, "--state", state])
        sample["worker_cpu_ms_per_host"] = (sum(cpu_seconds(w.pid) for w in workers) - before) * 1000 / count
        return sample
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        lab.terminate()
        lab.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--modes", nargs="+", default=["check", "apply"])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    redis, pg = start_redis(), start_server()
    try:
        print(f"{args.hosts} hosts, concurrency {args.concurrency}, {os.cpu_count()} cores; medians of {args.runs}")
        print(
            f"{'mode':6} {'executor':10} {'wall s':>8} {'ctl CPU ms/host':>16} {'worker CPU ms/host':>19} {'queue ms/host':>14}"
        )
        for mode in args.modes:
            local_wall = None
            for kind in ("local", "1 worker", "2 workers"):
                samples = [cell(kind, mode, args.hosts, args.concurrency, redis.url, pg) for _ in range(args.runs)]
                row = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
                if local_wall is None:
                    local_wall = row["wall_s"]
                overhead = (row["wall_s"] - local_wall) * args.concurrency * 1000 / args.hosts
                print(
                    f"{mode:6} {kind:10} {row['wall_s']:8.2f} {row['controller_cpu_ms_per_host']:16.2f} "
                    f"{row['worker_cpu_ms_per_host']:19.2f} {overhead:14.1f}"
                )
    finally:
        redis.stop()
        pg.stop()


if __name__ == "__main__":
    main()
