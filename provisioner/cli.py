"""Command line: argument parsing and exit codes only; the work is done elsewhere.

Exit codes (DESIGN 4.5): 0 all ok/changed, 1 bad input or usage (nothing ran), 2 drift or
hosts left reboot_required/pending_logon, 3 a host failed/unreachable/halted, 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from provisioner import __version__
from provisioner.completion import SHELLS
from provisioner.engine.host import Event, HostResult, gather_facts
from provisioner.engine.rollout import Interrupt, exit_code, run_playbook
from provisioner.errors import InputError, LoadError
from provisioner.facts import Facts
from provisioner.inventory import Host, Inventory, Vault, describe_connection, load_inventory, select_hosts
from provisioner.inventory.ansible import Render
from provisioner.inventory.show import inventory_listing, masked_vars
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
from provisioner.report.console import make_display, print_facts_table, print_json_summary, print_results
from provisioner.report.events import EventLog
from provisioner.report.files import OutputError, check_output
from provisioner.report.json_report import build_report, hosts_to_retry, write_report
from provisioner.report.junit import write_junit
from provisioner.report.text import SECRETS, inert
from provisioner.resources.windows_feature import wanted as wanted_features
from provisioner.schema import render_schema
from provisioner.state import cli as state_cli
from provisioner.state.config import StateError
from provisioner.transport.connect import Connector

__all__ = ["EXIT_BAD_INPUT", "EXIT_DRIFT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "main"]

if TYPE_CHECKING:
    from provisioner.state.recorder import StoreSink
    from provisioner.state.rollouts import RolloutState

EXIT_OK, EXIT_BAD_INPUT, EXIT_DRIFT, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse with exit 1 for a usage error: 2 means drift (DESIGN 4.5), so a wrong option must not say it."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


# Option values are checked here, in one place, as the parser reads them: a bad one is a usage
# error (exit 1) before anything is loaded or contacted (security review F11).


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {value}")
        return value

    return parse


def _seconds() -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"expected a finite number of seconds, more than zero; got {text[:40]!r}")
        return value

    return parse


def _pattern(text: str) -> str:
    """``--limit``: an empty pattern (``--limit "$UNSET"``) would otherwise mean the whole inventory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty pattern matches nothing; leave --limit out to target every host")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="provision",
        description="Bring Windows hosts to a container-ready state from a YAML spec, and report drift.",
        epilog="A simulated Windows fleet to try it on is a separate command: provision-lab up (see lab/).",
    )
    parser.add_argument("--version", action="version", version=f"provision {__version__}")
    parser.add_argument("--templates", type=Path, help="use PowerShell templates from DIR instead of the built-in ones")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def playbook_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("playbook", type=Path)
        sub.add_argument("-i", "--inventory", type=Path, help="inventory file (default: the play's inventory:)")
        sub.add_argument("-l", "--limit", type=_pattern, help=LIMIT_HELP)
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
        sub.add_argument("--forks", type=_whole(1), help="hosts in parallel (overrides rollout.forks)")
        sub.add_argument(
            "--output",
            choices=["auto", "plain", "rich", "json"],
            default="auto",
            help="progress output (auto: rich on a terminal, plain lines otherwise)",
        )
        sub.add_argument("--ask-pass", action="store_true", help="prompt for the password once")
        state_cli.add_state_options(sub)
        _winrm_client_option(sub)
        sub.add_argument(
            "--executor",
            choices=["local", "celery"],
            default="local",
            help="where hosts run: threads of this process (default), or Celery workers "
            "(provision worker --site S) over a broker, with the rollout state in --state (PostgreSQL)",
        )
        _broker_option(sub)
        sub.add_argument(
            "--lease-seconds",
            type=_seconds(),
            default=60.0,
            help="--executor celery: a host whose worker has not renewed its lease for this long is "
            "queued again, and a controller gone this long can be resumed (default 60)",
        )

    state_cli.add_history_command(commands)
    state_cli.add_report_command(commands)

    worker = commands.add_parser(
        "worker",
        help="run host jobs of --executor celery for one or more sites (a Celery worker)",
        description="Consume the host jobs of each --site's queue (hosts.SITE; a host's site is its "
        "inventory variable site) and run them as apply/check would, with the rollout state in the "
        "shared --state store. Runs until SIGTERM or Ctrl-C (running hosts finish first).",
    )
    worker.add_argument("--site", action="append", required=True, help="a site whose hosts to run (repeatable)")
    _broker_option(worker)
    state_cli.add_state_argument(worker)
    worker.add_argument(
        "-c", "--concurrency", type=_whole(1), default=8, help="hosts this worker runs at once (default 8)"
    )
    worker.add_argument(
        "--connect-cap",
        type=_whole(1),
        help="at most this many hosts of each site connecting at once, across all workers of the site",
    )
    worker.add_argument("--name", help="the worker's Celery node name (default from the host and pid)")
    _vault_options(worker)

    schema_cmd = commands.add_parser("schema", help="print the JSON Schema of playbooks or inventories (for editors)")
    schema_cmd.add_argument("kind", choices=["playbook", "inventory"])

    facts_cmd = commands.add_parser("facts", help="gather and print facts: build, edition, VT, SLAT, features, engine")
    facts_cmd.add_argument("-i", "--inventory", type=Path, required=True)
    facts_cmd.add_argument("-l", "--limit", type=_pattern, help="host pattern")
    facts_cmd.add_argument("--json", action="store_true")
    facts_cmd.add_argument("--ask-pass", action="store_true")
    _winrm_client_option(facts_cmd)
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
    doctor.add_argument("-l", "--limit", type=_pattern, help="host pattern")
    doctor.add_argument("--ask-pass", action="store_true", help="prompt for the password once")
    doctor.add_argument(
        "--timeout", type=_seconds(), default=30.0, help="seconds for each connection step (default 30)"
    )
    doctor.add_argument("--forks", type=_whole(1), default=16, help="hosts checked in parallel (default 16)")

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
    except UnicodeDecodeError as exc:
        raise InputError(
            [
                LoadError(
                    file, None, None, (), f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
                )
            ]
        ) from None
    except RecursionError:
        raise InputError([LoadError(file, None, None, (), "JSON nested too deeply")]) from None
    except OSError as exc:
        raise InputError([LoadError(file, None, None, (), f"cannot read: {exc.strerror or exc}")]) from None
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


