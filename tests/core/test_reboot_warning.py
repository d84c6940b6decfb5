"""reboot.warn_seconds (windows-audit.md F14): on by default on client SKUs only, and within shutdown.exe's limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from provisioner.render import Renderer, reboot_comment
from provisioner.spec import CLIENT_WARN_SECONDS, RebootPolicy


def test_the_warning_is_on_by_default_on_clients_only_and_an_explicit_value_applies_everywhere() -> None:
    assert RebootPolicy().warn_for(client=True) == CLIENT_WARN_SECONDS > 0
    assert RebootPolicy().warn_for(client=False) == 0
    assert RebootPolicy(warn_seconds=0).warn_for(client=True) == 0
    assert RebootPolicy(warn_seconds=90).warn_for(client=False) == 90


def test_shutdown_exe_limits_bound_the_setting() -> None:
    # /t is 0-315360000 and /c at most 512 characters (learn.microsoft.com, windows-commands/shutdown).
    with pytest.raises(ValidationError):
        RebootPolicy(warn_seconds=315360001)
    with pytest.raises(ValidationError):
        RebootPolicy(warn_seconds=-1)
    assert all(len(reboot_comment(315360000, reason)) <= 512 for reason in ("features", "pending"))


def test_a_server_reboot_script_restarts_at_once_and_a_warned_one_carries_the_countdown() -> None:
    server = Renderer().reboot("h", "features")
    assert "'warn_seconds' = 0" in server and "'comment' = ''" in server
    warned = Renderer().reboot("h", "features", 120)
    assert "'warn_seconds' = 120" in warned and "in 120 seconds" in warned


def test_the_warning_says_why_the_computer_restarts() -> None:
    # A restart another installation left pending (F2) is not provision's features.
    assert "Windows features" in Renderer().reboot("h", "features", 120)
    pending = Renderer().reboot("h", "pending", 120)
    assert "waiting for a restart" in pending and "Windows features" not in pending
