"""Cost of an apply that changes hosts: scripts and WS-Man messages per host, and what each script did.

A fresh host (issue 18, item 4) used to cost 7 scripts and about 27 messages: facts, apply,
reboot, facts, apply, facts, verify. This prints, per scenario, the scripts and messages per
host as the lab counts them and as the tool counts them, the connections (Create per host) and
the sequence of scripts of the scenario's first host, each as its phase and the blocks it
carried. Scenarios, on Windows Server 2022 lab hosts with playbooks/site.yml's spec:

- ``fresh``: nothing installed (the features, a reboot, the engine, daemon.json, verify);
- ``features-on``: Containers and Hyper-V already enabled (the engine, daemon.json, verify: no reboot);
- ``daemon-drift``: converged but for one daemon.json key (daemon.json, verify).

The lab runs in its own process (ports 56985/56986 on 127.77.240.x, apart from the other benches
and the test suites), with 1-second reboots. Run it from a checkout to compare two versions:

    python bench/apply_messages.py              # 5 hosts per scenario
    python bench/apply_messages.py --hosts 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from provision_lab import engine_sha256  # noqa: E402
from provision_lab.profiles import CONVERGED_DEFAULTS  # noqa: E402
from provisioner.engine.rollout import run_playbook  # noqa: E402
from provisioner.playbook import load_playbook  # noqa: E402
from provisioner.transport import Connection, ScriptResult  # noqa: E402
from provisioner.transport.connect import Connector  # noqa: E402
from provisioner.transport.settings import ConnectionSettings  # noqa: E402

HTTP_PORT, HTTPS_PORT = 56985, 56986
USER = "provision"
PASSWORD_ENV = "PROVISION_BENCH_PASSWORD"
PASSWORD = "bench-apply-pw1"
DOCKER_VERSION = "27.3.1"
SCENARIOS = ("fresh", "features-on", "daemon-drift")
_PHASE = re.compile(r"^\$global:ProvisionPhase = '(\w+)'$", re.MULTILINE)
_BLOCK = re.compile(r'^#@provision-begin \{"id":"([^"]+)"', re.MULTILINE)


def host_names(scenario: str, count: int) -> list[str]:
    return [f"{scenario}-{i:03d}" for i in range(1, count + 1)]


def lab_process(conn: multiprocessing.connection.Connection, lab_dir: str, count: int) -> None:
    """Serve every scenario's hosts; answer 'counters' and 'stop' on the pipe."""
    from provision_lab.profiles import make_host
    from provision_lab.server import LabServer

    models: list[Any] = []
    for scenario in SCENARIOS:
        for name in host_names(scenario, count):
            index = len(models)
            address = f"127.77.240.{index + 1}"
            if scenario == "fresh":
                model = make_host("server2022", name, address, index=index, reboot_seconds=1)
            elif scenario == "features-on":
                # Enabled as the servicing stack does it: the feature, then the boot that finishes it.
                model = make_host("server2022", name, address, index=index, reboot_seconds=1)
                for feature in ("Containers", "Microsoft-Hyper-V"):
                    model.machine.enable_feature(feature)
                model.machine.boot(model.machine.boot_time)
            else:
                daemon = {**CONVERGED_DEFAULTS["daemon"], "log-level": "debug"}
                model = make_host("server2022-converged", name, address, index=index, reboot_seconds=1, daemon=daemon)
            models.append(model)
    server = LabServer(
        models,
        user=USER,
        password=PASSWORD,
        lab_dir=lab_dir,
        http_port=HTTP_PORT,
        https_port=HTTPS_PORT,
        ssh_port=None,
        allow_unencrypted=True,
    )
    server.start()
    conn.send({m.name: m.address for m in models})
    try:
        while True:
            command = conn.recv()
            if command == "counters":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(({m.name: dict(m.counters) for m in models}, usage.ru_utime + usage.ru_stime))
            elif command == "stop":
                break
    finally:
        server.stop()