def _lowered_security(targets: Sequence[Target]) -> list[str]:
    """One warning per setting that lowers transport security, naming its hosts (review F14): the
    README allows ``cert_validation: ignore`` and ``allow_unencrypted`` only when written down, and
    what is written down is still said once per run, so it is not forgotten."""
    unvalidated = sorted(
        {
            t.name
            for t in targets
            if t.connection.connection == "winrm"
            and t.connection.scheme == "https"
            and t.connection.cert_validation == "ignore"
        }
    )
    unencrypted = sorted(
        {
            t.name
            for t in targets
            if t.connection.connection == "winrm" and t.connection.scheme == "http" and t.connection.allow_unencrypted
        }
    )
    warnings = []
    if unvalidated:
        warnings.append(
            f"TLS certificates are not validated (cert_validation: ignore) for {_hosts(unvalidated)}: "
            "anyone on the path can impersonate them"
        )
    if unencrypted:
        warnings.append(
            f"plain HTTP without message encryption is allowed (allow_unencrypted: true) for {_hosts(unencrypted)}: "
            "basic authentication sends the password in clear"
        )
    return warnings


def _hosts(names: Sequence[str]) -> str:
    shown = ", ".join(names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{len(names)} host{'s' if len(names) != 1 else ''} ({shown}{more})"


def _warn(book_warnings: Sequence[str], targets: Sequence[Target]) -> None:
    """The run's warnings, once; first the targets' passwords join the secrets every output masks."""
    for target in targets:
        settings = target.connection
        if settings.password is not None:
            SECRETS.add(settings.password.get_secret_value())
        if settings.password_env:
            SECRETS.add(os.environ.get(settings.password_env))
    for warning in [*book_warnings, *_lowered_security(targets)]:
        print(f"warning: {warning}", file=sys.stderr)


def _validate(book: Playbook) -> int:
    _warn(book.warnings, book.targets)
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
    for run in result.verify:
        print(f"  verify: {run.describe()}")
    if result.pending:
        print(f"  pending_logon: {result.pending}")


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except InputError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RenderError, OutputError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _command(args: argparse.Namespace) -> int:
    """Run one parsed command; bad input raises (``run`` prints it and exits 1)."""
    if args.command == "schema":
        print(render_schema(args.kind), end="")
        return EXIT_OK
    if args.command == "facts":
        return _facts(args)
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "completion":
        from provisioner.completion import completion_script

        print(completion_script(_parser(), args.shell), end="")
        return EXIT_OK
    if args.command == "history":
        return state_cli.history_command(args)
    if args.command == "report":
        return state_cli.report_command(args)
    if args.command == "inventory":
        return _inventory(args)
    if args.command == "worker":
        return _worker(args)
    book = load_playbook(args.playbook, inventory=args.inventory, limit=args.limit, vault=_vault(args))
    if args.command == "validate":
        return _validate(book)
    if args.command in ("apply", "check"):
        return _converge(args, book)
    target = _target(book, args.host)
    renderer = Renderer(args.templates)  # a --templates that is no folder is refused by plan too
    if args.command == "plan":
        return _plan(args, target)
    if args.command == "render":
        return _render(args, target, renderer)
    raise AssertionError(f"unhandled command {args.command}")


def _doctor(args: argparse.Namespace) -> int:
    # Imported here: doctor pulls in pywinrm, requests, paramiko and cryptography.x509 (0.2 s and
    # more), which apply and check do not need.
    from provisioner.doctor import command as doctor_command

    return doctor_command(
        playbook=args.playbook,
        inventory=args.inventory,
        limit=args.limit,
        ask_pass=_ask_pass(args.ask_pass),
        timeout=args.timeout,
        forks=args.forks,
        templates=args.templates,
        out=lambda text: print(inert(text)),  # certificate names and host output are host text
    )


def _plan(args: argparse.Namespace, target: Target) -> int:
    result = plan(target.name, target.spec, _load_facts(args.facts))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print_plan(result)
    return EXIT_BAD_INPUT if result.blocked else EXIT_OK


def _render(args: argparse.Namespace, target: Target, renderer: Renderer) -> int:
    if args.phase == "facts":
        print(renderer.facts(target.name, facts_request(target.spec)), end="")
        return EXIT_OK
    if args.facts is None:
        raise InputError([LoadError(None, None, None, (), f"--phase {args.phase} needs --facts FILE.json")])
    result = plan(target.name, target.spec, _load_facts(args.facts))
    if args.phase == "apply":
        print(renderer.apply(result), end="")
    else:
        print(renderer.verify(result, "<nonce>"), end="")
    return EXIT_OK


def _connector(args: argparse.Namespace) -> Connector:
    """How a run opens its connections: the ``--ask-pass`` prompt and the ``--winrm-client`` choice."""
    return Connector(_ask_pass(args.ask_pass), args.winrm_client)


def _facts(args: argparse.Namespace) -> int:
    targets = facts_targets(args.inventory, args.limit, vault=_vault(args))
    _warn([], targets)
    renderer = Renderer(args.templates)
    connector = _connector(args)
    results = [gather_facts(target, connector, renderer) for target in targets]
    _lab_hint([targets[0].play.inventory], results)
    if args.json:
        print(
            json.dumps(
                {r.name: r.facts if r.facts else {"status": r.status, "error": r.message} for r in results}, indent=2
            )
        )
    else:
        print_facts_table(results)
    return exit_code(results)


def _broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="--executor celery: the Celery broker, redis://HOST:6379/0 (default: $PROVISION_BROKER_URL; "
        "give a URL with a password in the variable: other users can read process arguments)",
    )


