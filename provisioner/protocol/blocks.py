"""Block params: what a block's begin marker carries and its script reads as ``$P`` (DESIGN 4.1)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BlockParams"]


class BlockParams(BaseModel):
    """Base of every block's params: what the begin marker carries and the block's script reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)
