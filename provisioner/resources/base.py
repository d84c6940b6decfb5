"""The resource contract: one shape for every resource type, and an engine type as a set of them.

A resource type is what a DSC v3 resource manifest or a pyinfra operation is (DESIGN 4.3): a
:class:`Resource` declaration at the bottom of its module, saying

- ``name``: the block type, the marker's ``type`` and the template ``templates/resources/<name>.ps1.j2``;
- ``params``: the model of the block's ``$P`` (and the begin marker's ``params``);
- ``data``: the model of the ``data`` its record returns, which the engine reads into the result;
- ``preflight(spec, facts)``: verdicts before any change (errors stop the host);
- ``changes(spec, facts)``: what differs, as :class:`Change` objects of its ``name`` (pure, no I/O);
- ``requires``: the resource types whose blocks must have succeeded, with no reboot pending, before its
  own run. By type, never by id: plan.py turns them into block ids, transitively, and orders the plan by
  them (topologically; ties keep the declared order, which is also the order preflight findings appear in);
- ``may_reboot``: whether its template can report ``reboot_required`` (a test reads every template and
  fails when a template can set ``$RebootRequired`` that its resource does not declare, or the reverse);
- ``timeout(params)``: how long one block may run; the apply script's timeout is the sum over the plan.

An engine type (docker-ce, docker-desktop) is an :class:`EngineType`: its resources in order, its
verify (a :class:`Verification` of :class:`VerifyRun` blocks, one shape for every engine), the facts it
probes, the Windows features it needs and the machine rules virtualization applies for it. Only the
resources of an engine type look inside its spec (``engine.type`` picks the type: engines.py), so the
generic plan, renderer and engine never branch on an engine.

Adding a resource type (a new engine type the same way, e.g. ``engine.type: containerd``):

1. ``provisioner/resources/<name>.py``: its params and data models, ``preflight``/``changes``, and at the
   bottom ``RESOURCE = Resource(name=TYPE, params=..., data=..., changes=changes, ...)``; for an engine,
   also its verify (a class with the :class:`VerifyRun` shape and a ``verification(spec, facts)``).
2. ``provisioner/templates/resources/<name>.ps1.j2``: the block body; everything from ``$P``, results in
   ``$Changed``, ``$RebootRequired`` and ``$Data`` (the keys of the data model).
3. The registry line: a generic resource goes in ``registry.GENERIC``; an engine's resources go in its
   ``EngineType`` in ``engines.py`` (a new engine type: one ``EngineType(...)`` there, plus its spec model
   in ``spec.AnyEngine``, and its facts in facts.py/facts.ps1.j2 if FACTS must read something new).

The tests in tests/resources/ then check the declaration against the template (reboots, data keys) and
the registry (known requires, no cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from provisioner.facts import Facts
    from provisioner.spec import FeatureName, HostSpec

__all__ = [
    "DEFAULT_TIMEOUT",
    "BlockParams",
    "Change",
    "DiffEntry",
    "EngineProbe",
    "EngineType",
    "Finding",
    "NoData",
    "NoParams",
    "RecordData",
    "Resource",
    "Verification",
    "VerifyRun",
    "no_findings",
    "service_diff",
]


class BlockParams(BaseModel):
    """Base of every block's params: what the begin marker carries and the block's script reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(BlockParams):
    """The params of a resource that renders no block (virtualization only checks)."""


class RecordData(BaseModel):
    """Base of every block's record ``data``: the keys its template writes into ``$Data``.

    Unknown keys are refused, so a template that writes a key its model does not declare fails the
    contract test instead of being dropped silently.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoData(RecordData):
    """A block that writes nothing into ``$Data``."""


@dataclass(frozen=True)
class DiffEntry:
    """One property that differs: ``path`` as the user would name it, with before and after."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Finding:
    """A preflight verdict: errors stop the host before any change, warnings are reported."""

    level: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True)
class Change:
    """One block of the apply script: a resource whose host state differs from the spec.

    A resource's ``changes`` fills ``id``, ``type``, ``params`` and ``diff``; plan.py sets ``may_reboot``
    and ``requires`` from the resource's declaration.
    """

    id: str
    type: str
    params: BlockParams
    diff: list[DiffEntry]
    may_reboot: bool = False
    requires: tuple[str, ...] = field(default=())
    """Ids of blocks that must have succeeded, with no reboot pending, before this one runs."""


P = TypeVar("P", bound=BlockParams)


def no_findings(spec: HostSpec, facts: Facts) -> list[Finding]:
    """The preflight of a resource that has no verdicts of its own."""
    return []


def no_changes(spec: HostSpec, facts: Facts) -> list[Change]:
    """The changes of a resource that only checks (virtualization) or only verifies."""
    return []