def _broker(args: argparse.Namespace) -> str:
    """The broker URL of --executor celery and provision worker; checks that Celery is installed."""
    import importlib.util

    from provisioner.engine.celery_executor import BROKER_ENV

    if importlib.util.find_spec("celery") is None:
        raise InputError(
            [LoadError(None, None, None, (), "the Celery executor needs Celery: pip install 'provisioner[celery]'")]
        )
    broker: str | None = args.broker or os.environ.get(BROKER_ENV)
    if not broker:
        raise InputError(
            [LoadError(None, None, None, (), f"the Celery executor needs a broker: --broker URL or {BROKER_ENV}")]
        )
    return broker


def _worker(args: argparse.Namespace) -> int:
    from provisioner.engine.celery_executor import WorkerSettings, worker_main
    from provisioner.state.rollouts import open_rollouts

    broker = _broker(args)
    state = open_rollouts(args.state, pool_size=args.concurrency + 2)
    try:
        settings = WorkerSettings(
            broker=broker,
            state=state,
            sites=args.site,
            concurrency=args.concurrency,
            vault=_vault(args),
            connect_cap=args.connect_cap,
        )
        worker_main(settings, name=args.name)
    finally:
        state.close()
    return EXIT_OK


def _winrm_client_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--winrm-client",
        choices=["lean", "pywinrm"],
        help="WinRM client for every host of the run (overrides winrm_client; default lean, "
        "pywinrm for kerberos, credssp and certificate)",
    )


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


