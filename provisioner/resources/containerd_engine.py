"""containerd_engine (engine type containerd): the pinned release tarball, SHA-256 verified, bin\\ on
the machine PATH, the service registered with the flags it keeps, running.

research/containerd-scaleout-history.md (``cs``) §1.3-§1.8: Microsoft's and SIG Windows' scripts
verify no checksum and never upgrade; this block downloads ``containerd-<V>-windows-<arch>.tar.gz``,
refuses it unless its SHA-256 is the pinned one, extracts it with tar.exe (Windows 10 1803 / Server
2019 and later) beside the install folder and swaps ``bin\\`` in, keeping config.toml and conf.d\\.
``containerd --register-service`` copies every other flag into the service's ImagePath (cs §1.4), so
the registration is compared with the one the spec asks for and redone when it differs. Crossing
1.x -> 2.x, the vendor config.toml is rewritten by the new binary's ``config migrate``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from provisioner.containerd import versions
from provisioner.facts import Facts
from provisioner.resources.base import (
    BlockParams,
    Change,
    DiffEntry,
    Finding,
    RecordData,
    Resource,
    service_diff,
)
from provisioner.spec import ContainerdEngineSpec, HostSpec, ToolPin

__all__ = [
    "RESOURCE",
    "TYPE",
    "ContainerdEngineData",
    "ContainerdEngineParams",
    "ContainerdProbe",
    "ToolParams",
    "changes",
    "containerd",
    "probe",
    "image_path",
    "preflight",
]

TYPE = "containerd_engine"

KUBERNETES_NODE_BUILDS = (20348, 26100)
"""Windows Server 2022 and 2025: the nodes Kubernetes supports (cs §1.1 [K8S-WIN], release-1.36)."""


def containerd(spec: HostSpec) -> ContainerdEngineSpec:
    """The spec's containerd engine: the containerd engine type's resources run only for such specs
    (engines.py), so anything else here is a registry error."""
    engine = spec.engine
    if not isinstance(engine, ContainerdEngineSpec):
        raise TypeError(f"a containerd resource was planned for engine {engine!r}")
    return engine


class ToolParams(BlockParams):
    """A pinned client tool: its tarball holds ``<name>.exe``, which goes to ``bin\\``."""

    name: str
    version: str
    url: str
    sha256: str


class ContainerdEngineParams(BlockParams):
    version: str
    url: str
    sha256: str
    install_dir: str
    service: str
    register_arguments: list[str]
    """The arguments after ``--register-service``: the service keeps all of them."""
    image_path: str
    """The ImagePath that registration makes (compared with the registered one)."""
    migrate: bool
    """Run ``config migrate`` when the installed containerd is 1.x (and this one 2.x)."""
    tools: list[ToolParams] = []
    """crictl and nerdctl when pinned: installed when ``<name>.exe --version`` is another version."""
    proxy: str | None = None
    """spec.downloads.proxy (windows-audit.md F13), for the tarballs' downloads."""


class ContainerdEngineData(RecordData):
    before: str | None
    """The version containerd.exe reported before the block, None when there was none."""
    migrated: bool = False
    """``config migrate`` rewrote config.toml (crossing 1.x -> 2.x)."""
    image_path_before: str | None = None
    """The service's ImagePath before the block (None: no service)."""
    after: str
    service: str
    """The service's status after the block."""


class ContainerdProbe(BlockParams):
    """What the FACTS block asks about containerd (facts.ContainerdFacts), under ``containerd``."""

    install_dir: str
    service: str


def probe(engine: ContainerdEngineSpec) -> ContainerdProbe:
    return ContainerdProbe(install_dir=engine.install_dir, service=engine.service)


def _escape(argument: str) -> str:
    """Go's ``syscall.EscapeArg``, which ``mgr.CreateService`` applies to the executable and each argument:
    quotes only around a space or tab; a ``"`` is escaped, with the backslashes before it doubled."""
    if argument == "":
        return '""'
    quoted = " " in argument or "\t" in argument
    out, slashes = ['"'] if quoted else [], 0
    for char in argument:
        if char == '"':
            out.append("\\" * slashes + '\\"')
            slashes = 0
            continue
        slashes = slashes + 1 if char == "\\" else 0
        out.append(char)
    if quoted:
        out.append("\\" * slashes + '"')
    return "".join(out)


def register_arguments(engine: ContainerdEngineSpec) -> list[str]:
    """``--register-service`` and the flags the service must keep: its name, config, log file and level."""
    arguments = ["--service-name", engine.service, "--config", engine.install_dir + r"\config.toml"]
    if engine.log_file is not None:
        arguments += ["--log-file", engine.log_file]
    if engine.log_level is not None:
        arguments += ["--log-level", engine.log_level]
    return arguments


