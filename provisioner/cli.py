"""Command line: argument parsing and exit codes only; the work is done elsewhere.

Exit codes (DESIGN 4.5): 0 all ok/changed, 1 bad input or usage (nothing ran), 2 drift or
hosts left reboot_required/pending_logon, 3 a host failed/unreachable/halted, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from provisioner import __version__
from provisioner.completion import SHELLS, completion_script
from provisioner.doctor import command as doctor_command
from provisioner.engine.host import Event, HostResult, gather_facts
from provisioner.engine.rollout import Interrupt, exit_code, run_playbook
from provisioner.errors import InputError, LoadError
from provisioner.facts import Facts
from provisioner.inventory import Host, Vault, describe_connection, load_inventory, select_hosts
from provisioner.inventory.ansible import Render
from provisioner.inventory.show import inventory_listing, masked_vars
from provisioner.lab.runtime import default_lab_dir, lab_for_inventory, lab_for_playbook, running_daemon
from provisioner.plan import Plan, facts_request, plan
from provisioner.playbook import (
    Playbook,
    Target,
    Templater,
    facts_targets,
    host_variables,
    load_playbook,
    password_envs,
    secret_names,
)
from provisioner.render import Renderer, RenderError
from provisioner.report.console import make_display, print_facts_table, print_results
from provisioner.report.events import EventLog
from provisioner.report.json_report import build_report, hosts_to_retry, write_report
from provisioner.report.junit import write_junit
from provisioner.resources.windows_feature import wanted as wanted_features
from provisioner.schema import render_schema
from provisioner.transport.connect import Connector

__all__ = ["EXIT_BAD_INPUT", "EXIT_DRIFT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "main"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_DRIFT, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

DEFAULT_LAB_PROFILES = "server2022:2,server2025,server2019,win11-23h2-pro,vm-nested,workstation-win11-23h2-pro"
"""``provision lab up``'s fleet: exactly the hosts of the committed inventories/lab.yml."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting 1 (bad input), not 2: 2 means drift (DESIGN 4.5)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="provision",
        description="Bring Windows hosts to a container-ready state from a YAML spec, and report drift.",
    )
    parser.add_argument("--version", action="version", version=f"provision {__version__}")
    parser.add_argument("--templates", type=Path, help="use PowerShell templates from DIR instead of the built-in ones")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def playbook_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("playbook", type=Path)
        sub.add_argument("-i", "--inventory", type=Path, help="inventory file (default: the play's inventory:)")
        sub.add_argument("-l", "--limit", help=LIMIT_HELP)
        _vault_options(sub)
        return sub

    playbook_command("validate", "load and check the playbook and inventory; print one line per host")

    plan_cmd = playbook_command("plan", "the plan for one host from a facts file, without connecting")
    plan_cmd.add_argument("--host", required=True)
    plan_cmd.add_argument("--facts", required=True, type=Path, help="facts JSON (the data of a FACTS record)")
    plan_cmd.add_argument("--json", action="store_true", help="print the plan as JSON")

    render_cmd = playbook_command("render", "print the exact PowerShell script a host would receive")
    render_cmd.add_argument("--host", required=True)
    render_cmd.add_argument("--phase", required=True, choices=["facts", "apply", "verify"])
    render_cmd.add_argument("--facts", type=Path, help="facts JSON; required for apply and verify")

    for name, help_text in (
        ("apply", "converge the targeted hosts (a second run changes nothing)"),
        ("check", "report drift per host and property; change nothing (exit 2 on drift)"),
    ):
        sub = playbook_command(name, help_text)
        sub.add_argument("--report", type=Path, help="write report.json (schema provision.report/v1)")
        sub.add_argument("--events", type=Path, help="write one JSON line per event as it happens")
        sub.add_argument("--junit", type=Path, help="write a JUnit XML file: a testcase per host and resource")
        sub.add_argument(
            "--retry-failed",
            type=Path,
            metavar="REPORT",
            help="only the hosts that did not end ok/changed in that report",
        )
        sub.add_argument("--forks", type=int, help="hosts in parallel (overrides rollout.forks)")
        sub.add_argument(
            "--output",
            choices=["auto", "plain", "rich", "json"],
            default="auto",
            help="progress output (auto: rich on a terminal, plain lines otherwise)",
        )
        sub.add_argument("--ask-pass", action="store_true", help="prompt for the password once")

    lab = commands.add_parser(
        "lab",
        help="the embedded simulated Windows fleet (see provisioner/lab)",
        description="A simulated Windows fleet on 127.77.x.y that speaks real WinRM and SSH.",
    )
    lab_commands = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    up = lab_commands.add_parser("up", help="start a background lab and write its inventory")
    up.add_argument("--hosts", type=int, default=7, help="number of hosts (default 7)")
    up.add_argument("--profiles", default=DEFAULT_LAB_PROFILES, help="profile mix: NAME, NAME:COUNT,..., or mixed")
    up.add_argument("--faults", help="faults as data, e.g. 'lab-0003=http_500_rate:0.3;vm-no-nested=latency_ms:50'")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--reboot-seconds", type=float, default=3.0, help="how long a simulated reboot takes")
    up.add_argument("--inventory", type=Path, default=Path("inventories/lab.yml"), help="inventory to write")
    up.add_argument(
        "--ports", type=_ports, metavar="HTTP,HTTPS,SSH", help="ports on each host address (default 5985,5986,2222)"
    )
    lab_commands.add_parser("status", help="hosts of the running lab and whether they are up")
    lab_commands.add_parser("down", help="stop the background lab (host state is kept)")
    drift = lab_commands.add_parser("drift", help="change a lab host the way drift happens")
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
    stats = lab_commands.add_parser("stats", help="request counters per host")
    stats.add_argument("--json", action="store_true")

    schema_cmd = commands.add_parser("schema", help="print the JSON Schema of playbooks or inventories (for editors)")
    schema_cmd.add_argument("kind", choices=["playbook", "inventory"])

    facts_cmd = commands.add_parser("facts", help="gather and print facts: build, edition, VT, SLAT, features, engine")
    facts_cmd.add_argument("-i", "--inventory", type=Path, required=True)
    facts_cmd.add_argument("-l", "--limit", help="host pattern")
    facts_cmd.add_argument("--json", action="store_true")
    facts_cmd.add_argument("--ask-pass", action="store_true")
    _vault_options(facts_cmd)

    doctor = commands.add_parser(
        "doctor",
        help="check each host's connection step by step and say how to fix "
        "what fails (exit 3 if any host fails a step)",
        description="Per host: name resolution, TCP, TLS or the SSH host key, "
        "authentication, a script round trip, PowerShell version, "
        "administrator rights and the WinRM limits; stops at the first "
        "failing step and prints its cause and fix.",
    )
    doctor.add_argument("playbook", type=Path, nargs="?", help="check the hosts of this playbook's plays")
    doctor.add_argument("-i", "--inventory", type=Path, help="inventory file (required without a playbook)")
    doctor.add_argument("-l", "--limit", help="host pattern")
    doctor.add_argument("--ask-pass", action="store_true", help="prompt for the password once")
    doctor.add_argument("--timeout", type=float, default=30.0, help="seconds for each connection step (default 30)")
    doctor.add_argument("--forks", type=int, default=16, help="hosts checked in parallel (default 16)")

    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for the shell, generated from "
        'this command line (eval "$(provision completion bash)").',
    )
    completion.add_argument("shell", choices=SHELLS)
    _inventory_parser(commands)
    _describe(parser)
    return parser


