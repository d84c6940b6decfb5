"""plan(spec, facts) -> Plan: a pure function, no I/O (DESIGN 2 and 4.3).

The drift check is "a plan with changes in it"; apply renders the changes into one script.
Every decision (feature names for the SKU, image tag, isolation, preflight verdict) is made
here from data, so all of it is testable without a host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.facts import Facts
from provisioner.resources import (
    Change,
    Finding,
    container_engine,
    container_verify,
    containerd_config,
    containerd_engine,
    containerd_verify,
    daemon_config,
    desktop_config,
    desktop_verify,
    docker_desktop,
    docker_users,
    virtualization,
    windows_feature,
    wsl_package,
)
from provisioner.resources.container_verify import VerifyChoice
from provisioner.resources.containerd_engine import ContainerdProbe
from provisioner.resources.containerd_verify import ContainerdVerifyChoice
from provisioner.resources.desktop_verify import DesktopVerifyChoice
from provisioner.resources.docker_desktop import DesktopProbe
from provisioner.resources.windows_feature import DISM_NAMES
from provisioner.spec import ContainerdEngineSpec, DockerDesktopSpec, FeatureName, HostSpec

__all__ = ["FactsRequest", "Plan", "facts_request", "plan"]


@dataclass(frozen=True)
class Plan:
    host: str
    preflight: list[Finding]
    changes: list[Change]
    verify: VerifyChoice | ContainerdVerifyChoice | None
    pending: str | None = None
    """Docker Desktop: what a user has to do before the host can be finished (docker_desktop.pending);
    with no changes left, the host ends ``pending_logon`` with this as its message (DESIGN 4.5)."""
    desktop_verify: tuple[DesktopVerifyChoice, ...] = ()
    """Docker Desktop: the runs that prove its engines (resources/desktop_verify.py), Linux first."""
    desktop_record: str | None = None
    """Docker Desktop: what a successful verify records (desktop_verify.fingerprint)."""
    verify_due: bool = False
    """Docker Desktop under ``verify.when: changed``: never verified for this spec, so verify even
    when this run changed nothing (an earlier run ended pending_logon)."""

    @property
    def blocked(self) -> bool:
        """True when a preflight error forbids any change."""
        return any(f.level == "error" for f in self.preflight)

    @property
    def in_state(self) -> bool:
        return not self.blocked and not self.changes

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "preflight": [{"level": f.level, "code": f.code, "message": f.message} for f in self.preflight],
            "changes": [
                {
                    "id": c.id,
                    "type": c.type,
                    "params": c.params.model_dump(mode="json"),
                    "diff": [{"path": d.path, "before": d.before, "after": d.after} for d in c.diff],
                    "may_reboot": c.may_reboot,
                }
                for c in self.changes
            ],
            "verify": None
            if self.verify is None
            else {
                "image": self.verify.image,
                "isolation": self.verify.isolation,
                "command": self.verify.command,
            },
            **(
                {}
                if not (self.desktop_verify or self.pending)
                else {
                    "pending": self.pending,
                    "verify_due": self.verify_due,
                    "desktop_verify": [
                        {"os": c.os, "image": c.image, "isolation": c.isolation, "command": c.command}
                        for c in self.desktop_verify
                    ],
                }
            ),
        }


@dataclass(frozen=True)
class FactsRequest:
    """What the FACTS block probes: the params of its begin marker."""

    features: list[str]
    services: list[str]
    files: list[str]
    engine_dir: str
    extra: dict[str, Any] = field(default_factory=dict)
    desktop: DesktopProbe | None = None
    """Docker Desktop's probe (facts.DesktopFacts), for docker-desktop specs only."""
    containerd: ContainerdProbe | None = None
    """containerd's probe (facts.ContainerdFacts), for containerd specs only."""


PROBED_FEATURES: tuple[FeatureName, ...] = ("Containers", "Hyper-V")
"""Probed whatever the spec enables; the WSL features only when the spec wants them."""


