"""Cost of a converged host: scripts and WS-Man messages per host, and controller CPU per host.

DESIGN 7: a drift check costs one script and at most 5 WS-Man messages per host after
authentication, whatever the number of resources; the controller spends at most 10 ms of CPU per
host for a check with Basic over HTTP and 25 ms with NTLM encryption. This prints, for ``check``
and for ``apply`` on converged hosts, per transport and per spec size:

- scripts per host, counted by the lab hosts (``scripts``) and by the tool (report transport counters);
- WS-Man messages per host after authentication, counted by the lab (SOAP envelopes it
  dispatched: the NTLM log-on's empty POSTs are not messages) and by the tool (envelopes the
  WinRM client sent, the lean one by default); HTTP requests per host for context;
- controller CPU ms per host: ``time.process_time()`` around ``run_playbook`` over all hosts of the
  cell, divided by the hosts, median of ``--runs`` runs.

The lab runs in a separate process, so the controller's CPU time is its own. Transports: WinRM
Basic over HTTP (``allow_unencrypted`` on both sides), NTLM over HTTP (message encryption), NTLM
over HTTPS, and SSH for comparison. Ports 55985/55986/52222 on 127.77.250.x and up, so a lab a
developer runs (5985/5986/2222), the end-to-end tests (25985/25986/22222) and the fleet tests
(35985/35986/32222) are not disturbed.

    python bench/check_messages.py                 # 10 hosts per cell, 5 runs
    python bench/check_messages.py --hosts 20 --runs 7
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from provision_lab import engine_sha256  # noqa: E402
from provision_lab.profiles import CONVERGED_DEFAULTS  # noqa: E402
from provisioner.engine.rollout import run_playbook  # noqa: E402
from provisioner.playbook import load_playbook  # noqa: E402
from provisioner.render import Renderer  # noqa: E402
from provisioner.transport.connect import Connector  # noqa: E402

HTTP_PORT, HTTPS_PORT, SSH_PORT = 55985, 55986, 52222
USER = "provision"
PASSWORD_ENV = "PROVISION_BENCH_PASSWORD"
PASSWORD = "bench'Pa$$word"
DOCKER_VERSION = "27.3.1"

TRANSPORTS: dict[str, dict[str, Any]] = {
    "http+basic": {
        "connection": "winrm",
        "scheme": "http",
        "port": HTTP_PORT,
        "transport": "basic",
        "allow_unencrypted": True,
    },
    "http+ntlm": {"connection": "winrm", "scheme": "http", "port": HTTP_PORT, "transport": "ntlm"},
    "https+ntlm": {"connection": "winrm", "scheme": "https", "port": HTTPS_PORT, "transport": "ntlm"},
    "ssh": {"connection": "ssh", "port": SSH_PORT},
}
TARGET_CPU_MS = {"http+basic": 10.0, "http+ntlm": 25.0, "https+ntlm": 25.0}
"""DESIGN 7's controller CPU budget for a check (Basic over HTTP; NTLM encryption)."""

_SITE_DAEMON = dict(CONVERGED_DEFAULTS["daemon"])
SPECS: dict[str, dict[str, Any]] = {
    # One feature and the engine: 2 resources.
    "small": {"features": ["Containers"], "engine": True, "daemon": None},
    # playbooks/site.yml: 2 features, engine, daemon.json (4 keys), verify: 5 resources.
    "site": {"features": ["Containers", "Hyper-V"], "engine": True, "daemon": _SITE_DAEMON},
    # site.yml with a daemon.json of 14 keys: the same resources, a bigger FACTS record.
    "large": {
        "features": ["Containers", "Hyper-V"],
        "engine": True,
        "daemon": {
            **_SITE_DAEMON,
            "debug": False,
            "dns": ["10.0.0.2", "10.0.0.3"],
            "dns-search": ["corp.example"],
            "insecure-registries": ["registry.corp.example:5000"],
            "max-concurrent-downloads": 6,
            "max-concurrent-uploads": 4,
            "max-download-attempts": 7,
            "registry-mirrors": ["https://mirror.example"],
            "shutdown-timeout": 30,
            "mtu": 1450,
        },
    },
}


def spec_yaml(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "virtualization": {"require_firmware_vt": True, "nested": "auto", "min_memory_gb": 4},
        "features": spec["features"],
        "engine": {"type": "docker-ce", "version": DOCKER_VERSION, "sha256": engine_sha256(DOCKER_VERSION)},
        "verify": {"image": "auto", "isolation": "auto", "when": "changed"},
    }
    if spec["daemon"] is not None:
        result["daemon"] = spec["daemon"]
    return result


def resources(spec: dict[str, Any]) -> int:
    return len(spec["features"]) + (1 if spec["engine"] else 0) + (1 if spec["daemon"] is not None else 0) + 1


# -- the lab, in its own process --------------------------------------------------------------


def host_names(spec: str, count: int) -> list[str]:
    return [f"{spec}-{i:03d}" for i in range(1, count + 1)]