LIMIT_HELP = "Ansible host pattern: names, groups, globs, ~regex, a:b or a,b, a:&b, !a, g[0], g[1:3]"


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every subcommand's --help gets a description: its one-line help unless it has a longer one."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None:
                    sub.description = helps.get(name)
                _describe(sub)


def _vault_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--vault-password-file",
        type=Path,
        metavar="FILE",
        help="decrypt !vault values and vault files with the password in FILE (default: $ANSIBLE_VAULT_PASSWORD_FILE)",
    )
    sub.add_argument("--ask-vault-pass", action="store_true", help="prompt for the vault password")


def _vault(args: argparse.Namespace) -> Vault:
    return Vault.from_options(getattr(args, "vault_password_file", None), getattr(args, "ask_vault_pass", False))


def _inventory_parser(commands: Any) -> None:
    sub = commands.add_parser(
        "inventory",
        help="show the hosts, groups and connection settings an inventory resolves to (like ansible-inventory)",
        description="Show what provision reads from an inventory (YAML, INI, a directory, with group_vars/ "
        "and host_vars/): --list prints JSON with every host's effective connection settings and every "
        "group's hosts; --list-hosts PATTERN the matching hosts in Ansible's order; --host NAME one host's "
        "merged variables with secrets masked. Connects to nothing.",
    )
    sub.add_argument("-i", "--inventory", type=Path, required=True, help="inventory file or directory")
    sub.add_argument("-l", "--limit", help=LIMIT_HELP)
    sub.add_argument("--playbook-dir", type=Path, help="also read group_vars/ and host_vars/ beside this directory")
    what = sub.add_mutually_exclusive_group(required=True)
    what.add_argument("--list", action="store_true", help="JSON: hosts with connection settings, groups with hosts")
    what.add_argument("--list-hosts", metavar="PATTERN", help="the hosts PATTERN matches, one a line")
    what.add_argument("--host", metavar="NAME", help="one host's merged variables as JSON, secrets masked")
    _vault_options(sub)


