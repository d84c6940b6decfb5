"""``containerd.exe``, ``ctr.exe`` and ``crictl.exe``: the Kubernetes node runtime of Windows.

Read from containerd's code at the tags the lab serves (containerd/containerd; ``cs §N`` is
``/work/shared/research/containerd-scaleout-history.md``):

* ``containerd.exe`` (``cmd/containerd/command/main.go``, ``service_windows.go``, ``config.go``):
  urfave/cli global flags ``--config/-c``, ``--log-level/-l``, ``--address/-a``, ``--root``,
  ``--state`` and the Windows service flags ``--service-name``, ``--register-service``,
  ``--unregister-service``, ``--run-service`` (hidden), ``--log-file``; ``--version`` prints
  ``containerd <package> v<version> <revision>``. The config is loaded **before** the service is
  registered, so a bad config.toml fails the registration too. ``--register-service`` creates the
  service (DisplayName "Containerd", automatic start) with the ImagePath ``<containerd.exe>
  --run-service`` followed by every other argument given (cs §1.4); its errors go through
  ``log.L.Fatal`` (a logrus ``level=fatal`` line, exit 1). Other errors print ``containerd: <err>``
  and exit 1 (``cmd/containerd/main.go``). ``config default|dump|migrate``: ``dump`` and ``migrate``
  are the same function (``dumpConfig``), the merged config with its imports.
* ``ctr.exe`` (``cmd/ctr``): ``--address/-a`` (default ``\\\\.\\pipe\\containerd-containerd``,
  ``CONTAINERD_ADDRESS``), ``--namespace/-n`` (``default``, ``CONTAINERD_NAMESPACE``); ``images pull``,
  ``images ls``, ``run [--rm] [--isolated] IMAGE ID [COMMAND...]`` (``--isolated``: "Run the container
  with vm isolation", ``run_windows.go``); errors ``ctr: <err>``, exit 1; ``run`` exits with the
  container's code. 2.x first stats the pipe ("cannot access socket ..."), 1.7 dials until it times out.
* ``nerdctl.exe`` (containerd/nerdctl): ``--version`` (``nerdctl version <V>``) only; its containers
  need a CNI config (cs §1.7), which the lab does not model, so every other command fails plainly.
* ``crictl.exe`` (kubernetes-sigs/cri-tools): ``--runtime-endpoint/-r`` (``CONTAINER_RUNTIME_ENDPOINT``),
  ``info``, ``version``, ``pull``; a fatal error is a logrus ``level=fatal`` line, exit 1.

What answers on containerd's pipe lives in the machine's native state under ``containerd`` while the
service that opened it runs. Images are per containerd root and namespace (``ctr`` without ``-n k8s.io``
pulls where the kubelet does not look, containerd/containerd#6438, cs §1.5).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Sequence
from typing import Any

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows.natives import containerd_config as cfg
from provision_lab.windows.natives.engines import image_builds, pipe_name, process_isolation_allowed, split_reference
from provision_lab.windows.natives.machine import NativeMachine

__all__ = ["CONTAINERD_REVISIONS", "Containerd", "Crictl", "Ctr", "Nerdctl", "containerd_on"]

CONTAINERD_REVISIONS = {
    # `containerd --version` prints the release's commit: the tags' commits in containerd/containerd.
    "1.7.28": "b98a3aace656320842a23f4a392a33f46af97866",
    "2.0.7": "4ac6c20c7bbf8177f29e46bbdc658fec02ffb8ad",
    "2.1.5": "fcd43222d6b07379a4be9786bda52438f0dd16a1",
    "2.2.1": "dea7da592f5d1d2b7755e3a161be07f43fad8f75",
    "2.3.0": "2976f38ccbfcda5ef1364d63d60b0a304e4bf94a",
}

_FATAL_TIME = 'time="2026-12-01T06:00:00.000000000Z"'
_CRI_ENDPOINTS = ("npipe:////./pipe/containerd-containerd", "npipe:////./pipe/cri-dockerd")
"""crictl's default runtime endpoints on Windows, tried in order when none is given (cri-tools)."""


