"""Fixtures of the core tests; the data itself is in data.py."""

from __future__ import annotations

import pytest

from .data import FACT_NAMES


@pytest.fixture(params=FACT_NAMES)
def fixture_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