def _attempt(write: Callable[[], None]) -> list[OutputError]:
    """Run one output's write; its failure is collected, so the other outputs are still written."""
    try:
        write()
    except OutputError as exc:
        return [exc]
    return []


def _converge(args: argparse.Namespace, book: Playbook) -> int:
    """apply/check. Every input and output is checked before the lab starts or any host is touched
    (a problem is exit 1 with nothing run); from then on every targeted host ends up in every output,
    whatever stops the run, and the signal handlers stay until the outputs are written, so a third
    Ctrl-C cannot cut the report short."""
    started = datetime.now(UTC)
    only = hosts_to_retry(args.retry_failed) if args.retry_failed else None
    total = sum(1 for t in book.targets if only is None or t.name in only)
    renderer = Renderer(args.templates)
    for option, file in (("--report", args.report), ("--junit", args.junit)):
        if file is not None:
            check_output(option, file)
    rollouts = _rollouts(args)
    sink = state_cli.start_run(args, book)  # before any host is touched: an unwritable store stops here
    events = EventLog(args.events) if args.events else None
    _warn(book.warnings, [t for t in book.targets if only is None or t.name in only])
    interrupt = Interrupt()
    handlers = {sig: signal.signal(sig, lambda *_: interrupt.signal()) for sig in (signal.SIGINT, signal.SIGTERM)}
    problems: list[OutputError] = []
    try:
        with make_display(args.output, total) as display:

            def on_event(event: Event) -> None:
                display.event(event)
                if events:
                    events.event(event)

            def on_result(result: HostResult) -> None:
                display.result(result)
                if events:
                    events.result(result)

            if rollouts is not None:
                results = _run_celery(args, book, rollouts, on_event, on_result, display.batch, interrupt, only, sink)
            else:
                results = run_playbook(
                    book,
                    args.command,
                    _connector(args),
                    renderer=renderer,
                    on_event=on_event,
                    on_result=on_result,
                    on_batch=display.batch,
                    interrupt=interrupt,
                    only=only,
                    forks=args.forks,
                    sink=sink,
                )
        if events:
            events.close()
            problems += [events.error] if events.error else []
        code = exit_code(results, interrupted=interrupt.stop.is_set())
        problems += _write_outputs(args, book, started, results, code, sink.run_id if sink else None)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if events:
            events.close()
        if rollouts is not None:
            rollouts.close()
    _lab_hint([play.inventory for play in book.plays], results)
    for problem in problems:
        # The hosts were run: the exit code still says how they ended, and this line what is missing.
        print(f"error: {problem}", file=sys.stderr)
    state_cli.finish_run(sink, args, code, results)
    return code


