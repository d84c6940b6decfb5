"""Where the run history lives and its error, without importing the database layer (``provision
validate`` and the other commands that never touch the store start without SQLAlchemy)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_RETENTION_DAYS", "STATE_ENV", "StateError", "default_location", "resolve_location"]

STATE_ENV = "PROVISION_STATE"
"""The environment variable naming the store (a path or a URL), below ``--state``."""

DEFAULT_RETENTION_DAYS = 90
"""AWX's default for job details (research/containerd-scaleout-history.md 4.1)."""


def default_location() -> Path:
    """``$XDG_STATE_HOME/provision/history.db``, else ``~/.local/state/provision/history.db``
    (the XDG Base Directory specification's state directory: "data that should persist between
    restarts, but that is not important or portable enough" for the data directory)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "provision" / "history.db"


def resolve_location(location: str | Path | None) -> str:
    """The store a command means: ``location`` (``--state``), else ``PROVISION_STATE``, else
    :func:`default_location`."""
    return str(location) if location is not None else os.environ.get(STATE_ENV) or str(default_location())


class StateError(Exception):
    """The store cannot be opened, migrated or written; the message names the store (never its password)."""
