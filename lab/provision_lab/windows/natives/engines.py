"""Container engines as the docker client reaches them: named pipes, image stores, and what a
container run does on this machine (Microsoft's build/isolation matrix, the registries' tags).

An engine answers on a named pipe while the process that opened it runs (:func:`open_pipe`,
:func:`engine_on`): dockerd.exe as a service, or Docker Desktop.exe for its two engines. Source keys
are those of ``/work/shared/research/windows-facts.md`` (``wf §N``) and docker-desktop.md (``dd §N``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from provision_lab.powershell.api import NativeResult
from provision_lab.windows.natives.machine import NativeMachine

__all__ = [
    "DEFAULT_PIPE",
    "Output",
    "close_pipes",
    "Engine",
    "engine_on",
    "image_builds",
    "open_pipe",
    "pipe_name",
    "process_isolation_allowed",
    "pull",
    "run_container",
    "split_reference",
]

DEFAULT_PIPE = "docker_engine"
"""dockerd's default host ``npipe:////./pipe/docker_engine`` [MOBY daemon/pkg/opts/hosts.go] (wf §4.3)."""


@dataclass(frozen=True)
class Engine:
    """What answers on a pipe: the daemon's OS, version and image store, and who may connect."""

    pid: int
    os: str
    """``windows`` or ``linux`` (``docker version``'s Server.Os)."""
    version: str
    """The Docker Engine version (Server.Version)."""
    store: str
    """Key of the image store (the data-root, or Desktop's Linux VM)."""
    platform: str
    """Server.Platform.Name: ``Docker Engine - Community`` or ``Docker Desktop 4.43.1 (198352)``."""
    service: str | None = None
    """The service whose process this is (``pid`` is then 0): it answers while the service runs."""
    group: str | None = None
    """Besides Administrators, the local group allowed on the pipe (daemon.json ``group``, wf §4.3)."""
    kernel: str = ""
    """The Linux kernel of Desktop's VM (``uname -r`` in a Linux container)."""
    owner: str | None = None
    """The account whose Docker Desktop runs the engine: its pipes admit it besides Administrators [DD-PERM]."""


def pipe_name(host: str) -> str | None:
    """The pipe of a ``-H``/DOCKER_HOST value (``npipe:////./pipe/NAME``, ``npipe://`` alone is the
    default pipe), lower-cased as Windows compares pipe names; None for a non-pipe address."""
    if not host.lower().startswith("npipe://"):
        return None
    rest = host[len("npipe://") :].replace("\\", "/")
    if not rest:
        return DEFAULT_PIPE
    found = re.fullmatch(r"/*\.?/+pipe/+([^/]+)", rest, re.IGNORECASE)
    return found.group(1).lower() if found else None


def _pipes(machine: NativeMachine) -> dict[str, Any]:
    pipes: dict[str, Any] = machine.native_state.setdefault("pipes", {})
    return pipes


def open_pipe(machine: NativeMachine, pipe: str, engine: Engine) -> None:
    """The engine's process listens on ``\\\\.\\pipe\\<pipe>`` until it exits."""
    _pipes(machine)[pipe.lower()] = asdict(engine)


def engine_on(machine: NativeMachine, pipe: str) -> Engine | None:
    """The engine answering on the pipe now: its process must still run (a stopped service, a
    logoff or a reboot ended it)."""
    entry = _pipes(machine).get(pipe.lower())
    if entry is None:
        return None
    engine = Engine(**entry)
    if engine.service is not None:
        state = machine.service_state(engine.service)
        alive = state is not None and state[0] == "Running"
    else:
        alive = machine.process_running(engine.pid)
    if not alive:
        del _pipes(machine)[pipe.lower()]
        return None
    return engine


def close_pipes(machine: NativeMachine, pid: int) -> None:
    """The process closed its pipes (an engine stopped by its owner without the process ending)."""
    for name in [name for name, entry in _pipes(machine).items() if entry["pid"] == pid]:
        del _pipes(machine)[name]


