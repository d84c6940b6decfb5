"""daemon_config: daemon.json as canonical JSON, compared key by key, engine restarted on change.

Keys are checked at load time (spec.py). On change the block backs up the old file, writes the
new one atomically as UTF-8 without BOM (engines before 23.0 fail on a BOM, and PowerShell 5.1's
``-Encoding UTF8`` writes one: windows-facts.md section 5), validates it with
``dockerd --validate --config-file`` where the engine is 23.0 or newer, and restarts the service.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provisioner.facts import Facts, FileFacts
from provisioner.resources.base import BlockParams, Change, DiffEntry, RecordData, Resource
from provisioner.resources.container_engine import docker_ce
from provisioner.spec import HostSpec

__all__ = [
    "CONTENT_LIMIT",
    "DEFAULT_PATH",
    "RESOURCE",
    "TYPE",
    "DaemonData",
    "DaemonParams",
    "canonical_json",
    "changes",
    "settings_diff",
]

TYPE = "daemon_config"
DEFAULT_PATH = r"C:\ProgramData\docker\config\daemon.json"
"""``%ProgramData%\\docker\\config\\daemon.json`` unless --data-root or --config-file say otherwise [CLI-DOCKERD]."""


CONTENT_LIMIT = 65536
"""Bytes up to which FACTS sends a file's content (facts.ps1.j2); beyond it only the SHA-256."""


class DaemonParams(BlockParams):
    path: str
    content: str
    """The exact file text to write: canonical JSON (sorted keys, two-space indent, LF, final newline)."""
    sha256: str
    """SHA-256 of ``content`` in UTF-8, to compare with the file on the host."""
    service: str
    dockerd: str
    validate_config: bool
    """Run ``dockerd --validate`` first: the flag exists from Engine 23.0 [CLI-DOCKERD]."""


class DaemonData(RecordData):
    before_sha256: str | None
    """SHA-256 of the file before the block; None when there was none."""
    after_sha256: str
    restarted: bool = False
    """The engine's service was restarted to read the new file."""


def canonical_json(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _settings(found: FileFacts) -> dict[str, Any]:
    """The file's content as a mapping; ValueError when not a JSON object. A UTF-8 BOM is accepted, as
    Engine 23.0 and later accept it (moby PR #44790)."""
    value = json.loads((found.content or "").lstrip("\ufeff") or "{}")
    if not isinstance(value, dict):
        raise ValueError("daemon.json is not a JSON object")
    return value


def settings_diff(found: FileFacts | None, desired: dict[str, Any], where: str) -> list[DiffEntry]:
    """What differs between a daemon.json on the host and ``desired``, key by key under ``where``.

    FACTS sends a file's content only up to 64 KiB (a FACTS record stays small however large the
    file), with its SHA-256 always. A larger file is compared by hash with the canonical content this
    tool writes: equal means in state; otherwise the whole file is the difference (review F13: such a
    file never converged, since a missing content read as ``{}``).
    """
    if found is not None and found.exists and found.content is None and found.sha256:
        want = hashlib.sha256(canonical_json(desired).encode("utf-8")).hexdigest()
        if found.sha256.lower() == want:
            return []
        return [DiffEntry(where, f"<a file over {CONTENT_LIMIT} bytes with sha256 {found.sha256.lower()}>", desired)]
    try:
        current = None if found is None or not found.exists else _settings(found)
    except (ValueError, RecursionError):  # not JSON, not an object, or nested past Python's stack
        return [DiffEntry(where, "<not a JSON object>", desired)]
    have = current or {}
    diff = []
    if current is None and not desired:
        diff.append(DiffEntry(where, "<no file>", {}))
    for key in sorted(set(have) | set(desired)):
        if key not in have or key not in desired or have[key] != desired[key]:
            diff.append(DiffEntry(f"{where}.{key}", have.get(key), desired.get(key)))
    return diff


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = docker_ce(spec)  # Docker Desktop keeps its settings per user: resources/desktop_config.py
    if spec.daemon is None:
        return []
    desired = spec.daemon
    diff = settings_diff(facts.files.get(DEFAULT_PATH), desired, "daemon")
    if not diff:
        return []
    content = canonical_json(desired)
    params = DaemonParams(
        path=DEFAULT_PATH,
        content=content,
        sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
        service=engine.service,
        dockerd=engine.install_dir.rstrip("\\") + "\\dockerd.exe",
        validate_config=engine.major_minor >= (23, 0),
    )
    return [Change(id="daemon/config", type=TYPE, params=params, diff=diff)]


RESOURCE = Resource(
    name=TYPE,
    params=DaemonParams,
    data=DaemonData,
    changes=changes,
    # Validated with the installed dockerd, and the restart needs the engine's service.
    requires=("container_engine",),
)