def _fatal(message: str) -> NativeResult:
    """logrus ``Fatal``: one ``level=fatal`` line on stderr, exit 1."""
    return NativeResult(1, "", f"{_FATAL_TIME} level=fatal msg={cfg._quote(message)}\n")


def _package(version: str) -> str:
    return "github.com/containerd/containerd" + ("/v2" if cfg.major_minor(version) >= (2, 0) else "")


# ------------------------------------------------------------------------------------------------
# The pipe and the images


def _state(machine: NativeMachine) -> dict[str, Any]:
    state: dict[str, Any] = machine.native_state.setdefault("containerd", {})
    state.setdefault("pipes", {})
    state.setdefault("images", {})
    state.setdefault("containers", {})
    return state


def containerd_on(machine: NativeMachine, pipe: str) -> dict[str, Any] | None:
    """The containerd answering on ``\\\\.\\pipe\\<pipe>`` now (its service must still run), else None."""
    pipes = _state(machine)["pipes"]
    entry = pipes.get(pipe.lower())
    if entry is None:
        return None
    status = machine.service_state(str(entry["service"]))
    if status is None or status[0] != "Running":
        del pipes[pipe.lower()]
        return None
    return dict(entry)


def _images(machine: NativeMachine, root: str, namespace: str) -> dict[str, int]:
    stores: dict[str, dict[str, int]] = _state(machine)["images"]
    return stores.setdefault(f"{root.lower()}|{namespace}", {})


def _usable_builds(host_build: int, builds: tuple[int, ...]) -> list[int]:
    """containerd's Windows platform matcher (containerd/platforms ``platform_windows_compat.go``,
    windows-facts.md §1.3): below 20348 only the host's own build; from 20348 any build in
    [20348, host]."""
    if host_build < 20348:
        return [build for build in builds if build == host_build]
    return [build for build in builds if 20348 <= build <= host_build]


class _Args:
    """urfave/cli flag parsing: ``--name value``, ``--name=value``, ``-name``; booleans take no value."""

    def __init__(self, argv: Sequence[str], values: dict[str, str], bools: dict[str, str]) -> None:
        self.flags: dict[str, Any] = {}
        self.rest: list[str] = []
        self.error: str | None = None
        args = list(argv)
        while args:
            arg = args.pop(0)
            if arg == "--":
                self.rest += args
                break
            if not arg.startswith("-") or arg == "-":
                self.rest = [arg, *args]
                break
            name, eq, value = arg.lstrip("-").partition("=")
            if name in bools:
                self.flags[bools[name]] = value.lower() != "false" if eq else True
            elif name in values:
                if not eq:
                    if not args:
                        self.error = f"flag needs an argument: -{name}"
                        return
                    value = args.pop(0)
                self.flags[values[name]] = value
            else:
                self.error = f"flag provided but not defined: -{name}"
                return


# ------------------------------------------------------------------------------------------------
# containerd.exe

_CTRD_VALUES = {
    "config": "config",
    "c": "config",
    "log-level": "log-level",
    "l": "log-level",
    "address": "address",
    "a": "address",
    "root": "root",
    "state": "state",
    "service-name": "service-name",
    "log-file": "log-file",
}
_CTRD_BOOLS = {
    "register-service": "register-service",
    "unregister-service": "unregister-service",
    "run-service": "run-service",
    "version": "version",
    "v": "version",
    "help": "help",
    "h": "help",
}
_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")