# ------------------------------------------------------------------------------------------------
# Registries: which Windows builds an image reference offers.

_MCR_TAGS: dict[str, dict[str, int]] = {
    # mcr.microsoft.com/windows/<repo>:<tag> -> image build (wf §1.1 [MS-VC; MS-LIFE; MS-BASE]).
    # nanoserver:ltsc2019 was never confirmed (wf §1.1), so it is not here; `windows` has no 2025 image.
    "nanoserver": {"1809": 17763, "ltsc2022": 20348, "ltsc2025": 26100},
    "servercore": {"ltsc2016": 14393, "ltsc2019": 17763, "1809": 17763, "ltsc2022": 20348, "ltsc2025": 26100},
    "server": {"ltsc2022": 20348, "ltsc2025": 26100},
    "windows": {"1809": 17763},
}
_HELLO_WORLD: dict[str, tuple[int, ...]] = {
    # docker-library hello-world: Windows variants nanoserver-ltsc2025 and -ltsc2022, both also under
    # the shared tags `nanoserver` and `latest`; the 1809 variant was removed in 2025 (wf §6 [HW]).
    # The order of the shared list is not documented; newest first is assumed.
    "latest": (26100, 20348),
    "nanoserver": (26100, 20348),
    "nanoserver-ltsc2025": (26100,),
    "nanoserver-ltsc2022": (20348,),
    "linux": (),
}
_LINUX_ONLY = frozenset({"alpine", "busybox", "debian", "nginx", "ubuntu"})
"""Official images with no Windows entry: pulling them on Windows finds no matching manifest (wf §6)."""

_PULL_SECONDS = {"nanoserver": 40.0, "servercore": 180.0, "server": 300.0, "windows": 420.0}
"""Modelled pull times (a nanoserver image is ~120 MB, servercore ~1.5 GB compressed [MS-BASE]; the
times are the lab's assumption for a fast link). Other images: 10 s."""


