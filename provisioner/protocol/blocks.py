"""Block params: what a block's begin marker carries and its script reads as ``$P`` (DESIGN 4.1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, SerializerFunctionWrapHandler, model_serializer

__all__ = ["BlockParams", "DiagnosticsParams", "FactsParams", "RebootParams"]


class BlockParams(BaseModel):
    """Base of every block's params: what the begin marker carries and the block's script reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FactsParams(BlockParams):
    """Params of the ``facts`` block (templates/resources/facts.ps1.j2): what plan.FactsRequest asks for."""

    features: list[str]
    services: list[str]
    files: list[str]
    engine_dir: str
    extra: dict[str, SerializeAsAny[BlockParams]] = {}
    """The engine type's own probes (plan.FactsRequest.extra), each under its own key in the marker and
    ``$P`` (``desktop``), so a docker-ce host's FACTS script is what it was before Desktop existed."""

    @model_serializer(mode="wrap")
    def _flatten_extra(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        data.update(data.pop("extra", {}))
        return data


class RebootParams(BlockParams):
    """Params of the ``reboot`` block (templates/resources/reboot.ps1.j2)."""

    reason: str
    warn_seconds: int = 0
    """Above 0: shutdown.exe warns the signed-in users for this long, then restarts (windows-audit.md F14)."""
    comment: str = ""


class DiagnosticsParams(BlockParams):
    """Params of the ``diagnostics`` block (templates/resources/diagnostics.ps1.j2)."""

    echo: str
    """Returned unchanged in the record's data: the round-trip marker."""
    read: list[Literal["powershell", "admin", "winrm_limits"]] = Field(default_factory=list)
    """What else to read: $PSVersionTable, the administrator check, the WSMan limits."""
