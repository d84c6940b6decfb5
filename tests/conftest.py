"""Shared fixtures: paths into the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


# The lab fleets of the end-to-end suites (tests/labfixtures.py), built on provision_lab's public API.
pytest_plugins = ("labfixtures",)