DEFAULT_TIMEOUT = 600.0
"""Seconds one block may take unless its resource says otherwise (the apply script's timeout before
resources declared theirs)."""


def _default_timeout(params: BlockParams) -> float:
    return DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Resource(Generic[P]):
    """A resource type's declaration (module docstring)."""

    name: str
    params: type[P]
    data: type[RecordData]
    changes: Callable[[HostSpec, Facts], Sequence[Change]] = no_changes
    preflight: Callable[[HostSpec, Facts], Sequence[Finding]] = no_findings
    requires: tuple[str, ...] = ()
    may_reboot: bool = False
    timeout: Callable[[P], float] = _default_timeout

    @property
    def template(self) -> str:
        """The block body's template, included by block.ps1.j2 by the block's type."""
        return f"resources/{self.name}.ps1.j2"

    def read(self, data: Any) -> RecordData:
        """A record's ``data`` as this resource's model (pydantic.ValidationError when it does not fit)."""
        return self.data.model_validate(data if data is not None else {})


class VerifyRun(Protocol):
    """One block of a host's VERIFY script: a container run that proves an engine (DESIGN 4.3).

    The VERIFY script runs a plan's runs in order, each after the ones before it; the host's verify result
    is the single run's entry, or, when the runs name the engines they prove, one entry per engine.
    """

    @property
    def block_id(self) -> str: ...

    @property
    def type(self) -> str:
        """The verify resource's name: the block type and template."""
        ...

    @property
    def engine(self) -> str | None:
        """Which of the host's engines the run proves (Docker Desktop: ``linux``, ``windows``); None when
        the host has one engine."""
        ...

    def params(self, nonce: str) -> BlockParams:
        """The block's params with the run's nonce in them."""
        ...

    def describe(self) -> str:
        """One line for ``provision plan``."""
        ...

    def headline(self) -> str:
        """What the verify event says is running."""
        ...

    def to_json(self) -> dict[str, Any]:
        """The run in ``provision plan --json``."""
        ...

    def entry(self, ok: bool, message: str, data: RecordData) -> dict[str, Any]:
        """The run's result in the host's ``verify`` (report.json), from its record."""
        ...


@dataclass(frozen=True)
class Verification:
    """What an engine type's verify planned for one host."""

    runs: tuple[VerifyRun, ...] = ()
    findings: tuple[Finding, ...] = ()
    pending: str | None = None
    """What a user has to do before the host can be finished; with no changes left the host ends
    ``pending_logon`` with this as its message (DESIGN 4.5)."""
    due: bool = False
    """Verify even when this run changed nothing (under ``verify.when: changed``): the host was never
    verified for this spec, e.g. an earlier run ended pending_logon."""


@dataclass(frozen=True)
class EngineProbe:
    """What FACTS reads for an engine type (the FACTS block's params, DESIGN 4.2)."""

    services: list[str]
    files: list[str]
    engine_dir: str
    extra: dict[str, BlockParams] = field(default_factory=dict)
    """Further probes under keys of their own in the FACTS params (``desktop``: facts.DesktopFacts)."""


def _no_features(spec: HostSpec) -> list[FeatureName]:
    return []


@dataclass(frozen=True)
class EngineType:
    """An engine type: its resources (in preflight order) and what the generic resources ask of it."""

    name: str
    """``engine.type`` in the spec."""
    resources: tuple[Resource[Any], ...]
    verify: Resource[Any]
    """The verify block's resource (its params, data and template)."""
    verification: Callable[[HostSpec, Facts], Verification]
    probe: Callable[[HostSpec], EngineProbe]
    features: Callable[[HostSpec], list[FeatureName]] = _no_features
    """Windows features the engine needs beyond spec.features (enabled, with their reboot, before it)."""
    machine_rules: Callable[[HostSpec, Facts], Sequence[Finding]] = no_findings
    """The engine's own rules about the machine, reported first by virtualization's preflight."""
    hypervisor: bool = False
    """The engine always runs a hypervisor (Docker Desktop's WSL 2 or Hyper-V VM), so the CPU checks apply."""
    workstation: bool = False
    """A workstation product with its own edition and VM rules (in ``machine_rules``), refused on servers
    by them, so virtualization's edition rules and windows_feature's availability check stand aside."""


def service_diff(path: str, exists: bool, status: str | None, start_type: str | None) -> list[DiffEntry]:
    """What differs from a service that exists, starts automatically and runs (engine and Desktop)."""
    if not exists:
        return [DiffEntry(path, "absent", "Running")]
    diff = []
    if status != "Running":
        diff.append(DiffEntry(f"{path}.status", status, "Running"))
    if start_type != "Automatic":
        diff.append(DiffEntry(f"{path}.start_type", start_type, "Automatic"))
    return diff
