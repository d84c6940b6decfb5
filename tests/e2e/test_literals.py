"""Values from YAML reach the host unchanged, whatever quotes and PowerShell syntax they hold (DESIGN 4.9).

The lab interprets the script's PowerShell, so the value the host sees is the one the ``$P`` literal
spells: a value the ``ps`` filter quoted wrongly would reach daemon.json changed, or fail to parse;
a value that survives shows up verbatim in the host's daemon.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from provision_lab.windows.host import DAEMON_JSON

from .conftest import E2ELab, block_markers

OWNER = "O'Brien\u2019s $(whoami)"
"""An ASCII quote, a typographic one (U+2019, a single quote to PowerShell) and a subexpression."""
NASTY = '\u2018left\u2019 \u201aлow\u201b `$env:USERNAME "dq" @\' ; & | $null # <tag> \\\\share\\x'
"""The other typographic single quotes, a backtick escape, a here-string opener, separators, a comment sign."""


def test_quotes_and_subexpressions_reach_the_host_unchanged(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup(
        transport,
        host_vars={"web1": {"owner": OWNER, "nasty": NASTY}},
        spec={"daemon": {"labels": ["provisioned-by=provision", "owner={{ owner }}", "note={{ nasty }}"]}},
    )
    labels = ["provisioned-by=provision", f"owner={OWNER}", f"note={NASTY}"]
    assert lab.load(playbook).targets[0].spec.daemon["labels"] == labels  # type: ignore[index]

    run = lab.cli("apply", playbook, report=True)

    assert run.code == 0, run.out + run.err
    # On the host: the file holds the labels exactly as written in YAML.
    written = json.loads(lab.snapshot("web1")["files"][DAEMON_JSON]["content"])
    assert written["labels"] == labels
    # In the daemon_config block's marker (what the lab executed) ...
    daemon_blocks = [m for s in lab.scripts["web1"] for m in block_markers(s) if m["type"] == "daemon_config"]
    assert daemon_blocks and all(json.loads(m["params"]["content"])["labels"] == labels for m in daemon_blocks)
    # ... in the FACTS record read back after the change, and in the report's diff.
    host = run.report_host("web1")
    assert json.loads(host["facts"]["files"][DAEMON_JSON]["content"])["labels"] == labels
    diff = {d["path"]: d["after"] for r in host["resources"] for d in r["diff"]}
    assert diff["daemon.labels"] == labels
    assert lab.counters("web1")["records.failed"] == 0
    assert f"owner={OWNER}" in run.out

    # Read back from the host and compared, the value is in state: a check finds nothing.
    check = lab.cli("check", playbook)
    assert check.code == 0, check.out + check.err
