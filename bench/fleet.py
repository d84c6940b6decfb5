"""Fleet benchmark: check a converged lab fleet and apply to a fresh one, controller measured apart.

The lab runs in its own process (``python -m provision_lab.control``) so the controller's CPU
time and peak RSS are its own; the controller is ``provision check|apply`` in a child process
whose rusage is read with ``os.wait4``. Messages and scripts per host come from the report's
transport counters. Prints medians of ``--runs`` runs per cell.

    python bench/fleet.py                       # 100, 300, 1000 hosts; basic and ntlm; check and apply
    python bench/fleet.py --hosts 100 --runs 1  # a quick look
    python bench/fleet.py --hosts 1000 --modes check --auth basic ntlm --clients lean pywinrm

For ``check``, bench/floor.py (prebuilt envelopes over http.client keep-alive, perf-measured.md
section 2) checks the same converged lab in the same run, the two in alternating order, and the
ratio provision / floor of wall time and whole-process CPU is printed with each cell. The medians
are of each column apart, the ratios are medians of the per-run ratios.

provision records each run in its history (a store of the bench's own, created before the first
timed run, so a run pays what a user's later runs pay); ``--no-state`` measures it without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from provision_lab import engine_sha256  # noqa: E402
from provision_lab.fleet import address_for, host_name  # noqa: E402

AUTH = {
    "basic": {"scheme": "http", "transport": "basic", "allow_unencrypted": "true", "port": 45985},
    "ntlm": {"scheme": "http", "transport": "ntlm", "allow_unencrypted": "false", "port": 45985},
}
PLAYBOOK = (
    (REPO / "playbooks" / "site.yml")
    .read_text()
    .replace("inventory: ../inventories/lab.yml", "inventory: inventory.yml")
)


def bench_folder(prefix: str, extra_env: dict[str, str]) -> tuple[Path, Path, dict[str, str]]:
    """A fresh folder for one run, its lab's folder inside it, and the environment the lab and the tool
    run with (this checkout first on the path, the lab's password, ``extra_env``)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    lab_dir = folder / "lab"
    lab_dir.mkdir()
    env = {
        **os.environ,
        **extra_env,
        "PROVISION_LAB_DIR": str(lab_dir),
        "PROVISION_LAB_PASSWORD": "bench-password",
        "PYTHONPATH": str(REPO),
    }
    return folder, lab_dir, env


def write_inventory(folder: Path, count: int, auth: str, profile: str) -> Path:
    settings = AUTH[auth]
    lines = [
        "all:",
        "  vars:",
        f"    provision_lab: {{seed: 1, reboot_seconds: 1, http_port: 45985, https_port: 45986, ssh_port: 42222,"
        f" allow_unencrypted: {settings['allow_unencrypted']}}}",
        "    connection: winrm",
        f"    scheme: {settings['scheme']}",
        f"    port: {settings['port']}",
        f"    transport: {settings['transport']}",
        f"    allow_unencrypted: {settings['allow_unencrypted']}",
        "    user: provision",
        "    password_env: PROVISION_LAB_PASSWORD",
        '    docker_version: "27.3.1"',
        f'    docker_sha256: "{engine_sha256("27.3.1")}"',
        "  children:",
        "    windows:",
        "      hosts:",
    ]
    for index in range(1, count + 1):
        lines.append(f"        {host_name(index)}: {{address: {address_for(index)}, lab_profile: {profile}}}")
    path = folder / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    (folder / "site.yml").write_text(PLAYBOOK)
    return path


def start_lab(inventory: Path, lab_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    lab = subprocess.Popen(
        [sys.executable, "-m", "provision_lab.control", str(inventory), str(lab_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(lab_dir / "lab.log", "wb"),  # noqa: SIM115 (the lab child keeps it)
    )
    deadline = time.monotonic() + 60
    while not (lab_dir / "daemon.json").exists():
        if lab.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"lab did not start: {(lab_dir / 'lab.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return lab


def run_floor(folder: Path, env: dict[str, str], auth: str, forks: int) -> dict[str, float]:
    """bench/floor.py on the same lab: prebuilt envelopes over http.client, the FACTS script provision sends."""
    script = folder / "facts.ps1"
    if not script.exists():
        rendered = subprocess.run(
            [sys.executable, "-m", "provisioner.cli", "render", str(folder / "site.yml")]
            + ["--host", host_name(1), "--phase", "facts"],
            env=env,
            check=True,
            capture_output=True,
        )
        script.write_bytes(rendered.stdout)
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "floor.py"), "--addresses", str(folder / "addresses.txt")]
        + ["--port", str(AUTH[auth]["port"]), "--auth", auth, "--script", str(script), "--forks", str(forks)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"floor failed: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
    return {"floor_wall_s": wall, "floor_cpu_s": usage.ru_utime + usage.ru_stime}


def run_controller(
    mode: str, folder: Path, env: dict[str, str], forks: int, client: str, extra: list[str]
) -> dict[str, float]:
    report = folder / f"report-{mode}.json"
    start = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "provisioner.cli",
            mode,
            str(folder / "site.yml"),
            "--forks",
            str(forks),
            "--output",
            "plain",
            "--report",
            str(report),
            "--winrm-client",
            client,
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    data = json.loads(report.read_text())
    hosts = data["hosts"]
    bad = [h for h in hosts if h["status"] not in ("ok", "changed")]
    if bad:
        raise SystemExit(f"{mode}: {len(bad)} hosts ended {bad[0]['status']}: {bad[0]['message']} (exit {code})")
    # Start-up (imports, loading and validating the playbook) measured apart: it is per run, not per host.
    validate = subprocess.Popen(
        [sys.executable, "-m", "provisioner.cli", "validate", str(folder / "site.yml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, startup = os.wait4(validate.pid, 0)
    startup_s = startup.ru_utime + startup.ru_stime
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "cpu_ms_per_host": (usage.ru_utime + usage.ru_stime) * 1000 / len(hosts),
        "user_ms_per_host": usage.ru_utime * 1000 / len(hosts),
        "sys_ms_per_host": usage.ru_stime * 1000 / len(hosts),
        "run_cpu_ms_per_host": (usage.ru_utime + usage.ru_stime - startup_s) * 1000 / len(hosts),
        "startup_cpu_s": startup_s,
        "messages_per_host": statistics.mean(h["transport"]["messages"] for h in hosts),
        "scripts_per_host": statistics.mean(h["transport"]["scripts"] for h in hosts),
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def cell(count: int, auth: str, mode: str, runs: int, forks: int, client: str, extra: list[str]) -> dict[str, float]:
    samples = []
    # The run history, as a user's runs have it: a store of the bench's own (never the user's, which
    # other runs on the machine may be writing), created before the first timed run.
    history = Path(tempfile.mkdtemp(prefix="provision-bench-state-"))
    state = {"PROVISION_STATE": str(history / "history.db")}
    subprocess.run(
        [sys.executable, "-m", "provisioner.cli", "history"],
        env={**os.environ, **state, "PYTHONPATH": str(REPO)},
        check=True,
        capture_output=True,
    )
    for run in range(runs):
        folder, lab_dir, env = bench_folder("provision-bench-", state)
        profile = "server2022-converged" if mode == "check" else "server2022"
        write_inventory(folder, count, auth, profile)
        lab = start_lab(folder / "inventory.yml", lab_dir, env)
        (folder / "addresses.txt").write_text("".join(f"{address_for(i)}\n" for i in range(1, count + 1)))
        try:
            if mode != "check":
                samples.append(run_controller(mode, folder, env, forks, client, extra))
                continue
            # Side by side on the same converged lab, in alternating order so neither always runs first.
            if run % 2:
                floor = run_floor(folder, env, auth, forks)
                sample = run_controller(mode, folder, env, forks, client, extra)
            else:
                sample = run_controller(mode, folder, env, forks, client, extra)
                floor = run_floor(folder, env, auth, forks)
            sample.update(floor)
            sample["wall_ratio"] = sample["wall_s"] / floor["floor_wall_s"]
            sample["cpu_ratio"] = sample["cpu_s"] / floor["floor_cpu_s"]
            samples.append(sample)
        finally:
            lab.send_signal(signal.SIGTERM)
            lab.wait(timeout=60)
            shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(history, ignore_errors=True)
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--auth", nargs="+", default=["basic", "ntlm"], choices=sorted(AUTH))
    parser.add_argument("--modes", nargs="+", default=["check", "apply"], choices=["check", "apply"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--forks", type=int, default=100)
    parser.add_argument(
        "--clients", nargs="+", default=["lean"], choices=["lean", "pywinrm"], help="provision's --winrm-client"
    )
    parser.add_argument(
        "--no-state", action="store_true", help="pass --no-state: no run history (the floor records none)"
    )
    args = parser.parse_args()
    extra = ["--no-state"] if args.no_state else []
    # What an installed package has: bytecode. This environment sets PYTHONDONTWRITEBYTECODE, so an
    # editable checkout would recompile provisioner/ on every start (about 65 ms, perf-measured.md).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "provisioner")], check=True)
    header = (
        f"{'hosts':>5} {'auth':<6} {'mode':<6} {'client':<7} {'wall s':>7} {'CPU s':>6} {'CPU ms/host':>11} "
        f"{'(user':>6} {'sys)':>5} {'excl. start-up':>14} {'start-up s':>10} {'msgs/host':>9} {'scripts/host':>12} "
        f"{'peak RSS MB':>11} {'floor wall s':>12} {'floor CPU s':>11} {'wall x':>6} {'CPU x':>6}"
    )
    print(
        f"median of {args.runs} run(s), forks {args.forks}, lab in its own process on this machine; "
        "check: the floor client (bench/floor.py) on the same lab in the same run, 'x' = provision / floor; "
        + ("no run history (--no-state)" if args.no_state else "run history recorded (a store of the bench's own)")
    )
    print(header)
    for count in args.hosts:
        for auth in args.auth:
            for mode in args.modes:
                for client in args.clients:
                    r = cell(count, auth, mode, args.runs, args.forks, client, extra)
                    floor = (
                        f" {r['floor_wall_s']:>12.2f} {r['floor_cpu_s']:>11.2f} {r['wall_ratio']:>6.2f} "
                        f"{r['cpu_ratio']:>6.2f}"
                        if "floor_wall_s" in r
                        else ""
                    )
                    print(
                        f"{count:>5} {auth:<6} {mode:<6} {client:<7} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} "
                        f"{r['cpu_ms_per_host']:>11.1f} {r['user_ms_per_host']:>6.1f} {r['sys_ms_per_host']:>5.1f} "
                        f"{r['run_cpu_ms_per_host']:>14.1f} {r['startup_cpu_s']:>10.2f} {r['messages_per_host']:>9.1f} "
                        f"{r['scripts_per_host']:>12.1f} {r['peak_rss_mb']:>11.0f}{floor}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