def facts_request(spec: HostSpec) -> FactsRequest:
    """Probe every feature, service and file any resource may need, whatever the spec enables,
    so a facts table and a drift report can say what the host has, not only what was asked."""
    engine = spec.engine
    features = sorted({DISM_NAMES[f] for f in (*PROBED_FEATURES, *windows_feature.wanted(spec))})
    if isinstance(engine, DockerDesktopSpec):
        # The docker-ce probes stay (an old static engine beside Desktop shows in the facts table).
        return FactsRequest(
            features=features,
            services=["docker"],
            files=[daemon_config.DEFAULT_PATH, desktop_verify.RECORD],
            engine_dir=r"C:\Program Files\docker",
            desktop=docker_desktop.probe(engine),
        )
    if isinstance(engine, ContainerdEngineSpec):
        # The files provision owns (their text, for the key-level diff) and the vendor config.toml.
        owned = containerd_config.managed_files(engine, spec.containerd) if spec.containerd is not None else {}
        return FactsRequest(
            features=features,
            services=[engine.service],
            files=sorted({engine.install_dir + r"\config.toml", *owned}),
            engine_dir=engine.install_dir,
            containerd=containerd_engine.probe(engine),
        )
    return FactsRequest(
        features=features,
        services=[engine.service if engine else "docker"],
        files=[daemon_config.DEFAULT_PATH],
        engine_dir=engine.install_dir if engine else r"C:\Program Files\docker",
    )


def plan(host: str, spec: HostSpec, facts: Facts) -> Plan:
    """The preflight verdicts, the ordered changes and the verify choice for one host."""
    verify: VerifyChoice | ContainerdVerifyChoice | None
    verify, verify_findings = container_verify.choose(spec, facts)
    if isinstance(spec.engine, ContainerdEngineSpec):
        verify, verify_findings = containerd_verify.choose(spec, facts)
    desktop_runs, desktop_findings = desktop_verify.choose(spec, facts)
    findings = [
        *virtualization.preflight(spec, facts),
        *windows_feature.preflight(spec, facts),
        *container_engine.preflight(spec, facts),
        *containerd_engine.preflight(spec, facts),
        *docker_users.preflight(spec, facts),
        *wsl_package.preflight(spec, facts),
        *verify_findings,
        *desktop_findings,
    ]
    feature_changes = windows_feature.changes(spec, facts)
    # The engine starts only once the Containers feature is Enabled (dockerd checks vmcompute/hns),
    # so engine blocks wait for the feature blocks and for their reboot. Docker Desktop's installer
    # waits for them too (enabling features inside it fails on some hosts: windows_feature).
    feature_ids = tuple(c.id for c in feature_changes)
    # The WSL package goes in after the features' reboot and before Desktop's installer (docker-desktop.md 7.2).
    wsl_changes = wsl_package.changes(spec, facts, requires=feature_ids)
    before_engine = feature_ids + tuple(c.id for c in wsl_changes)
    engine_changes = [
        *wsl_changes,
        *container_engine.changes(spec, facts, requires=feature_ids),
        *containerd_engine.changes(spec, facts, requires=feature_ids),
        *docker_desktop.changes(spec, facts, requires=before_engine),
    ]
    engine_ids = feature_ids + tuple(c.id for c in engine_changes)
    daemon_changes = [
        *daemon_config.changes(spec, facts, requires=engine_ids),
        *docker_users.changes(spec, facts, requires=engine_ids),
        *desktop_config.changes(spec, facts, requires=engine_ids),
        *containerd_config.changes(spec, facts, requires=engine_ids),
    ]
    if not isinstance(spec.engine, DockerDesktopSpec):
        return Plan(host, findings, [*feature_changes, *engine_changes, *daemon_changes], verify)
    return Plan(
        host,
        findings,
        [*feature_changes, *engine_changes, *daemon_changes],
        None,
        pending=docker_desktop.pending(spec, facts, engine_needed=bool(desktop_runs)),
        desktop_verify=tuple(desktop_runs),
        desktop_record=desktop_verify.fingerprint(spec, desktop_runs) if desktop_runs else None,
        verify_due=spec.verify.when == "changed" and desktop_verify.verify_due(spec, facts, desktop_runs),
    )
