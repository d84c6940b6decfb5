"""Every resource type, and the ones a host's plan is built from (resources/base.py, DESIGN 4.3).

A host's resources are the generic ones, then its engine type's (engines.py), in that order: the
order their preflight findings appear in. plan.py orders their changes by ``requires``.
"""

from __future__ import annotations

from typing import Any

from provisioner.resources import virtualization, windows_feature
from provisioner.resources.base import Resource
from provisioner.resources.engines import ENGINES, engine_type
from provisioner.spec import HostSpec

__all__ = ["GENERIC", "RESOURCES", "for_spec"]

GENERIC: tuple[Resource[Any], ...] = (virtualization.RESOURCE, windows_feature.RESOURCE)
"""The resources of every host, whatever its engine."""

RESOURCES: dict[str, Resource[Any]] = {
    resource.name: resource
    for resource in (
        *GENERIC,
        *(r for engine in ENGINES.values() for r in (*engine.resources, engine.verify)),
    )
}
"""Every resource type by name: the block type the engine reads a record's ``data`` by."""


def for_spec(spec: HostSpec) -> tuple[Resource[Any], ...]:
    """The resources a plan for ``spec`` is built from (its engine type's verify is planned apart)."""
    engine = engine_type(spec)
    return GENERIC if engine is None else (*GENERIC, *engine.resources)
