"""plan(spec, facts) -> Plan: a pure function, no I/O (DESIGN 2 and 4.3).

The drift check is "a plan with changes in it"; apply renders the changes into one script.
Every decision (feature names for the SKU, image tag, isolation, preflight verdict) is made
here from data, so all of it is testable without a host.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from provisioner.facts import Facts
from provisioner.resources import engines, registry
from provisioner.resources.base import BlockParams, Change, Finding, Resource, VerifyRun
from provisioner.resources.windows_feature import DISM_NAMES, wanted
from provisioner.spec import FeatureName, HostSpec

__all__ = ["SCRIPT_OVERHEAD", "FactsRequest", "Plan", "facts_request", "order_resources", "plan"]

SCRIPT_OVERHEAD = 60.0
"""Seconds a script may take beyond its blocks' own: PowerShell's start, the prelude, the transport."""


@dataclass(frozen=True)
class Plan:
    host: str
    preflight: list[Finding]
    changes: list[Change]
    verify: tuple[VerifyRun, ...] = ()
    """The VERIFY script's runs, in order (resources/base.py VerifyRun); none when there is nothing to verify."""
    pending: str | None = None
    """What a user has to do before the host can be finished (Docker Desktop: docker_desktop.pending);
    with no changes left, the host ends ``pending_logon`` with this as its message (DESIGN 4.5)."""
    verify_due: bool = False
    """Under ``verify.when: changed``: verify even when this run changes nothing (Docker Desktop: never
    verified for this spec, as when an earlier run ended pending_logon)."""
    apply_timeout: float = SCRIPT_OVERHEAD
    """The APPLY script's timeout: its blocks' declared timeouts and the overhead (resources/base.py)."""
    verify_timeout: float = SCRIPT_OVERHEAD
    """The VERIFY script's timeout, the same way."""

    @property
    def blocked(self) -> bool:
        """True when a preflight error forbids any change."""
        return any(f.level == "error" for f in self.preflight)

    @property
    def in_state(self) -> bool:
        return not self.blocked and not self.changes

    def to_json(self) -> dict[str, Any]:
        # A host with one engine shows its run under "verify"; runs that name their engines (Docker Desktop)
        # are listed under "desktop_verify" with "pending" and "verify_due", the keys `plan --json` has had.
        per_engine = any(run.engine is not None for run in self.verify)
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
            "verify": self.verify[0].to_json() if self.verify and not per_engine else None,
            **(
                {}
                if not (per_engine or self.pending)
                else {
                    "pending": self.pending,
                    "verify_due": self.verify_due,
                    "desktop_verify": [run.to_json() for run in self.verify],
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
    extra: dict[str, BlockParams] = field(default_factory=dict)
    """The engine type's own probes, each under its key in the params (``desktop``: facts.DesktopFacts)."""


PROBED_FEATURES: tuple[FeatureName, ...] = ("Containers", "Hyper-V")
"""Probed whatever the spec enables; the WSL features only when the spec wants them."""


def facts_request(spec: HostSpec) -> FactsRequest:
    """Probe every feature, service and file any resource may need, whatever the spec enables,
    so a facts table and a drift report can say what the host has, not only what was asked."""
    features = sorted({DISM_NAMES[f] for f in (*PROBED_FEATURES, *wanted(spec))})
    probe = engines.probe(spec)
    return FactsRequest(
        features=features,
        services=probe.services,
        files=probe.files,
        engine_dir=probe.engine_dir,
        extra=probe.extra,
    )


def order_resources(resources: tuple[Resource[Any], ...]) -> list[tuple[Resource[Any], frozenset[str]]]:
    """The resources in ``requires`` order (ties keep the given order), each with every type it requires,
    transitively: a block must wait for a reboot its requirement's requirement left pending."""
    known = {r.name for r in resources}
    needs: dict[str, frozenset[str]] = {}
    order: list[Resource[Any]] = []
    left = list(resources)
    while left:
        ready = next((r for r in left if all(name in needs for name in r.requires)), None)
        if ready is None:
            missing = {name for r in left for name in r.requires} - known
            what = f"unknown types {sorted(missing)}" if missing else "a cycle"
            raise ValueError(f"resources {[r.name for r in left]} cannot be ordered: their requires name {what}")
        needs[ready.name] = frozenset(ready.requires).union(*(needs[name] for name in ready.requires))
        order.append(ready)
        left.remove(ready)
    return [(r, needs[r.name]) for r in order]


def plan(host: str, spec: HostSpec, facts: Facts) -> Plan:
    """The preflight verdicts, the ordered changes and the verify runs for one host, from the declarations of
    its resources (resources/registry.py) and its engine type's verify."""
    resources = registry.for_spec(spec)
    findings = [f for r in resources for f in r.preflight(spec, facts)]
    changes: list[Change] = []
    timeout = SCRIPT_OVERHEAD
    for resource, needs in order_resources(resources):
        requires = tuple(c.id for c in changes if c.type in needs)
        for change in resource.changes(spec, facts):
            if change.type != resource.name or not isinstance(change.params, resource.params):
                raise TypeError(f"{resource.name}.changes made {change.type} {type(change.params).__name__}")
            changes.append(replace(change, may_reboot=resource.may_reboot, requires=requires))
            timeout += resource.timeout(change.params)
    engine = engines.engine_type(spec)
    if engine is None:
        return Plan(host, findings, changes, apply_timeout=timeout)
    verification = engine.verification(spec, facts)
    # A run's timeout does not depend on its nonce: the params are built with an empty one to read it.
    verify_timeout = SCRIPT_OVERHEAD + sum(engine.verify.timeout(run.params("")) for run in verification.runs)
    return Plan(
        host,
        [*findings, *verification.findings],
        changes,
        verification.runs,
        pending=verification.pending,
        verify_due=verification.due,
        apply_timeout=timeout,
        verify_timeout=verify_timeout,
    )