def _write_outputs(
    args: argparse.Namespace,
    book: Playbook,
    started: datetime,
    results: list[HostResult],
    code: int,
    run_id: str | None,
) -> list[OutputError]:
    """The run's summary on stdout, then --report and --junit; what could not be written is returned."""
    problems: list[OutputError] = []
    if args.output != "json":
        print_results(results, args.command)
    else:
        print_json_summary(results, args.command, code, run_id)
    if args.report:
        report = build_report(mode=args.command, playbook=book.file, started=started, results=results, run_id=run_id)
        problems += _attempt(lambda: write_report(args.report, report))
    if args.junit:
        problems += _attempt(lambda: write_junit(args.junit, results, args.command))
    return problems


def _rollouts(args: argparse.Namespace) -> RolloutState | None:
    """--executor celery: the shared rollout state, opened (and checked to be PostgreSQL) before
    anything runs; None for the local executor."""
    if args.executor != "celery":
        return None
    if args.no_state:
        raise InputError(
            [LoadError(None, None, None, (), "--executor celery keeps the rollout in the state store: drop --no-state")]
        )
    _broker(args)
    from provisioner.state.rollouts import open_rollouts

    return open_rollouts(args.state)


def _run_celery(
    args: argparse.Namespace,
    book: Playbook,
    rollouts: RolloutState,
    on_event: Callable[[Event], None],
    on_result: Callable[[HostResult], None],
    on_batch: Callable[[int, int, int], None],
    interrupt: Interrupt,
    only: set[str] | None,
    sink: StoreSink | None,
) -> list[HostResult]:
    """The hosts on Celery workers. What a worker needs to load the same targets travels in the
    store as paths (every worker reads the same playbook and inventory files), never as values."""
    from provisioner.engine.celery_executor import ControllerSettings, run_celery

    def absolute(path: Path | None) -> str | None:
        return str(path.resolve()) if path is not None else None

    job = {
        "playbook": absolute(args.playbook),
        "inventory": absolute(args.inventory),
        "limit": args.limit,
        "templates": absolute(args.templates),
        "winrm_client": args.winrm_client,
        "only": sorted(only) if only is not None else None,
    }
    settings = ControllerSettings(broker=_broker(args), state=rollouts, job=job, lease_seconds=args.lease_seconds)
    return run_celery(
        book,
        args.command,
        settings,
        on_event=on_event,
        on_result=on_result,
        on_batch=on_batch,
        on_resume=lambda rollout_id: print(
            f"resuming rollout {rollout_id[:12]}: its controller is gone; hosts already done are not run again",
            file=sys.stderr,
        ),
        interrupt=interrupt,
        only=only,
        sink=sink,
    )


def _lab_hint(inventories: Sequence[Inventory], results: Sequence[HostResult]) -> None:
    """One line when a lab inventory's hosts could not be reached or logged on to (no lab, or its
    password not exported).

    A lab inventory (``provision-lab up`` writes one) carries ``provision_lab`` in its ``all`` vars;
    the lab is its own program (lab/), which this tool neither imports nor starts.
    """
    if not any("provision_lab" in inventory.groups["all"].vars for inventory in inventories):
        return
    if any(r.status in ("unreachable", "failed") and r.facts is None for r in results):  # never reached
        print(
            'lab: start the lab with `provision-lab up` and export PROVISION_LAB_PASSWORD="$(provision-lab password)"',
            file=sys.stderr,
        )


def main() -> None:
    # One process, one command: what exists by now (modules, classes, pydantic's validators) lives
    # until it exits, so the cyclic collector need not walk it again, and a fleet's results made
    # gen-0 collections every 700 allocations (203 of them in a 1,000-host check, 0.1 s of CPU).
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    sys.exit(run())


if __name__ == "__main__":
    main()