def image_path(engine: ContainerdEngineSpec) -> str:
    """The ImagePath ``containerd --register-service <arguments>`` writes: the executable and
    ``--run-service`` then every other argument, each escaped as Go escapes it."""
    exe = engine.install_dir + r"\bin\containerd.exe"
    return " ".join(_escape(part) for part in [exe, "--run-service", *register_arguments(engine)])


def _tool(name: str, pin: ToolPin, url: str) -> ToolParams:
    return ToolParams(name=name, version=pin.version, url=url, sha256=pin.sha256)


def params_for(engine: ContainerdEngineSpec, proxy: str | None = None) -> ContainerdEngineParams:
    tools = []
    if engine.crictl is not None:
        tools.append(_tool("crictl", engine.crictl, engine.tool_url("crictl", engine.crictl)))
    if engine.nerdctl is not None:
        tools.append(_tool("nerdctl", engine.nerdctl, engine.tool_url("nerdctl", engine.nerdctl)))
    return ContainerdEngineParams(
        version=engine.version,
        url=engine.download_url,
        sha256=engine.sha256,
        install_dir=engine.install_dir,
        service=engine.service,
        register_arguments=register_arguments(engine),
        image_path=image_path(engine),
        migrate=versions.parse(engine.version)[0] >= 2,
        tools=tools,
        proxy=proxy,
    )


def preflight(spec: HostSpec, facts: Facts, today: date | None = None) -> list[Finding]:
    """Kubernetes nodes are Server 2022 or 2025 (a warning elsewhere), containers need the Containers
    feature, tar.exe needs build 17134+; containerd's matrix and lifecycle warnings (cs §1.2), on the
    controller's date unless ``today`` is given."""
    engine = containerd(spec)
    build = facts.os.build
    findings: list[Finding] = []
    if build < 17134:
        findings.append(
            Finding(
                "error",
                "containerd.tar",
                f"build {build} has no tar.exe (it ships with Windows 10 1803 / Server 2019 and later), so the "
                "release tarball cannot be extracted; use Windows Server 2022 or 2025",
            )
        )
    elif build not in KUBERNETES_NODE_BUILDS or facts.os.is_client:
        findings.append(
            Finding(
                "warning",
                "containerd.node_os",
                f"Kubernetes supports Windows nodes on Windows Server 2022 and 2025 only; this host is "
                f"{facts.os.caption or 'build ' + str(build)} (build {build})",
            )
        )
    if "Containers" not in spec.features and facts.feature("Containers") != "Enabled":
        findings.append(
            Finding(
                "error",
                "engine.containers_feature",
                "containerd runs Windows containers through the Containers feature (vmcompute); add Containers "
                "to spec.features",
            )
        )
    when = today or datetime.now(UTC).date()
    notes = versions.lifecycle_notes(engine.version, when)
    if engine.kubernetes_version is not None:
        notes += versions.kubernetes_notes(engine.version, engine.kubernetes_version)
    findings += [Finding(note.level, note.code, note.message) for note in notes]
    return findings


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = containerd(spec)
    found = facts.containerd
    diff: list[DiffEntry] = []
    if found is None or not found.installed:
        diff.append(DiffEntry("engine.version", None, engine.version))
    elif found.version != engine.version:
        diff.append(DiffEntry("engine.version", found.version, engine.version))
    service = found.service if found is not None else None
    if service is None or not service.exists:
        diff += service_diff("engine.service", False, None, None)
    else:
        diff += service_diff("engine.service", True, service.status, service.start_type)
        wanted = image_path(engine)
        if found is not None and found.image_path != wanted:
            diff.append(DiffEntry("engine.service.command_line", found.image_path, wanted))
    if found is not None and found.installed:
        if engine.crictl is not None and not found.crictl:
            diff.append(DiffEntry("engine.crictl", None, engine.crictl.version))
        if engine.nerdctl is not None and not found.nerdctl:
            diff.append(DiffEntry("engine.nerdctl", None, engine.nerdctl.version))
    if not diff:
        return []
    params = params_for(engine, spec.downloads.proxy)
    return [Change(id=f"engine/{engine.service}", type=TYPE, params=params, diff=diff)]


def _timeout(params: ContainerdEngineParams) -> float:
    """A download of ~40 MB, an extract and a restart; five minutes more per client tool."""
    return 900.0 + 300.0 * len(params.tools)


RESOURCE = Resource(
    name=TYPE,
    params=ContainerdEngineParams,
    data=ContainerdEngineData,
    changes=changes,
    preflight=preflight,
    # containerd runs containers only once the Containers feature is Enabled (vmcompute).
    requires=("windows_feature",),
    timeout=_timeout,
)
