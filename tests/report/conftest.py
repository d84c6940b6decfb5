"""HTML report fixtures: Debian's chromium, headless, driven by Playwright's Python package.

Playwright's own browser download (``playwright install``) is never used: the browser is the
distribution's ``/usr/bin/chromium`` (``PROVISION_CHROMIUM`` names another), launched with a fresh
profile per test and its background services (updates, sync, safe browsing lists) off, so the page
under test is the only thing that could reach the network, and every request it makes is recorded.
The browser tests skip only when no chromium is installed; ``PROVISION_REQUIRE_CHROMIUM=1`` (set
by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fleet.conftest import make_fleet  # noqa: F401 - the lab fleet fixtures, reused
from state.conftest import Clock, clock  # noqa: F401 - the store's settable clock

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "reports"
"""Where screenshots go (gitignored), so a CI run keeps them."""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return os.environ.get("PROVISION_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Browser:
    """A page in a fresh headless chromium, and every URL it asked for."""

    page: object
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("PROVISION_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (PROVISION_REQUIRE_CHROMIUM=1) but none is installed")
        pytest.skip("no chromium installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        seen = Browser(page)
        page.on("request", lambda request: seen.requests.append(request.url))
        try:
            yield seen
        finally:
            context.close()