class Containerd:
    """One containerd.exe file on one machine, at the version it was built as."""

    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def _config_path(self, flags: dict[str, Any]) -> str:
        return str(flags.get("config") or cfg.CONFIG_DIR + r"\config.toml")

    def _load(self, flags: dict[str, Any]) -> cfg.Loaded:
        return cfg.load(
            self._config_path(flags),
            self.version,
            self.machine.read_file,
            self.machine.list_files,
            explicit="config" in flags,
        )

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        parsed = _Args(argv[1:], _CTRD_VALUES, _CTRD_BOOLS)
        if parsed.error is not None:
            return NativeResult(1, "", f"Incorrect Usage: {parsed.error}\n\ncontainerd: {parsed.error}\n")
        flags = parsed.flags
        if flags.get("version"):
            revision = CONTAINERD_REVISIONS.get(self.version, "")
            return NativeResult(0, f"containerd {_package(self.version)} v{self.version} {revision}\n")
        level = flags.get("log-level")
        if level is not None and str(level).lower() not in _LEVELS:
            return NativeResult(1, "", f'containerd: not a valid logrus Level: "{level}"\n')
        if parsed.rest:
            return self._command(parsed.rest, flags)
        try:
            loaded = self._load(flags)
        except cfg.ConfigError as error:
            return NativeResult(1, "", f"containerd: {error}\n")
        warnings = "".join(line + "\n" for line in loaded.warnings)
        if flags.get("register-service") or flags.get("unregister-service"):
            if flags.get("register-service") and flags.get("unregister-service"):
                return _fatal("--register-service and --unregister-service cannot be used together: invalid argument")
            if not host.elevated:
                return _fatal("Access is denied.")  # mgr.Connect asks for SC_MANAGER_ALL_ACCESS
            name = str(flags.get("service-name") or "containerd")
            if flags.get("unregister-service"):
                if not self.machine.service_exists(name):
                    return _fatal("The specified service does not exist as an installed service.")
                self.machine.delete_service(name)
                return NativeResult(0, "", warnings)
            if self.machine.service_exists(name):
                return _fatal("The specified service already exists.")
            # CreateTopLevelDirectories runs before the registration (main.go).
            rest = [arg for arg in argv[1:] if arg not in ("--register-service", "--unregister-service")]
            self.machine.create_service(
                name, "Containerd", subprocess.list2cmdline([self.path, "--run-service", *rest]), "Automatic"
            )
            host.sleep(1.0)
            return NativeResult(0, "", warnings)
        # The daemon in the foreground would run until stopped; the lab refuses instead of hanging (dockerd's rule).
        return NativeResult(
            1, warnings, "containerd: the lab does not run containerd in the foreground; start its service\n"
        )

    def _command(self, words: list[str], flags: dict[str, Any]) -> NativeResult:
        if words[0] != "config":
            if words[0] in ("publish", "oci-hook", "help", "h"):
                return NativeResult(1, "", f"containerd: the lab does not model 'containerd {words[0]}'\n")
            # An unknown command: urfave shows the app's help for it (Action: ShowCommandHelp) and fails.
            return NativeResult(1, "", f"containerd: No help topic for '{words[0]}'\n")
        sub = words[1] if len(words) > 1 else ""
        if sub == "default":
            return NativeResult(0, cfg.dump(cfg.default_config(self.version), self.version))
        if sub in ("dump", "migrate"):
            try:
                loaded = self._load(flags)
            except cfg.ConfigError as error:
                return NativeResult(1, "", f"containerd: {error}\n")
            return NativeResult(0, cfg.dump(loaded.config, self.version), "".join(w + "\n" for w in loaded.warnings))
        return NativeResult(
            1, "", f"containerd: No help topic for '{sub}'\n" if sub else "containerd: config needs a subcommand\n"
        )

    # -- ServiceProgram ---------------------------------------------------------------------------

    def start_service(self, argv: Sequence[str], service: str) -> str | None:
        """The service's process (``--run-service``): the config is loaded, the log file opened, then
        the gRPC pipe answers. A refused config stops it with containerd's error (what it would
        write before exiting; under the SCM it shows only as a failed start, cs §1.4)."""
        parsed = _Args(argv[1:], _CTRD_VALUES, _CTRD_BOOLS)
        if parsed.error is not None:
            return parsed.error
        flags = parsed.flags
        try:
            loaded = self._load(flags)
        except cfg.ConfigError as error:
            return str(error)
        log_file = flags.get("log-file")
        if log_file:
            before = self.machine.read_file(str(log_file)) or b""
            started = f'{_FATAL_TIME} level=info msg="starting containerd" revision={CONTAINERD_REVISIONS.get(self.version, "")} version=v{self.version}\n'
            text = "".join(line + "\n" for line in loaded.warnings) + started
            self.machine.write_file(str(log_file), before + text.encode())
        address = str(flags.get("address") or cfg.address(loaded.config))
        pipe = address.replace("/", "\\").rsplit("\\", 1)[-1]
        root = str(flags.get("root") or loaded.config.get("root") or cfg.ROOT)
        _state(self.machine)["pipes"][pipe.lower()] = {
            "service": service,
            "version": self.version,
            "root": root,
            "config": loaded.config,
            "address": address,
        }
        return None