class Recording:
    """A Connection that notes each script's phase and blocks before running it."""

    def __init__(self, inner: Connection, log: list[str]) -> None:
        self.inner = inner
        self.log = log
        self.counters = inner.counters

    def connect(self, *, timeout: float) -> None:
        self.inner.connect(timeout=timeout)

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        phase = _PHASE.search(script)
        self.log.append(f"{phase.group(1) if phase else '?'}[{', '.join(_BLOCK.findall(script))}]")
        return self.inner.run(script, timeout=timeout, secrets=secrets)

    def close(self) -> None:
        self.inner.close()


def write_playbook(folder: Path, addresses: dict[str, str], count: int) -> Path:
    site = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())[0]
    inventory = {
        "all": {
            "vars": {
                "connection": "winrm",
                "scheme": "http",
                "port": HTTP_PORT,
                "transport": "basic",
                "allow_unencrypted": True,
                "user": USER,
                "password_env": PASSWORD_ENV,
                "docker_version": DOCKER_VERSION,
                "docker_sha256": engine_sha256(DOCKER_VERSION),
            },
            "children": {
                "windows": {"hosts": {n: {"address": addresses[n]} for s in SCENARIOS for n in host_names(s, count)}}
            },
        }
    }
    (folder / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    play = {**site, "inventory": str(folder / "inventory.yml"), "rollout": {"forks": 50}}
    play["reboot"] = {**site["reboot"], "poll_interval": 0.5}
    playbook = folder / "site.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    return playbook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5, help="hosts per scenario (default 5)")
    args = parser.parse_args()
    os.environ[PASSWORD_ENV] = PASSWORD
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="provision-bench-apply-") as tmp:
        process = context.Process(target=lab_process, args=(theirs, str(Path(tmp) / "lab"), args.hosts))
        process.start()
        try:
            addresses = ours.recv()
            book = load_playbook(write_playbook(Path(tmp), addresses, args.hosts))
            logs: dict[str, list[str]] = {}
            connector = Connector()

            def connect(host: str, settings: ConnectionSettings) -> Connection:
                return Recording(connector(host, settings), logs.setdefault(host, []))

            ours.send("counters")
            before, lab_before = ours.recv()
            started, cpu = time.monotonic(), time.process_time()
            results = run_playbook(book, "apply", connect)
            wall, cpu = time.monotonic() - started, time.process_time() - cpu
            ours.send("counters")
            after, lab_after = ours.recv()
        finally:
            ours.send("stop")
            process.join(30)
    by_name = {r.name: r for r in results}
    bad = {r.name: f"{r.status}: {r.message}" for r in results if r.status != "changed"}
    print(f"apply, Windows Server 2022 lab hosts, {args.hosts} per scenario, playbooks/site.yml's spec, Basic/HTTP")
    print(
        f"{'scenario':<13} {'scripts/host lab|tool':>21} {'ws-man msgs/host lab|tool':>25} {'Create/host':>11} {'reboots':>7}"
    )
    for scenario in SCENARIOS:
        names = host_names(scenario, args.hosts)

        def lab(key: str, names: list[str] = names) -> float:
            return float(sum(after[n].get(key, 0) - before[n].get(key, 0) for n in names) / len(names))

        tool_scripts = sum(by_name[n].counters.scripts for n in names) / len(names)
        tool_messages = sum(by_name[n].counters.messages for n in names) / len(names)
        reboots = sum(by_name[n].reboots for n in names) / len(names)
        print(
            f"{scenario:<13} {lab('scripts'):>10.2f}|{tool_scripts:<10.2f} {lab('wsman.messages'):>12.2f}|"
            f"{tool_messages:<12.2f} {lab('wsman.Create'):>11.2f} {reboots:>7.2f}"
        )
    print(f"wall {wall:.2f} s, controller CPU {cpu:.2f} s, lab CPU {lab_after - lab_before:.2f} s")
    for scenario in SCENARIOS:
        first = host_names(scenario, args.hosts)[0]
        print(f"\n{first}: " + "\n  then ".join(logs.get(first, [])))
    if bad:
        print("\nhosts that did not end changed:\n" + json.dumps(dict(Counter(bad.values())), indent=2))
        sys.exit(1)


if __name__ == "__main__":
    main()
