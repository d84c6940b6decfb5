"""container_engine (docker-ce): the pinned static zip, SHA-256 verified, registered and running.

Docker's documented manual method [DD-BIN]: download ``docker-<version>.zip``, expand it into
``%ProgramFiles%`` (the zip holds a top-level ``docker\\`` folder), ``dockerd --register-service``,
``Start-Service docker``. Unlike Microsoft's install-docker-ce.ps1, which exits when the service
exists and never verifies a checksum [WC-DOCKER], this block upgrades in place (stop, replace,
start) when the version differs, and refuses a zip whose SHA-256 is not the pinned one (Docker
publishes none, so the spec pins it [DL-DOCKER; docker-library/docker PR #54]).
"""

from __future__ import annotations

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
from provisioner.spec import EngineSpec, HostSpec

__all__ = [
    "DEFAULT_DIR",
    "LCOW_ALTERNATIVES",
    "RESOURCE",
    "TYPE",
    "EngineData",
    "EngineParams",
    "changes",
    "docker_ce",
    "lcow_preflight",
    "preflight",
]

TYPE = "container_engine"
DEFAULT_DIR = r"C:\Program Files\docker"

LCOW_ALTERNATIVES = (
    "Docker Desktop with the WSL 2 backend on a workstation (engine.type: docker-desktop, backend: wsl2, "
    "verify.linux: true), or a Linux node for Linux containers"
)


def docker_ce(spec: HostSpec) -> EngineSpec:
    """The spec's docker-ce engine. The docker-ce engine type's resources (engines.py) run only for specs
    whose ``engine.type`` is docker-ce, so anything else here is a registry error."""
    engine = spec.engine
    if not isinstance(engine, EngineSpec):
        raise TypeError(f"a docker-ce resource was planned for engine {engine!r}")
    return engine


class EngineParams(BlockParams):
    engine: str = "docker-ce"
    version: str
    url: str
    sha256: str
    install_dir: str
    service: str
    proxy: str | None = None
    """spec.downloads.proxy (windows-audit.md F13)."""


def params_for(engine: EngineSpec, proxy: str | None = None) -> EngineParams:
    return EngineParams(
        version=engine.version,
        url=engine.download_url,
        proxy=proxy,
        sha256=engine.sha256,
        install_dir=engine.install_dir,
        service=engine.service,
    )


class EngineData(RecordData):
    before: str | None
    """The version dockerd.exe reported before the block, None when there was none."""
    after: str
    service: str
    """The service's status after the block."""


def lcow_preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Linux containers asked of a Windows dockerd (docker-ce): LCOW, which no current engine has.

    LCOW was deprecated in Engine 20.10 and removed in 23.0 "in favor of running Docker natively on Linux
    in WSL2" [CLI-DEPR; moby/moby#40844], and a Windows dockerd refuses Linux images [MOBY image_os.go]
    (windows-facts.md 6). The docker-ce engine type's machine rule, so it comes first in the preflight.
    """
    engine = docker_ce(spec)
    if not spec.verify.linux:
        return []
    major, minor = engine.major_minor
    fate = (
        "was removed in Docker Engine 23.0"
        if (major, minor) >= (23, 0)
        else "is deprecated since Docker Engine 20.10 and was removed in 23.0"
    )
    return [
        Finding(
            "error",
            "lcow",
            f"verify.linux asks Docker CE {engine.version} on Windows for Linux containers, which is LCOW (Linux "
            f"Containers on Windows): it {fate} ('the feature never reached completeness, and development has now "
            "stopped in favor of running Docker natively on Linux in WSL2' [CLI-DEPR]), and a Windows dockerd refuses "
            "Linux images ('image operating system \"linux\" cannot be used on this platform' [MOBY]). Alternatives: "
            f"{LCOW_ALTERNATIVES}",
        )
    ]


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Docker Engine 23.0 and later refuse to run below build 17763 [MOBY daemon_windows.go checkSystem]."""
    engine = docker_ce(spec)
    findings = []
    if engine.major_minor >= (23, 0) and facts.os.build < 17763:
        findings.append(
            Finding(
                "error",
                "engine.build",
                f'Docker Engine {engine.version} does not run on build {facts.os.build} ("this version of Windows '
                'does not support the docker daemon (Windows build 17763 or higher is required)"); use Engine 20.10 '
                "or a newer Windows",
            )
        )
    if "Containers" not in spec.features and facts.feature("Containers") != "Enabled":
        findings.append(
            Finding(
                "error",
                "engine.containers_feature",
                "the engine needs the Containers feature (dockerd checks for vmcompute and hns); add Containers "
                "to spec.features",
            )
        )
    return findings


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = docker_ce(spec)
    found = facts.engine
    diff: list[DiffEntry] = []
    if not found.installed:
        diff.append(DiffEntry("engine.version", None, engine.version))
    elif found.version != engine.version:
        diff.append(DiffEntry("engine.version", found.version, engine.version))
    service = found.service
    diff += service_diff("engine.service", service.exists, service.status, service.start_type)
    if not diff:
        return []
    return [
        Change(id=f"engine/{engine.service}", type=TYPE, params=params_for(engine, spec.downloads.proxy), diff=diff)
    ]


RESOURCE = Resource(
    name=TYPE,
    params=EngineParams,
    data=EngineData,
    changes=changes,
    preflight=preflight,
    # dockerd starts only once the Containers feature is Enabled (it checks vmcompute and hns).
    requires=("windows_feature",),
)