# ------------------------------------------------------------------------------------------------
# ctr.exe

_CTR_VALUES = {
    "address": "address",
    "a": "address",
    "namespace": "namespace",
    "n": "namespace",
    "timeout": "timeout",
    "connect-timeout": "connect-timeout",
}
_CTR_BOOLS = {"debug": "debug", "version": "version", "v": "version", "help": "help", "h": "help"}
_RUN_VALUES = {"runtime": "runtime", "snapshotter": "snapshotter", "platform": "platform", "cwd": "cwd", "env": "env"}
_RUN_BOOLS = {"rm": "rm", "isolated": "isolated", "null-io": "null-io", "detach": "detach", "d": "detach"}
_PULL_SECONDS = {"nanoserver": 40.0, "servercore": 180.0, "server": 300.0}
"""The lab's pull times (as engines.py's for docker), other images 10 s."""


class Ctr:
    """One ctr.exe file: containerd's own client, at the version of the release it came in."""

    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        env = host.environment()
        parsed = _Args(argv[1:], _CTR_VALUES, _CTR_BOOLS)
        if parsed.error is not None:
            return NativeResult(1, "", f"Incorrect Usage: {parsed.error}\n\nctr: {parsed.error}\n")
        if parsed.flags.get("version"):
            return NativeResult(0, f"ctr {_package(self.version)} v{self.version}\n")
        address = str(parsed.flags.get("address") or env.get("CONTAINERD_ADDRESS") or cfg.PIPE)
        namespace = str(parsed.flags.get("namespace") or env.get("CONTAINERD_NAMESPACE") or "default")
        words = parsed.rest
        if not words:
            return NativeResult(1, "", "ctr: the lab models only 'ctr version', 'ctr images pull|ls' and 'ctr run'\n")
        command = words[0]
        if command not in ("version", "images", "image", "i", "run"):
            return NativeResult(1, "", f"ctr: the lab does not model 'ctr {command}'\n")
        daemon = containerd_on(self.machine, address.replace("/", "\\").rsplit("\\", 1)[-1])
        if daemon is None:
            if cfg.major_minor(self.version) >= (2, 0):
                return NativeResult(
                    1,
                    "",
                    f"ctr: cannot access socket {address}: CreateFile {address}: The system cannot find the file specified.\n",
                )
            host.sleep(10.0)
            return NativeResult(1, "", f"ctr: failed to dial {json.dumps(address)}: context deadline exceeded\n")
        if command == "version":
            return NativeResult(
                0,
                f"Client:\n  Version:  v{self.version}\n  Revision: {CONTAINERD_REVISIONS.get(self.version, '')}\n"
                f"  Go version: go1.24\n\nServer:\n  Version:  v{daemon['version']}\n"
                f"  Revision: {CONTAINERD_REVISIONS.get(str(daemon['version']), '')}\n  UUID: {_uuid(self.machine)}\n",
            )
        images = _images(self.machine, str(daemon["root"]), namespace)
        if command == "run":
            return self._run(words[1:], images, host)
        sub = words[1] if len(words) > 1 else ""
        if sub in ("ls", "list"):
            lines = ["REF TYPE DIGEST SIZE PLATFORMS LABELS"]
            lines += [
                f"{ref} application/vnd.oci.image.index.v1+json sha256:{_digest(ref, build)} - windows/amd64 -"
                for ref, build in sorted(images.items())
            ]
            return NativeResult(0, "".join(line + "\n" for line in lines))
        if sub == "pull":
            return self._pull(words[2:], images, host)
        return NativeResult(1, "", f"ctr: the lab does not model 'ctr images {sub}'\n")

    def _pull(self, args: list[str], images: dict[str, int], host: Host) -> NativeResult:
        pulled = _Args(
            args, {"platform": "platform", "user": "user", "u": "user"}, {"all-platforms": "all", "plain-http": "plain"}
        )
        if pulled.error is not None:
            return NativeResult(1, "", f"Incorrect Usage: {pulled.error}\n\nctr: {pulled.error}\n")
        if not pulled.rest:
            return NativeResult(1, "", "ctr: please provide an image reference to pull\n")
        ref = pulled.rest[0]
        builds = image_builds(ref)
        if builds is None:
            return NativeResult(1, "", f'ctr: failed to resolve reference "{ref}": {ref}: not found\n')
        usable = _usable_builds(self.machine.os_build, builds)
        if not usable:
            return NativeResult(1, "", "ctr: no match for platform in manifest: not found\n")
        chosen = self.machine.os_build if self.machine.os_build in usable else max(usable)
        seconds = 0.0 if ref in images else _pull_seconds(ref) * self.machine.install_time_factor
        host.sleep(seconds)
        images[ref] = chosen
        digest = _digest(ref, chosen)
        return NativeResult(
            0,
            f"{ref}: resolved\nunpacking windows/amd64 sha256:{digest}...\ndone: {seconds:.1f}s\n",
        )

    def _run(self, args: list[str], images: dict[str, int], host: Host) -> NativeResult:
        parsed = _Args(args, _RUN_VALUES, _RUN_BOOLS)
        if parsed.error is not None:
            return NativeResult(1, "", f"Incorrect Usage: {parsed.error}\n\nctr: {parsed.error}\n")
        if not parsed.rest:
            return NativeResult(1, "", "ctr: image ref must be provided\n")
        if len(parsed.rest) < 2:
            return NativeResult(1, "", "ctr: container id must be provided\n")
        if parsed.flags.get("rm") and parsed.flags.get("detach"):
            return NativeResult(1, "", "ctr: flags --detach and --rm cannot be specified together\n")
        ref, container, command = parsed.rest[0], parsed.rest[1], parsed.rest[2:]
        if ref not in images:
            return NativeResult(1, "", f'ctr: image "{ref}": not found\n')
        containers: dict[str, str] = _state(self.machine)["containers"]
        if container in containers:
            return NativeResult(1, "", f'ctr: container "{container}": already exists\n')
        sandbox = hashlib.sha256(f"{self.machine.computer_name}/{container}".encode()).hexdigest()
        if self.machine.feature_state("Containers") != "Enabled":
            # The shim loads vmcompute.dll, which only the Containers feature installs (wf §2);
            # the exact text of this failure is the lab's (ERROR_MOD_NOT_FOUND), UNCONFIRMED.
            return NativeResult(
                1, "", "ctr: failed to create shim task: The specified module could not be found.: unknown\n"
            )
        isolated = bool(parsed.flags.get("isolated"))
        build = images[ref]
        if isolated and not self.machine.hypervisor_running:
            return NativeResult(
                1,
                "",
                f"ctr: failed to create shim task: hcs::CreateComputeSystem {container}: No hypervisor is present on "
                "this system.: unknown\n",
            )
        if not isolated and not process_isolation_allowed(self.machine.os_build, self.machine.product_type == 1, build):
            # containerd/containerd#10347 shows the "failed to create shim task: hcs::CreateComputeSystem ...: unknown" form.
            return NativeResult(
                1,
                "",
                f"ctr: failed to create shim task: hcs::CreateComputeSystem {container}: The container operating system "
                "does not match the host operating system.: unknown\n",
            )
        host.sleep(6.0 if isolated else 2.0)
        if not parsed.flags.get("rm"):
            containers[container] = sandbox
        lowered = [word.lower() for word in command]
        if lowered[:2] in (["cmd", "/c"], ["cmd.exe", "/c"]) and lowered[2:3] == ["echo"]:
            return NativeResult(0, " ".join(command[3:]) + "\r\n")
        name = command[0] if command else ""
        return NativeResult(
            1,
            "",
            f"'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
        )


