"""plan(spec, facts) -> Plan: a pure function, no I/O (DESIGN 2 and 4.3).

The drift check is "a plan with changes in it"; apply renders the changes into one script.
Every decision (feature names for the SKU, image tag, isolation, preflight verdict) is made
here from data, so all of it is testable without a host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.facts import Facts
from provisioner.resources import Change, Finding, container_engine, container_verify, daemon_config
from provisioner.resources import virtualization, windows_feature
from provisioner.resources.container_verify import VerifyChoice
from provisioner.resources.windows_feature import DISM_NAMES
from provisioner.spec import HostSpec

__all__ = ["FactsRequest", "Plan", "facts_request", "plan"]


@dataclass(frozen=True)
class Plan:
    host: str
    preflight: list[Finding]
    changes: list[Change]
    verify: VerifyChoice | None

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
            "verify": None if self.verify is None else {
                "image": self.verify.image,
                "isolation": self.verify.isolation,
                "command": self.verify.command,
            },
        }


@dataclass(frozen=True)
class FactsRequest:
    """What the FACTS block probes: the params of its begin marker."""

    features: list[str]
    services: list[str]
    files: list[str]
    engine_dir: str
    extra: dict[str, Any] = field(default_factory=dict)


def facts_request(spec: HostSpec) -> FactsRequest:
    """Probe every feature, service and file any resource may need, whatever the spec enables,
    so a facts table and a drift report can say what the host has, not only what was asked."""
    engine = spec.engine
    return FactsRequest(
        features=sorted(DISM_NAMES.values()),
        services=[engine.service if engine else "docker"],
        files=[daemon_config.DEFAULT_PATH],
        engine_dir=engine.install_dir if engine else r"C:\Program Files\docker",
    )


def plan(host: str, spec: HostSpec, facts: Facts) -> Plan:
    """The preflight verdicts, the ordered changes and the verify choice for one host."""
    verify, verify_findings = container_verify.choose(spec, facts)
    findings = [
        *virtualization.preflight(spec, facts),
        *windows_feature.preflight(spec, facts),
        *container_engine.preflight(spec, facts),
        *verify_findings,
    ]
    feature_changes = windows_feature.changes(spec, facts)
    # The engine starts only once the Containers feature is Enabled (dockerd checks vmcompute/hns),
    # so engine blocks wait for the feature blocks and for their reboot.
    feature_ids = tuple(c.id for c in feature_changes)
    engine_changes = container_engine.changes(spec, facts, requires=feature_ids)
    engine_ids = feature_ids + tuple(c.id for c in engine_changes)
    daemon_changes = daemon_config.changes(spec, facts, requires=engine_ids)
    return Plan(host, findings, [*feature_changes, *engine_changes, *daemon_changes], verify)