def lab_process(conn: multiprocessing.connection.Connection, lab_dir: str, count: int) -> None:
    """Serve converged hosts for every spec; answer 'counters' and 'stop' on the pipe."""
    from provision_lab.profiles import make_host
    from provision_lab.server import LabServer

    models = []
    index = 0
    for spec_name, spec in SPECS.items():
        dism = ["Microsoft-Hyper-V" if f == "Hyper-V" else f for f in spec["features"]]
        for name in host_names(spec_name, count):
            address = f"127.77.{250 + index // 254}.{index % 254 + 1}"
            models.append(
                make_host(
                    "server2022-converged",
                    name,
                    address,
                    index=index,
                    features=dism,
                    engine_version=DOCKER_VERSION,
                    daemon=spec["daemon"],
                )
            )
            index += 1
    server = LabServer(
        models,
        user=USER,
        password=PASSWORD,
        lab_dir=lab_dir,
        http_port=HTTP_PORT,
        https_port=HTTPS_PORT,
        ssh_port=SSH_PORT,
        allow_unencrypted=True,
    )
    server.start()
    conn.send(
        {
            "ca": str(server.ca_path),
            "known_hosts": str(server.known_hosts_path),
            "addresses": {m.name: m.address for m in models},
        }
    )
    try:
        while True:
            command = conn.recv()
            if command == "counters":
                conn.send({m.name: dict(m.counters) for m in models})
            elif command == "stop":
                break
    finally:
        server.stop()


# -- the controller ---------------------------------------------------------------------------


def write_playbook(folder: Path, transport: str, spec_name: str, names: list[str], lab: dict[str, Any]) -> Path:
    values = {
        **TRANSPORTS[transport],
        "user": USER,
        "password_env": PASSWORD_ENV,
        "ca_bundle": lab["ca"],
        "known_hosts": lab["known_hosts"],
    }
    inventory = {
        "all": {
            "vars": values,
            "children": {"windows": {"hosts": {name: {"address": lab["addresses"][name]} for name in names}}},
        }
    }
    inventory_file = folder / f"inventory-{transport}-{spec_name}.yml"
    inventory_file.write_text(yaml.safe_dump(inventory, sort_keys=False))
    play = {
        "name": f"bench {spec_name}",
        "hosts": "windows",
        "inventory": str(inventory_file),
        "rollout": {"forks": 10},
        "spec": spec_yaml(SPECS[spec_name]),
    }
    playbook = folder / f"playbook-{transport}-{spec_name}.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    return playbook


def per_host(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], names: list[str], key: str) -> float:
    return sum(after[n].get(key, 0) - before[n].get(key, 0) for n in names) / len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10, help="hosts per cell (default 10)")
    parser.add_argument("--runs", type=int, default=5, help="runs per cell; CPU is the median (default 5)")
    args = parser.parse_args()
    os.environ[PASSWORD_ENV] = PASSWORD

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="provision-bench-") as tmp:
        process = context.Process(target=lab_process, args=(theirs, str(Path(tmp) / "lab"), args.hosts))
        process.start()
        try:
            lab = ours.recv()
            renderer = Renderer()  # compiled once, as in one run over a fleet
            rows = []
            failures = []
            for transport in TRANSPORTS:
                for spec_name in SPECS:
                    names = host_names(spec_name, args.hosts)
                    book = load_playbook(write_playbook(Path(tmp), transport, spec_name, names, lab))
                    for mode in ("check", "apply"):
                        cpu: list[float] = []
                        scripts = messages = requests = tool_scripts = tool_messages = 0.0
                        for run in range(args.runs):
                            ours.send("counters")
                            before = ours.recv()
                            started = time.process_time()
                            results = run_playbook(book, mode, Connector(), renderer=renderer)
                            cpu.append((time.process_time() - started) * 1000 / len(names))
                            ours.send("counters")
                            after = ours.recv()
                            bad = Counter(r.status for r in results if r.status != "ok")
                            if bad:
                                failures.append(
                                    f"{transport} {spec_name} {mode} run {run}: {dict(bad)} "
                                    f"{next(r.message for r in results if r.status != 'ok')}"
                                )
                            if run == 0:
                                scripts = per_host(before, after, names, "scripts")
                                messages = per_host(before, after, names, "wsman.messages")
                                requests = per_host(before, after, names, "http.requests")
                                tool_scripts = sum(r.counters.scripts for r in results) / len(names)
                                tool_messages = sum(r.counters.messages for r in results) / len(names)
                        rows.append(
                            (
                                transport,
                                spec_name,
                                resources(SPECS[spec_name]),
                                mode,
                                scripts,
                                tool_scripts,
                                messages,
                                tool_messages,
                                requests,
                                statistics.median(cpu),
                            )
                        )
        finally:
            ours.send("stop")
            process.join(30)

    print(
        f"converged Windows Server 2022 lab hosts, {args.hosts} per cell; CPU: median of {args.runs} runs "
        f"(controller process only, lab in another process); {os.cpu_count()} CPUs"
    )
    header = [
        "transport",
        "spec",
        "resources",
        "mode",
        "scripts/host lab|tool",
        "ws-man msgs/host lab|tool",
        "http req/host",
        "cpu ms/host",
        "goal",
    ]
    table = [header]
    for transport, spec_name, count, mode, scripts, tool_scripts, messages, tool_messages, requests, cpu_ms in rows:
        winrm = TRANSPORTS[transport]["connection"] == "winrm"
        ok = scripts == 1 and tool_scripts == 1 and (not winrm or (messages <= 5 and tool_messages <= 5))
        target = TARGET_CPU_MS.get(transport) if mode == "check" else None
        verdict = ("ok" if ok else "OVER") + (
            f"; cpu {'ok' if cpu_ms <= target else 'OVER'} (target {target:g})" if target else ""
        )
        table.append(
            [
                transport,
                spec_name,
                str(count),
                mode,
                f"{scripts:.2f}|{tool_scripts:.2f}",
                f"{messages:.2f}|{tool_messages:.2f}" if winrm else f"-|{tool_messages:.2f} (exec)",
                f"{requests:.2f}" if winrm else "-",
                f"{cpu_ms:.2f}",
                verdict,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if failures:
        print("\nhosts that did not end ok:")
        for line in failures:
            print("  " + line)
        sys.exit(1)


if __name__ == "__main__":
    main()