def _inventory(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory, playbook_dir=args.playbook_dir, vault=_vault(args))
    names = list(inventory.hosts) if args.limit is None else select_hosts(inventory, args.limit, source="--limit")
    if args.list_hosts is not None:
        matched = select_hosts(inventory, args.list_hosts, source="--list-hosts")
        allowed = set(names) | {h for h in matched if inventory.hosts[h].implicit}
        for name in matched:
            if name in allowed:
                print(name)
        return EXIT_OK
    if args.host is not None:
        if args.host not in inventory.hosts:
            raise InputError([LoadError(args.inventory, None, None, (), f"host {args.host!r} is not in the inventory")])
        print(json.dumps(masked_vars(inventory.hosts[args.host]), indent=2, sort_keys=True, default=str))
        return EXIT_OK
    if args.limit is None:
        names = inventory.members["all"]
    templater = Templater(inventory.doc, denied_env=password_envs(inventory), secrets=secret_names(inventory))

    def render_for(host: Host) -> Render:
        variables = host_variables(inventory, host)
        return lambda value, _, where: templater.at(value, variables, where)

    listing = inventory_listing(inventory, names, render_for)
    if templater.errors:
        raise InputError(templater.errors)
    print(json.dumps(listing, indent=2, default=str))
    return EXIT_OK


def _ports(text: str) -> tuple[int, int, int]:
    """``HTTP,HTTPS,SSH`` for ``lab up --ports``: three distinct ports."""
    try:
        ports = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HTTP,HTTPS,SSH port numbers, got {text!r}") from None
    if len(ports) != 3 or len(set(ports)) != 3 or not all(0 < port < 65536 for port in ports):
        raise argparse.ArgumentTypeError(f"expected three distinct ports HTTP,HTTPS,SSH, got {text!r}")
    return ports[0], ports[1], ports[2]


def _target(book: Playbook, host: str) -> Target:
    matches = [t for t in book.targets if t.name == host]
    if not matches:
        raise InputError([LoadError(book.file, None, None, (), f"host {host!r} is not targeted by any play")])
    return matches[0]


def _load_facts(file: Path) -> Facts:
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError([LoadError(file, None, None, (), "file not found")]) from None
    except json.JSONDecodeError as exc:
        raise InputError([LoadError(file, exc.lineno, exc.colno, (), f"malformed JSON: {exc.msg}")]) from None
    if isinstance(data, dict) and "data" in data and "os" not in data:
        data = data["data"]  # a whole FACTS record was given
    try:
        return Facts.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            [LoadError(file, None, None, (), f"{where}: {first['msg']} (expected DESIGN 4.2 facts)")]
        ) from None


def _validate(book: Playbook) -> int:
    for warning in book.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for target in book.targets:
        spec, conn = target.spec, target.connection
        engine = f"{spec.engine.type} {spec.engine.version}" if spec.engine else "no engine"
        verify = (
            "no verify"
            if spec.verify.when == "never"
            else f"verify {spec.verify.image}/{spec.verify.isolation} when {spec.verify.when}"
        )
        endpoint = describe_connection(conn)
        print(
            f"{target.name}  play={target.play.name!r}  {endpoint}  features={','.join(wanted_features(spec))}  "
            f"{engine}  {verify}"
        )
    hosts = len({t.name for t in book.targets})
    print(f"ok: {hosts} host{'s' if hosts != 1 else ''} in {len(book.plays)} play{'s' if len(book.plays) != 1 else ''}")
    return EXIT_OK


