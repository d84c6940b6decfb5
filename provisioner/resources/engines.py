"""The engine types: each a set of resources (resources/base.py), picked by the spec's ``engine.type``.

The order of an engine type's resources is the order their preflight findings appear in; plan.py
orders their changes by ``requires``. The generic resources (windows_feature, virtualization) ask
the host's engine type here for the features it needs and its machine rules, never the spec.
"""

from __future__ import annotations

from provisioner.resources import (
    container_engine,
    container_verify,
    daemon_config,
    desktop_config,
    desktop_verify,
    docker_desktop,
    docker_users,
    wsl_package,
)
from provisioner.resources.base import EngineProbe, EngineType
from provisioner.spec import HostSpec

__all__ = ["DOCKER_CE", "DOCKER_DESKTOP", "ENGINES", "engine_type", "probe"]


def _docker_ce_probe(spec: HostSpec) -> EngineProbe:
    """docker-ce's service, daemon.json and install folder (DESIGN 4.2)."""
    engine = container_engine.docker_ce(spec)
    return EngineProbe(services=[engine.service], files=[daemon_config.DEFAULT_PATH], engine_dir=engine.install_dir)


def _docker_desktop_probe(spec: HostSpec) -> EngineProbe:
    """Desktop's own probe under ``desktop`` (facts.DesktopFacts) and the record of its last verify. The
    docker-ce probes stay, so a static engine left beside Desktop shows in the facts table."""
    return EngineProbe(
        services=["docker"],
        files=[daemon_config.DEFAULT_PATH, desktop_verify.RECORD],
        engine_dir=container_engine.DEFAULT_DIR,
        extra={"desktop": docker_desktop.probe(docker_desktop.docker_desktop(spec))},
    )


DOCKER_CE = EngineType(
    name="docker-ce",
    resources=(container_engine.RESOURCE, daemon_config.RESOURCE),
    verify=container_verify.RESOURCE,
    verification=container_verify.verification,
    probe=_docker_ce_probe,
    machine_rules=container_engine.lcow_preflight,
)

DOCKER_DESKTOP = EngineType(
    name="docker-desktop",
    resources=(docker_users.RESOURCE, wsl_package.RESOURCE, docker_desktop.RESOURCE, desktop_config.RESOURCE),
    verify=desktop_verify.RESOURCE,
    verification=desktop_verify.verification,
    probe=_docker_desktop_probe,
    features=docker_desktop.desktop_features,
    machine_rules=docker_desktop.desktop_preflight,
    hypervisor=True,
    workstation=True,
)

ENGINES: dict[str, EngineType] = {engine.name: engine for engine in (DOCKER_CE, DOCKER_DESKTOP)}
"""Every engine type by ``engine.type``."""


def engine_type(spec: HostSpec) -> EngineType | None:
    """The spec's engine type; None for a host without an engine."""
    return None if spec.engine is None else ENGINES[spec.engine.type]


def probe(spec: HostSpec) -> EngineProbe:
    """What FACTS reads about the engine. A host without one is probed with docker-ce's defaults, so a
    facts table shows a static engine it already has."""
    engine = engine_type(spec)
    if engine is not None:
        return engine.probe(spec)
    return EngineProbe(services=["docker"], files=[daemon_config.DEFAULT_PATH], engine_dir=container_engine.DEFAULT_DIR)
