"""The marker lines that frame each block of a script (DESIGN 4.1).

A block starts with a begin marker, a comment line holding its id, type, action, params and the
ids it requires as one line of JSON, and ends with an end marker, a comment line holding its id.
The renderer writes them; a host (the lab) reads the begin marker to know what ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from provisioner.protocol.blocks import BlockParams

__all__ = ["BEGIN", "END", "marker"]

BEGIN = "#@provision-begin "
END = "#@provision-end "


def marker(
    block_id: str, block_type: str, action: str, params: BlockParams | Mapping[str, Any], requires: Sequence[str] = ()
) -> str:
    """The begin marker line. ``ensure_ascii`` keeps it one line whatever the values hold."""
    payload = params.model_dump(mode="json") if isinstance(params, BlockParams) else dict(params)
    head: dict[str, Any] = {"id": block_id, "type": block_type, "action": action, "params": payload}
    if requires:
        head["requires"] = list(requires)
    return BEGIN + json.dumps(head, ensure_ascii=True, separators=(",", ":"))
