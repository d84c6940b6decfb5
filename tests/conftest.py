"""Shared fixtures: paths into the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


# The lab fleets of the end-to-end suites (tests/labfixtures.py), built on provision_lab's public API,
# and the throwaway PostgreSQL and Redis servers (tests/servers.py).
pytest_plugins = ("labfixtures", "servers")


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every apply and check records itself in the run history: keep the default store (under
    XDG_STATE_HOME) inside the test, never in the user's home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("PROVISION_STATE", raising=False)