def _print_plan(result: Plan) -> None:
    print(f"host {result.host}")
    for finding in result.preflight:
        print(f"  {finding.level}: [{finding.code}] {finding.message}")
    if result.blocked:
        print("  blocked by preflight errors: no change would be made")
    for change in result.changes:
        print(f"  change {change.id} ({change.type}){'  may reboot' if change.may_reboot else ''}")
        for entry in change.diff:
            print(f"    {entry.path}: {json.dumps(entry.before)} -> {json.dumps(entry.after)}")
    if not result.changes and not result.blocked:
        print("  in state: nothing to change")
    if result.verify:
        print(f"  verify: {result.verify.image} with {result.verify.isolation} isolation")
    for run in result.desktop_verify:  # Docker Desktop: one run per engine
        how = f"{run.isolation} isolation" if run.isolation else "--platform linux"
        print(f"  verify: {run.image} on the {run.os} engine ({how})")
    if result.pending:
        print(f"  pending_logon: {result.pending}")


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            print(render_schema(args.kind), end="")
            return EXIT_OK
        if args.command == "facts":
            return _facts(args)
        if args.command == "doctor":
            return doctor_command(
                playbook=args.playbook,
                inventory=args.inventory,
                limit=args.limit,
                ask_pass=_ask_pass(args.ask_pass),
                timeout=args.timeout,
                forks=args.forks,
                templates=args.templates,
            )
        if args.command == "completion":
            print(completion_script(_parser(), args.shell), end="")
            return EXIT_OK
        if args.command == "lab":
            return _lab(args)
        if args.command == "inventory":
            return _inventory(args)
        book = load_playbook(args.playbook, inventory=args.inventory, limit=args.limit, vault=_vault(args))
        if args.command == "validate":
            return _validate(book)
        if args.command in ("apply", "check"):
            return _converge(args, book)
        target = _target(book, args.host)
        renderer = Renderer(args.templates)
        if args.command == "plan":
            result = plan(target.name, target.spec, _load_facts(args.facts))
            if args.json:
                print(json.dumps(result.to_json(), indent=2))
            else:
                _print_plan(result)
            return EXIT_BAD_INPUT if result.blocked else EXIT_OK
        if args.command == "render":
            if args.phase == "facts":
                print(renderer.facts(target.name, facts_request(target.spec)), end="")
                return EXIT_OK
            if args.facts is None:
                raise InputError([LoadError(None, None, None, (), f"--phase {args.phase} needs --facts FILE.json")])
            result = plan(target.name, target.spec, _load_facts(args.facts))
            if args.phase == "apply":
                print(renderer.apply(result), end="")
            else:
                docker = target.spec.engine.install_dir.rstrip("\\") + "\\docker.exe" if target.spec.engine else ""
                print(renderer.verify(result, "<nonce>", docker), end="")
            return EXIT_OK
    except InputError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    raise AssertionError(f"unhandled command {args.command}")


def _facts(args: argparse.Namespace) -> int:
    targets = facts_targets(args.inventory, args.limit, vault=_vault(args))
    connector = Connector(_ask_pass(args.ask_pass))
    with lab_for_inventory(targets[0].play.inventory, announce=lambda text: print(text, file=sys.stderr)):
        results = [gather_facts(target, connector, Renderer(args.templates)) for target in targets]
    if args.json:
        print(
            json.dumps(
                {r.name: r.facts if r.facts else {"status": r.status, "error": r.message} for r in results}, indent=2
            )
        )
    else:
        print_facts_table(results)
    return exit_code(results)


def _lab(args: argparse.Namespace) -> int:
    from provisioner.lab.control import LabError, request, start_daemon, write_inventory

    lab_dir = default_lab_dir()
    try:
        if args.lab_command == "up":
            if running_daemon(lab_dir):
                raise LabError("a lab is already running; stop it with `provision lab down` first")
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
            print(f"next: provision apply playbooks/site.yml -i {args.inventory}")
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
    except (LabError, ValueError, KeyError) as exc:
        print(f"error: lab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _ask_pass(enabled: bool) -> Callable[[], str | None] | None:
    if not enabled:
        return None
    answer: list[str] = []
    lock = threading.Lock()  # forks connect in parallel: prompt once

    def ask() -> str | None:
        with lock:
            if not answer:
                answer.append(getpass.getpass("password: "))
        return answer[0]

    return ask


def _converge(args: argparse.Namespace, book: Playbook) -> int:
    started = datetime.now(UTC)
    only = hosts_to_retry(args.retry_failed) if args.retry_failed else None
    total = sum(1 for t in book.targets if only is None or t.name in only)
    interrupt = Interrupt()
    handlers = {sig: signal.signal(sig, lambda *_: interrupt.signal()) for sig in (signal.SIGINT, signal.SIGTERM)}
    events = EventLog(args.events) if args.events else None
    try:
        with (
            lab_for_playbook(book, announce=lambda text: print(text, file=sys.stderr)),
            make_display(args.output, total) as display,
        ):

            def on_event(event: Event) -> None:
                display.event(event)
                if events:
                    events.event(event)

            def on_result(result: HostResult) -> None:
                display.result(result)
                if events:
                    events.result(result)

            results = run_playbook(
                book,
                args.command,
                Connector(_ask_pass(args.ask_pass)),
                renderer=Renderer(args.templates),
                on_event=on_event,
                on_result=on_result,
                on_batch=display.batch,
                interrupt=interrupt,
                only=only,
                forks=args.forks,
            )
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if events:
            events.close()
    if args.output != "json":
        print_results(results, args.command)
    if args.report:
        write_report(args.report, build_report(mode=args.command, playbook=book.file, started=started, results=results))
    if args.junit:
        write_junit(args.junit, results, args.command)
    return exit_code(results, interrupted=interrupt.stop.is_set())


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
