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
from provisioner.resources import BlockParams, Change, DiffEntry, Finding, service_diff
from provisioner.spec import EngineSpec, HostSpec

__all__ = ["EngineParams", "TYPE", "changes", "preflight"]

TYPE = "container_engine"


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


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Docker Engine 23.0 and later refuse to run below build 17763 [MOBY daemon_windows.go checkSystem]."""
    engine = spec.engine
    if not isinstance(engine, EngineSpec):
        return []  # no engine, or Docker Desktop (resources/docker_desktop.py)
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


def changes(spec: HostSpec, facts: Facts, requires: tuple[str, ...]) -> list[Change]:
    engine = spec.engine
    if not isinstance(engine, EngineSpec):
        return []
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
        Change(
            id=f"engine/{engine.service}",
            type=TYPE,
            params=params_for(engine, spec.downloads.proxy),
            diff=diff,
            requires=requires,
        )
    ]