def split_reference(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag defaults to ``latest``."""
    name = image.partition("@")[0]
    repo, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "latest"
    return repo, tag


def image_builds(image: str) -> tuple[int, ...] | None:
    """Windows builds in the manifest list of ``image`` (empty: Linux only), None when the tag is unknown."""
    repo, tag = split_reference(image)
    repo = re.sub(r"^(?:docker\.io/)?(?:library/)?", "", repo.lower())
    mcr = re.fullmatch(r"mcr\.microsoft\.com/windows(?:/(nanoserver|servercore|server))?", repo)
    if mcr:
        tags = _MCR_TAGS[mcr.group(1) or "windows"]
        versioned = re.fullmatch(r"10\.0\.(\d{5})\.\d+", tag)
        if versioned and int(versioned.group(1)) in tags.values():
            return (int(versioned.group(1)),)
        base = re.sub(r"-KB\d+$", "", tag)  # 1809-KB4493509 style tags [MS-VC]
        return (tags[base],) if base in tags else None
    if repo == "hello-world":
        return _HELLO_WORLD.get(tag)
    if repo in _LINUX_ONLY:
        return ()
    return None


def _pull_seconds(image: str) -> float:
    repo = split_reference(image)[0].lower()
    return next((seconds for name, seconds in _PULL_SECONDS.items() if repo.endswith("/" + name)), 10.0)


def process_isolation_allowed(host_build: int, client: bool, image_build: int) -> bool:
    """Process isolation runs only an image of the host's own build [MS-VC, wf §1.3], except:
    ltsc2022 (20348) images on Windows Server 2025 (26100) [MS-VC matrix] and on Windows Server
    23H2 (25398, "container image portability") [MS-LIFE; HCS], and on Windows 11 (>= 22000,
    "available in preview") [MS-VC]."""
    if image_build == host_build:
        return True
    if image_build == 20348:
        if client:
            return host_build >= 22000
        return host_build in (25398, 26100)
    return False


def _images(machine: NativeMachine, store: str) -> dict[str, int]:
    stores: dict[str, dict[str, int]] = machine.native_state.setdefault("images", {})
    return stores.setdefault(store.lower(), {})


@dataclass
class Output:
    """What a docker command wrote, line by line in the order it wrote them, and its exit code."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    """("stdout" | "stderr", line) in write order: ``2>&1`` shows them in this order."""
    exit_code: int = 0

    def write(self, line: str) -> None:
        self.lines.append(("stdout", line))

    def error(self, line: str) -> None:
        self.lines.append(("stderr", line))

    @property
    def stdout(self) -> list[str]:
        return [line for stream, line in self.lines if stream == "stdout"]

    @property
    def stderr(self) -> list[str]:
        return [line for stream, line in self.lines if stream == "stderr"]

    def result(self) -> NativeResult:
        chunks = tuple((stream, line + "\n") for stream, line in self.lines)
        return NativeResult(
            self.exit_code,
            "".join(t for s, t in chunks if s == "stdout"),
            "".join(t for s, t in chunks if s == "stderr"),
            chunks=chunks,
        )


def _registry_path(repo: str) -> str:
    """The repository as the registry names it in "Pulling from" (library/ for official images)."""
    first = repo.split("/")[0]
    if "." in first or ":" in first:
        return repo.split("/", 1)[1]
    return repo if "/" in repo else f"library/{repo}"


def pull(machine: NativeMachine, engine: Engine, image: str, out: Output, sleep: Any) -> bool:
    """Pull ``image`` into the engine's store, writing docker's progress lines to ``out.stdout``.

    moby's Windows pull keeps manifest entries no newer than the host, prefers the host's own
    build, then list order; none left -> "no matching manifest" (wf §1.3 [MOBY
    pull_v2_windows.go]). The Linux engine takes only Linux images. False (and ``out.stderr`` set
    to the daemon's error, exit 1) when it fails."""
    images = _images(machine, engine.store)
    if image in images:
        out.write(f"{split_reference(image)[1]}: Pulling from {_registry_path(split_reference(image)[0])}")
        out.write(f"Digest: sha256:{_digest(image, images[image])}")
        out.write(f"Status: Image is up to date for {image}")
        return True
    builds = image_builds(image)
    repo, tag = split_reference(image)
    if builds is None:
        out.error(f"Error response from daemon: manifest for {image} not found: manifest unknown: manifest unknown")
        out.exit_code = 1
        return False
    if engine.os == "linux":
        if builds:
            # A Windows-only image on the Linux engine (dd §5): no linux/amd64 entry.
            out.error("no matching manifest for linux/amd64 in the manifest list entries")
            out.exit_code = 1
            return False
        chosen = 0
    else:
        host_build = machine.os_build
        usable = [build for build in builds if build <= host_build]
        if not usable:
            # A Linux-only image on the Windows engine is the same case: LCOW is gone (wf §6; dd §5).
            out.error(f"no matching manifest for windows/amd64 10.0.{host_build} in the manifest list entries")
            out.exit_code = 1
            return False
        chosen = host_build if host_build in usable else usable[0]
    sleep(_pull_seconds(image) * machine.install_time_factor)
    digest = _digest(image, chosen)
    for line in (
        f"{tag}: Pulling from {_registry_path(repo)}",
        f"{digest[:12]}: Pull complete",
        f"Digest: sha256:{digest}",
        f"Status: Downloaded newer image for {repo}:{tag}",
    ):
        out.write(line)
    images[image] = chosen
    return True


def _digest(image: str, build: int) -> str:
    return hashlib.sha256(f"{image}@{build}".encode()).hexdigest()


def _container_id(machine: NativeMachine) -> str:
    count = int(machine.native_state.get("containers", 0)) + 1
    machine.native_state["containers"] = count
    return hashlib.sha256(f"{machine.computer_name}/{count}".encode()).hexdigest()


def run_container(
    machine: NativeMachine,
    engine: Engine,
    image: str,
    command: list[str],
    isolation: str | None,
    out: Output,
    sleep: Any,
) -> None:
    """``docker run --rm [--isolation=...] IMAGE COMMAND...``: pull if needed, create, start, wait.

    CLI errors are printed as "docker: <error>." plus "See 'docker run --help'." when the
    container could not be created (docker/cli cli/command/container/run.go reportError);
    daemon errors exit 125 there. The pull's "Unable to find image" and progress go to stderr
    (docker/cli container/create.go pullImage writes to the error stream).
    """

    def fail(error: str, *, usage: bool = True) -> None:
        out.error("docker: " + error.removesuffix(".") + ".")
        if usage:
            out.error("See 'docker run --help'.")
        out.exit_code = 125

    images = _images(machine, engine.store)
    if image not in images:
        repo, tag = split_reference(image)
        out.error(f"Unable to find image '{repo}:{tag}' locally")
        pulled = Output()
        if not pull(machine, engine, image, pulled, sleep):
            fail(pulled.stderr[-1])
            return
        for line in pulled.stdout:
            out.error(line)  # run's implicit pull writes its progress to stderr
    container = _container_id(machine)
    if engine.os == "linux":
        if isolation is not None:
            fail(f"Error response from daemon: invalid isolation '{isolation}' on linux")
            return
        sleep(1.0)
        if [part.lower() for part in command] in (["uname", "-a"], ["uname", "-r"]):
            if command[1] == "-r":
                out.write(engine.kernel)
            else:
                out.write(
                    f"Linux {container[:12]} {engine.kernel} #1 SMP PREEMPT_DYNAMIC Thu Jun 5 18:30:46 UTC 2025 "
                    "x86_64 GNU/Linux"
                )
            return
        _unmodelled(command, out)
        return
    mode = (isolation or ("process" if machine.product_type != 1 else "hyperv")).lower()
    # The default isolation is process on Windows Server and hyperv on Windows 10/11 [MS-SETUP; dd §2].
    if mode not in ("process", "hyperv", "default"):
        fail(f"Error response from daemon: invalid isolation '{isolation}' for windows")
        return
    if mode == "default":
        mode = "process" if machine.product_type != 1 else "hyperv"
    build = images[image]
    if mode == "process" and not process_isolation_allowed(machine.os_build, machine.product_type == 1, build):
        # HCS refuses mismatched builds (wf §6: "hcs::CreateComputeSystem <id>: The container
        # operating system does not match the host operating system.", game-ci/docker issue #213).
        fail(
            f"Error response from daemon: hcs::CreateComputeSystem {container}: The container operating "
            "system does not match the host operating system.",
            usage=False,
        )
        return
    if mode == "hyperv" and not machine.hypervisor_running:
        # wf §1.3 (moby/moby issue #27198; docker/for-win issue #1477) gives the system-call text;
        # the hcs:: prefix is the current one (see above). The combination is the lab's.
        fail(
            f"Error response from daemon: hcs::CreateComputeSystem {container}: No hypervisor is present "
            "on this system. (0xc0351000)",
            usage=False,
        )
        return
    sleep(6.0 if mode == "hyperv" else 2.0)  # a utility VM boots first (the lab's assumption)
    lowered = [part.lower() for part in command]
    if lowered[:2] in (["cmd", "/c"], ["cmd.exe", "/c"]) and lowered[2:3] == ["echo"]:
        out.write(" ".join(command[3:]))
        return
    _unmodelled(command, out)


def _unmodelled(command: list[str], out: Output) -> None:
    """A command the lab does not model inside a container fails, never succeeds: the container
    exits 1 with cmd.exe's text for an unknown program (the lab's rule: nothing unmodelled works)."""
    name = command[0] if command else ""
    out.error(f"'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.")
    out.exit_code = 1
