"""``docker.exe``, the Docker CLI for Windows: ``version``, ``info``, ``pull``, ``run``, ``context``,
and, in Docker Desktop's copy, the ``desktop`` plugin.

The client reaches an engine only through its named pipe (``-H``, ``DOCKER_HOST``, else
``npipe:////./pipe/docker_engine``): nothing answers unless an engine process holds that pipe now
(engines.py). Texts are docker/cli's where the research has them (windows-facts.md §6,
docker-desktop.md §2); where the lab shortens an output, the docstring says which lines it keeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows.natives.dockerd import ENGINE_COMMITS
from provision_lab.windows.natives.engines import (
    DEFAULT_PIPE,
    Engine,
    Output,
    engine_on,
    pipe_name,
    pull,
    run_container,
)
from provision_lab.windows.natives.machine import NativeMachine

__all__ = ["CLI_COMMITS", "Docker", "api_version", "go_template"]

CLI_COMMITS = {
    # `docker --version`'s "build" (docker/cli commit): 26.1.4 5650f9b, 27.3.1 ce12230 and 28.0.4 b8034c0
    # are in public output; the others are from the docker/cli tags, the lab's reading (UNCONFIRMED).
    "25.0.5": "5dc9bcc",
    "26.1.4": "5650f9b",
    "27.3.1": "ce12230",
    "27.4.1": "b9d17ea",
    "28.0.4": "b8034c0",
    "28.3.0": "38b7060",
    "29.1.0": "0aedba5",
}

_API = {
    (25, 0): "1.44",
    (26, 1): "1.45",
    (27, 3): "1.47",
    (27, 4): "1.47",
    (28, 0): "1.48",
    (28, 3): "1.51",
    (29, 1): "1.52",
}
"""API version per release (Docker's "API version history" page lists the API each engine serves)."""


def api_version(version: str) -> str:
    major, minor = (int(part) for part in version.split(".")[:2])
    return _API.get((major, minor), "1.47")


def _unreached_api(version: str) -> str:
    """The API version a client puts in its URL when the daemon did not answer the version ping:
    clients before 28 fall back to 1.24, later ones keep their own (both forms are in public output,
    e.g. model.py's previous lab and docker/for-win reports; the exact cut-over is a guess)."""
    major = int(version.split(".")[0])
    return api_version(version) if major >= 28 else "1.24"


class TemplateError(Exception):
    pass


def go_template(template: str, data: Any) -> str:
    """The part of Go's text/template that ``--format`` strings use: ``{{.A.B}}`` field paths and
    ``{{json .A}}`` around literal text. Anything else fails (the lab's rule), with Go's wording for
    an unknown function."""
    out: list[str] = []
    rest = template
    while "{{" in rest:
        before, _, after = rest.partition("{{")
        action, closed, rest = after.partition("}}")
        if not closed:
            raise TemplateError("template parsing error: template: :1: unclosed action")
        out.append(before)
        words = action.strip().split()
        as_json = len(words) == 2 and words[0] == "json"
        path = words[1] if as_json else (words[0] if len(words) == 1 else "")
        if not path.startswith("."):
            name = words[0] if words else ""
            raise TemplateError(f'template parsing error: template: :1: function "{name}" not defined')
        value = data
        for field in [part for part in path.split(".") if part]:
            if not isinstance(value, dict) or field not in value:
                raise TemplateError(
                    f'template: :1:{len(before) + 3}: executing "" at <{path}>: can\'t evaluate field {field}'
                )
            value = value[field]
        if as_json:
            out.append(json.dumps(value, separators=(",", ":")))
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        else:
            out.append("<no value>" if value is None else str(value))
    out.append(rest)
    return "".join(out)


@dataclass(frozen=True)
class _Invocation:
    host: str
    command: list[str]


class Docker:
    """One docker.exe file: its path, the CLI version it was built as, and for Docker Desktop's
    copy the ``desktop`` plugin (``desktop``: called with the plugin's arguments)."""

    def __init__(
        self,
        path: str,
        version: str,
        machine: NativeMachine,
        *,
        desktop: Callable[[Sequence[str], Host], NativeResult] | None = None,
    ) -> None:
        self.path = path
        self.version = version
        self.machine = machine
        self.desktop = desktop

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        """Parse the global options, then run the command (cobra's errors exit 125 for flags, 1 otherwise)."""
        args = list(argv[1:])
        address = host.environment().get("DOCKER_HOST") or f"npipe:////./pipe/{DEFAULT_PIPE}"
        while args and args[0].startswith("-"):
            flag, eq, value = args.pop(0).partition("=")
            if flag in ("-H", "--host", "-c", "--context", "-l", "--log-level", "--config"):
                if not eq:
                    if not args:
                        return NativeResult(125, "", f"flag needs an argument: {flag}\nSee 'docker --help'.\n")
                    value = args.pop(0)
                if flag in ("-H", "--host"):
                    address = value
                elif flag in ("-c", "--context") and value.lower() != "default":
                    return NativeResult(1, "", f'context "{value}" does not exist\n')
            elif flag in ("-v", "--version"):
                return NativeResult(
                    0, f"Docker version {self.version}, build {CLI_COMMITS.get(self.version, 'unknown')}\n"
                )
            elif flag not in ("-D", "--debug"):
                return NativeResult(125, "", f"unknown flag: {flag}\nSee 'docker --help'.\n")
        if not args:
            return NativeResult(0, _USAGE)
        command, rest = args[0], args[1:]
        handlers: dict[str, Callable[[str, list[str], Host], NativeResult]] = {
            "version": self._version,
            "info": self._info,
            "pull": self._pull,
            "run": self._run,
            "context": self._context,
        }
        if command == "desktop" and self.desktop is not None:
            return self.desktop(rest, host)
        handler = handlers.get(command)
        if handler is None:
            return NativeResult(1, "", f"docker: '{command}' is not a docker command.\nSee 'docker --help'\n")
        return handler(address, rest, host)

    # -- connection -----------------------------------------------------------------------------

    def _connect(self, address: str, host: Host, method: str, endpoint: str) -> Engine | str:
        """The engine on the address, or the client's error text when it cannot talk to it.

        The pipe is missing ("The system cannot find the file specified.") or refuses the account
        ("Access is denied.": the engine's pipe admits Administrators, plus daemon.json's ``group``,
        wf §4.3, or the user whose Docker Desktop runs it [DD-PERM]). The client wraps the error as
        "error during connect: <Method> "<url>": open <pipe>: <reason>", and for the default pipe
        ``//./pipe/docker_engine`` only, it adds a hint: "this error may indicate that the docker
        daemon is not running" when it runs elevated, "in the default daemon configuration on Windows,
        the docker client must be run with elevated privileges to connect" when it does not (moby
        client/request.go, which tests elevation by opening ``\\\\.\\PHYSICALDRIVE0``)."""
        pipe = pipe_name(address)
        if pipe is None:
            return f'error during connect: {method} "http://{address}/v{self._api()}{endpoint}": the lab has only named pipes'
        shown = address[len("npipe://") :].replace("\\", "/") or "//./pipe/docker_engine"
        url = "http://" + shown.replace("/", "%2F") + f"/v{_unreached_api(self.version)}{endpoint}"
        engine = engine_on(self.machine, pipe)
        reason: str | None = None
        if engine is None:
            reason = "The system cannot find the file specified."
        else:
            allowed = host.elevated or (engine.owner is not None and engine.owner.lower() == host.user_name.lower())
            if not allowed and engine.group is not None:
                allowed = engine.group.lower() in (g.lower() for g in self.machine.groups_of(host.user_name))
            if not allowed:
                reason = "Access is denied."
        if reason is None and engine is not None:
            return engine
        error = f'{method} "{url}": open {shown}: {reason}'
        if f"open //./pipe/{DEFAULT_PIPE}" in error:
            hint = (
                "this error may indicate that the docker daemon is not running"
                if host.elevated
                else "in the default daemon configuration on Windows, the docker client must be run with elevated "
                "privileges to connect"
            )
            error = f"{hint}: {error}"
        return "error during connect: " + error

    def _api(self) -> str:
        return api_version(self.version)

    def _client_data(self) -> dict[str, Any]:
        return {
            "Version": self.version,
            "ApiVersion": self._api(),
            "GitCommit": CLI_COMMITS.get(self.version, "unknown"),
            "Os": "windows",
            "Arch": "amd64",
            "Context": "default",
        }

    # -- commands -------------------------------------------------------------------------------

    def _version(self, address: str, args: list[str], host: Host) -> NativeResult:
        """``docker version [--format T]``: the Client block, then the Server's (docker/cli
        version.go template; the lab leaves out the Go version and build-date lines)."""
        template, error = _format_option(args, "version")
        if error:
            return error
        client = self._client_data()
        engine = self._connect(address, host, "Get", "/version")
        server: dict[str, Any] | None = None
        if isinstance(engine, Engine):
            host.sleep(0.05)
            server = {
                "Platform": {"Name": engine.platform},
                "Version": engine.version,
                "ApiVersion": api_version(engine.version),
                "MinAPIVersion": "1.24",
                "GitCommit": ENGINE_COMMITS.get(engine.version, "unknown"),
                "Os": engine.os,
                "Arch": "amd64",
                "Experimental": False,
            }
        if template is not None:
            try:
                text = go_template(template, {"Client": client, "Server": server}) + "\n"
            except TemplateError as problem:
                text = ""
                if server is not None:
                    return NativeResult(1, "", f"{problem}\n")
        else:
            lines = [
                "Client:",
                f" Version:           {client['Version']}",
                f" API version:       {client['ApiVersion']}",
                f" Git commit:        {client['GitCommit']}",
                " OS/Arch:           windows/amd64",
                " Context:           default",
            ]
            if server is not None:
                lines += [
                    "",
                    f"Server: {engine.platform if isinstance(engine, Engine) else ''}",
                    " Engine:",
                    f"  Version:          {server['Version']}",
                    f"  API version:      {server['ApiVersion']} (minimum version 1.24)",
                    f"  Git commit:       {server['GitCommit']}",
                    f"  OS/Arch:          {server['Os']}/amd64",
                    "  Experimental:     false",
                ]
            text = "\n".join(lines) + "\n"
        if isinstance(engine, str):
            return NativeResult(1, text, engine + "\n")
        return NativeResult(0, text)

    def _info(self, address: str, args: list[str], host: Host) -> NativeResult:
        """``docker info [--format T]``: the lab prints the lines it models (Server Version,
        Storage Driver, Default Isolation, OSType; docker/cli info.go's labels [CLI-INFO])."""
        template, error = _format_option(args, "info")
        if error:
            return error
        engine = self._connect(address, host, "Get", "/info")
        if isinstance(engine, str):
            return NativeResult(1, "", engine + "\n")
        windows = engine.os == "windows"
        isolation = "process" if self.machine.product_type != 1 else "hyperv"
        data = {
            "ServerVersion": engine.version,
            "Driver": "windowsfilter" if windows else "overlay2",
            "Isolation": isolation if windows else "",
            "OSType": engine.os,
            "Name": self.machine.computer_name if windows else "docker-desktop",
            "Images": len(self.machine.native_state.get("images", {}).get(engine.store.lower(), {})),
        }
        if template is not None:
            try:
                return NativeResult(0, go_template(template, data) + "\n")
            except TemplateError as problem:
                return NativeResult(1, "", f"{problem}\n")
        lines = [
            "Server:",
            f" Images: {data['Images']}",
            f" Server Version: {engine.version}",
            f" Storage Driver: {data['Driver']}",
            *([f" Default Isolation: {isolation}"] if windows else []),
            f" OSType: {engine.os}",
            f" Name: {data['Name']}",
        ]
        return NativeResult(0, "\n".join(lines) + "\n")

    def _pull(self, address: str, args: list[str], host: Host) -> NativeResult:
        """``docker pull IMAGE``: progress on stdout, the daemon's refusal on stderr, exit 1."""
        images = [arg for arg in args if not arg.startswith("-")]
        flags = [arg for arg in args if arg.startswith("-") and arg not in ("-q", "--quiet")]
        if flags:
            return NativeResult(125, "", f"unknown flag: {flags[0]}\nSee 'docker pull --help'.\n")
        if len(images) != 1:
            return NativeResult(1, "", "\"docker pull\" requires exactly 1 argument.\nSee 'docker pull --help'.\n")
        engine = self._connect(address, host, "Post", "/images/create")
        if isinstance(engine, str):
            return NativeResult(1, "", engine + "\n")
        out = Output()
        if ":" not in images[0].rpartition("/")[2] and "@" not in images[0]:
            out.write("Using default tag: latest")
        pull(self.machine, engine, images[0], out, host.sleep)
        if out.exit_code == 0:
            out.write(images[0] if ":" in images[0].rpartition("/")[2] else images[0] + ":latest")
        return out.result()

    def _run(self, address: str, args: list[str], host: Host) -> NativeResult:
        """``docker run [--rm] [--isolation=X] [--platform=X] IMAGE [COMMAND...]``: options end at the
        first argument that is not one (pflag's interspersed=false for run)."""
        isolation: str | None = None
        platform: str | None = None
        i = 0
        while i < len(args) and args[i].startswith("-"):
            flag, eq, value = args[i].partition("=")
            if flag in ("--isolation", "--platform", "--name", "-e", "--env"):
                if not eq:
                    i += 1
                    if i >= len(args):
                        return NativeResult(125, "", f"flag needs an argument: {flag}\nSee 'docker run --help'.\n")
                    value = args[i]
                if flag == "--isolation":
                    isolation = value
                elif flag == "--platform":
                    platform = value
            elif flag in ("-i", "-t", "-it", "-ti", "--interactive", "--tty"):
                # No console over WinRM/SSH: "the input device is not a TTY" [Virtualization-Documentation#413].
                if "t" in flag.lstrip("-") or flag == "--tty":
                    return NativeResult(1, "", "the input device is not a TTY\n")
            elif flag != "--rm":
                return NativeResult(125, "", f"unknown flag: {flag}\nSee 'docker run --help'.\n")
            i += 1
        if i >= len(args):
            return NativeResult(1, "", "\"docker run\" requires at least 1 argument.\nSee 'docker run --help'.\n")
        image, command = args[i], args[i + 1 :]
        engine = self._connect(address, host, "Post", "/containers/create")
        if isinstance(engine, str):
            return NativeResult(125, "", f"docker: {engine.removesuffix('.')}.\nSee 'docker run --help'.\n")
        out = Output()
        if platform is not None and platform.split("/")[0].lower() != engine.os:
            # A Linux image on the Windows engine is LCOW, removed in Engine 23.0 (wf §6; dd §5): the
            # platform filter leaves no entry (text UNCONFIRMED).
            return NativeResult(
                125,
                "",
                f"docker: no matching manifest for {platform} in the manifest list entries.\nSee 'docker run --help'.\n",
            )
        run_container(self.machine, engine, image, command, isolation, out, host.sleep)
        return out.result()

    def _context(self, address: str, args: list[str], host: Host) -> NativeResult:
        """``docker context show|ls``: a session without a CLI config has only ``default``
        (contexts live in the user's ``%USERPROFILE%\\.docker``, dd §2)."""
        if args[:1] == ["show"]:
            return NativeResult(0, "default\n")
        if args[:1] in (["ls"], ["list"]):
            return NativeResult(
                0,
                "NAME        DESCRIPTION                               DOCKER ENDPOINT                  ERROR\n"
                "default *   Current DOCKER_HOST based configuration   npipe:////./pipe/docker_engine\n",
            )
        sub = args[0] if args else ""
        return NativeResult(1, "", f"docker: 'context {sub}' is not a docker command.\nSee 'docker --help'\n")


def _format_option(args: list[str], command: str) -> tuple[str | None, NativeResult | None]:
    template: str | None = None
    i = 0
    while i < len(args):
        flag, eq, value = args[i].partition("=")
        if flag in ("-f", "--format"):
            if not eq:
                i += 1
                if i >= len(args):
                    return None, NativeResult(
                        125, "", f"flag needs an argument: {flag}\nSee 'docker {command} --help'.\n"
                    )
                value = args[i]
            template = value
        else:
            return None, NativeResult(125, "", f"unknown flag: {flag}\nSee 'docker {command} --help'.\n")
        i += 1
    return template, None


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


_USAGE = "\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n"
