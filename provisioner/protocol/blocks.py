"""Block params: what a block's begin marker carries and its script reads as ``$P`` (DESIGN 4.1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = ["BlockParams", "DesktopProbe", "DiagnosticsParams", "FactsParams", "RebootParams"]


class BlockParams(BaseModel):
    """Base of every block's params: what the begin marker carries and the block's script reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DesktopProbe(BlockParams):
    """What the FACTS block reads about Docker Desktop (facts.DesktopFacts), for docker-desktop specs only."""

    uninstall_key: str
    service: str
    group: str
    users: list[str]
    profile_list: str
    daemon_json: str
    """Relative to each user's profile folder."""
    docker: str
    pipes: dict[str, str]
    format: str
    session_process: str
    desktop_process: str
    wsl_exe: str


class FactsParams(BlockParams):
    """Params of the ``facts`` block (templates/resources/facts.ps1.j2): what plan.FactsRequest asks for."""

    features: list[str]
    services: list[str]
    files: list[str]
    engine_dir: str
    desktop: DesktopProbe | None = None
    """Docker Desktop's probe; left out of the marker and ``$P`` when None, so a docker-ce host's FACTS
    script is what it was before Desktop existed."""

    @model_serializer(mode="wrap")
    def _omit_absent_probe(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("desktop") is None:
            data.pop("desktop", None)
        return data


class RebootParams(BlockParams):
    """Params of the ``reboot`` block (templates/resources/reboot.ps1.j2)."""

    reason: str


class DiagnosticsParams(BlockParams):
    """Params of the ``diagnostics`` block (templates/resources/diagnostics.ps1.j2)."""

    echo: str
    """Returned unchanged in the record's data: the round-trip marker."""
    read: list[Literal["powershell", "admin", "winrm_limits"]] = Field(default_factory=list)
    """What else to read: $PSVersionTable, the administrator check, the WSMan limits."""
