"""``provision-lab``: start, inspect, drift and stop the background lab (also ``python -m provision_lab``).

``up`` writes a lab inventory (default ``inventories/lab.yml``) and starts the daemon
(control.py) that serves its hosts; ``status``, ``drift``, ``stats`` and ``down`` talk to that
daemon over its control socket in the lab directory (``$PROVISION_LAB_DIR``, else
``~/.cache/provision/lab``); ``password`` prints the lab's password for a client's environment
variable. Exit codes: 0 done, 1 the lab cannot do it (the reason on one line), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from provision_lab.control import DEFAULT_LAB_PROFILES, LabError, request, start_daemon, write_inventory
from provision_lab.runtime import PASSWORD_ENV, LabInventoryError, default_lab_dir, lab_password, running_daemon

__all__ = ["main", "parser", "run"]


def _ports(text: str) -> tuple[int, int, int]:
    """``HTTP,HTTPS,SSH`` for ``up --ports``: three distinct ports."""
    try:
        ports = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HTTP,HTTPS,SSH port numbers, got {text!r}") from None
    if len(ports) != 3 or len(set(ports)) != 3 or not all(0 < port < 65536 for port in ports):
        raise argparse.ArgumentTypeError(f"expected three distinct ports HTTP,HTTPS,SSH, got {text!r}")
    return ports[0], ports[1], ports[2]


def _host_count(text: str) -> int:
    """``up --hosts``: a fleet of at least one host (security review F11: 0 wrote an empty inventory)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {count}")
    return count


def _duration(text: str) -> float:
    """``up --reboot-seconds``: finite and not negative."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, zero or more; got {text[:40]!r}")
    return seconds


def parser() -> argparse.ArgumentParser:
    """The command line, also used for shell completion."""
    root = argparse.ArgumentParser(
        prog="provision-lab",
        description="A simulated Windows fleet on 127.77.x.y that speaks real WinRM and SSH.",
    )
    commands = root.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="start a background lab and write its inventory")
    up.add_argument("--hosts", type=_host_count, default=9, help="number of hosts (default 9)")
    up.add_argument("--profiles", default=DEFAULT_LAB_PROFILES, help="profile mix: NAME, NAME:COUNT,..., or mixed")
    up.add_argument("--faults", help="faults as data, e.g. 'lab-0003=http_500_rate:0.3;vm-no-nested=latency_ms:50'")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--reboot-seconds", type=_duration, default=3.0, help="how long a simulated reboot takes")
    up.add_argument("--inventory", type=Path, default=Path("inventories/lab.yml"), help="inventory to write")
    up.add_argument(
        "--ports", type=_ports, metavar="HTTP,HTTPS,SSH", help="ports on each host address (default 5985,5986,2222)"
    )
    commands.add_parser("status", help="hosts of the running lab and whether they are up")
    commands.add_parser("down", help="stop the background lab (host state is kept)")
    drift = commands.add_parser("drift", help="change a lab host the way drift happens")
    drift.add_argument("host")
    what = drift.add_mutually_exclusive_group(required=True)
    what.add_argument("--feature", metavar="NAME=STATE", help="e.g. Containers=Disabled")
    what.add_argument("--daemon", metavar="KEY=VALUE", help="set a daemon.json key (VALUE is JSON or a word)")
    what.add_argument("--stop-service", metavar="NAME", help="stop a service, e.g. docker")
    what.add_argument("--logon", metavar="USER", help="workstation: USER logs on and starts Docker Desktop")
    what.add_argument("--logoff", metavar="USER", help="workstation: USER signs out (Docker Desktop quits)")
    what.add_argument(
        "--switch-engine",
        choices=["windows", "linux"],
        help="workstation: Docker Desktop's tray switch to Windows or Linux containers",
    )
    stats = commands.add_parser("stats", help="request counters per host")
    stats.add_argument("--json", action="store_true")
    commands.add_parser(
        "password",
        help=f'print the lab password, for export {PASSWORD_ENV}="$(provision-lab password)"',
    )
    return root


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse exits 2 on a usage error)."""
    args = parser().parse_args(argv)
    lab_dir = default_lab_dir()
    try:
        if args.lab_command == "up":
            _up(args, lab_dir)
        elif args.lab_command == "down":
            request(lab_dir, {"command": "down"})
            print("lab: stopping (host state kept for the next lab on the same inventory)")
        elif args.lab_command == "status":
            answer = request(lab_dir, {"command": "status"})
            for host in answer["hosts"]:
                print(f"{host['name']}  {host['address']}  {host['profile']}  {'up' if host['up'] else 'DOWN'}")
        elif args.lab_command == "drift":
            answer = request(
                lab_dir,
                {
                    "command": "drift",
                    "host": args.host,
                    "feature": args.feature,
                    "daemon": args.daemon,
                    "stop_service": args.stop_service,
                    "logon": args.logon,
                    "logoff": args.logoff,
                    "switch_engine": args.switch_engine,
                },
            )
            print(answer["message"])
        elif args.lab_command == "stats":
            counters = request(lab_dir, {"command": "stats"})["hosts"]
            if args.json:
                print(json.dumps(counters, indent=2, sort_keys=True))
            else:
                for name, values in counters.items():
                    print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
        elif args.lab_command == "password":
            print(lab_password(lab_dir))
    except (LabError, LabInventoryError, ValueError, KeyError) as exc:
        print(f"error: lab: {exc}", file=sys.stderr)
        return 1
    return 0


def _up(args: argparse.Namespace, lab_dir: Path) -> None:
    if running_daemon(lab_dir):
        raise LabError("a lab is already running; stop it with `provision-lab down` first")
    lab_password(lab_dir)  # made (or refused) before anything is written
    (lab_dir / "hosts.json").unlink(missing_ok=True)  # a new fleet starts fresh
    write_inventory(
        args.inventory,
        count=args.hosts,
        profiles=args.profiles,
        seed=args.seed,
        reboot_seconds=args.reboot_seconds,
        lab_dir=lab_dir,
        faults=args.faults,
        ports=args.ports,
    )
    pid = start_daemon(args.inventory.resolve(), lab_dir)
    print(f"lab: {args.hosts} hosts up (pid {pid}); inventory {args.inventory}; state in {lab_dir}")
    if not os.environ.get(PASSWORD_ENV):  # a shell that already hands clients the password needs no hint
        print(f'next: export {PASSWORD_ENV}="$(provision-lab password)"')
    print(f"next: provision apply playbooks/site.yml -i {args.inventory}")


def main() -> None:
    """The console script ``provision-lab``."""
    sys.exit(run())
