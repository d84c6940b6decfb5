"""One module per resource type, each declaring the same shape (resources/base.py, DESIGN 4.3).

Resources produce changes (and, through render.py, scripts); they never run anything. The
contract's block types are re-exported here for the renderer, the engine and doctor.
"""

from __future__ import annotations

from provisioner.resources.base import BlockParams, Change, DiffEntry, Finding, service_diff

__all__ = ["BlockParams", "Change", "DiffEntry", "Finding", "service_diff"]