def _pull_seconds(ref: str) -> float:
    repo = split_reference(ref)[0].lower()
    return next((seconds for name, seconds in _PULL_SECONDS.items() if repo.endswith("/" + name)), 10.0)


def _digest(ref: str, build: int) -> str:
    return hashlib.sha256(f"{ref}@{build}".encode()).hexdigest()


def _uuid(machine: NativeMachine) -> str:
    raw = hashlib.sha256(machine.computer_name.encode()).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


# ------------------------------------------------------------------------------------------------
# crictl.exe

_CRICTL_VALUES = {
    "runtime-endpoint": "runtime-endpoint",
    "r": "runtime-endpoint",
    "image-endpoint": "image-endpoint",
    "i": "image-endpoint",
    "timeout": "timeout",
    "t": "timeout",
    "config": "config",
    "c": "config",
}
_CRICTL_BOOLS = {"debug": "debug", "D": "debug", "version": "version", "v": "version"}


class Crictl:
    """One crictl.exe file (cri-tools): the CRI client the kubelet's runtime is checked with."""

    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        parsed = _Args(argv[1:], _CRICTL_VALUES, _CRICTL_BOOLS)
        if parsed.error is not None:
            return _fatal(parsed.error)
        if parsed.flags.get("version"):
            return NativeResult(0, f"crictl version v{self.version}\n")
        words = parsed.rest
        if not words or words[0] not in ("info", "version", "pull"):
            return _fatal(
                f"the lab models only 'crictl info', 'crictl version' and 'crictl pull', not {' '.join(words)!r}"
            )
        given = parsed.flags.get("runtime-endpoint") or host.environment().get("CONTAINER_RUNTIME_ENDPOINT")
        warning = ""
        endpoints = [str(given)] if given else list(_CRI_ENDPOINTS)
        if not given:
            warning = (
                f'{_FATAL_TIME} level=warning msg="runtime connect using default endpoints: [{" ".join(_CRI_ENDPOINTS)}]. '
                'As the default settings are now deprecated, you should set the endpoint instead."\n'
            )
        daemon = None
        for endpoint in endpoints:
            pipe = pipe_name(endpoint)
            daemon = containerd_on(self.machine, pipe) if pipe is not None else None
            if daemon is not None:
                break
        if daemon is None:
            endpoint = endpoints[-1]
            pipe = pipe_name(endpoint) or endpoint
            failed = _fatal(
                f'validate service connection: validate CRI v1 runtime API for endpoint "{endpoint}": rpc error: code = '
                'Unavailable desc = connection error: desc = "transport: Error while dialing: open //./pipe/'
                f'{pipe}: The system cannot find the file specified."'
            )
            return NativeResult(1, "", warning + failed.stderr)
        if words[0] == "version":
            return NativeResult(
                0,
                f"Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v{daemon['version']}\nRuntimeApiVersion:  v1\n",
                warning,
            )
        if words[0] == "pull":
            if len(words) < 2:
                return _fatal("image name cannot be empty")
            ctr = Ctr(self.path, str(daemon["version"]), self.machine)
            result = ctr._pull([words[1]], _images(self.machine, str(daemon["root"]), "k8s.io"), host)
            if result.exit_code != 0:
                return _fatal(f"pulling image: {result.stderr.removeprefix('ctr: ').strip()}")
            image = _images(self.machine, str(daemon["root"]), "k8s.io")[words[1]]
            return NativeResult(0, f"Image is up to date for sha256:{_digest(words[1], image)}\n", warning)
        # crictl 1.31+ decodes the CRI status into a Go map and encodes it again, and Go's encoding/json
        # writes a map's keys sorted (kubernetes-sigs/cri-tools cmd/crictl/util.go, outputStatusInfo).
        return NativeResult(0, json.dumps(self._info(daemon), indent=2, sort_keys=True) + "\n", warning)

    def _info(self, daemon: dict[str, Any]) -> dict[str, Any]:
        """``crictl info``: the runtime's status conditions and the CRI config it runs with. NetworkReady
        is false until a CNI config file is in the conf dir ("cni plugin not initialized")."""
        config = daemon["config"]
        plugins = config.get("plugins", {})
        if cfg.major_minor(str(daemon["version"])) >= (2, 0):
            runtime = plugins.get(cfg.RUNTIME, {})
            images = plugins.get(cfg.IMAGES, {})
            cni = runtime.get("cni", {})
            bin_dirs = cni.get("bin_dirs") or [cni.get("bin_dir", "")]
            sandbox = images.get("pinned_images", {}).get("sandbox", "")
            registry = images.get("registry", {})
            default_runtime = runtime.get("containerd", {}).get("default_runtime_name", "")
        else:
            cri = plugins.get(cfg.CRI_V1, {})
            cni = cri.get("cni", {})
            bin_dirs = [cni.get("bin_dir", "")]
            sandbox = cri.get("sandbox_image", "")
            registry = cri.get("registry", {})
            default_runtime = cri.get("containerd", {}).get("default_runtime_name", "")
        conf_dir = str(cni.get("conf_dir", ""))
        networks = [
            name for name in self.machine.list_files(conf_dir) if name.lower().endswith((".conf", ".conflist", ".json"))
        ]
        network = {"type": "NetworkReady", "status": bool(networks), "reason": "", "message": ""}
        if not networks:
            network.update(
                reason="NetworkPluginNotReady", message="Network plugin returns error: cni plugin not initialized"
            )
        return {
            "status": {"conditions": [{"type": "RuntimeReady", "status": True, "reason": "", "message": ""}, network]},
            "cniconfig": {
                "PluginDirs": bin_dirs,
                "PluginConfDir": conf_dir,
                "PluginMaxConfNum": cni.get("max_conf_num", 1),
            },
            "config": {
                "sandboxImage": sandbox,
                "defaultRuntimeName": default_runtime,
                "registry": {"configPath": registry.get("config_path", "")},
                "containerdEndpoint": daemon["address"],
                "containerdRootDir": daemon["root"],
            },
            "lastCNILoadStatus": "OK"
            if networks
            else "cni config load failed: no network config found in "
            f"{conf_dir}: cni plugin not initialized: failed to load cni config",
        }


class Nerdctl:
    """One nerdctl.exe file: its version (module docstring)."""

    def __init__(self, path: str, version: str) -> None:
        self.path = path
        self.version = version

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        if list(argv[1:]) in (["--version"], ["-v"]):
            return NativeResult(0, f"nerdctl version {self.version}\n")
        return _fatal(f"the lab models only 'nerdctl --version', not {' '.join(argv[1:])!r}")
