"""Golden files of the rendered scripts (DESIGN 5, point 3): tests/fixtures/golden/<fixture>/<phase>.ps1.

Each fixture host under tests/fixtures/specs/site-spec.yml (workstation-* fixtures under desktop-spec.yml),
the scripts the engine would send it:
FACTS and REBOOT always; APPLY when the plan has changes and no preflight error; VERIFY (fixed
nonce) when the plan has a verify step and no preflight error. A change in a template or a plan shows up here as a diff
to review. To accept it:

    PROVISION_UPDATE_GOLDEN=1 PYTHONPATH=. python -m pytest tests/core/test_golden.py

which rewrites the files (and removes those no longer rendered); then review `git diff`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from provisioner.plan import plan

from .data import FACT_NAMES, GOLDEN_DIR, load_facts, render_phases, spec_for

UPDATE = os.environ.get("PROVISION_UPDATE_GOLDEN") == "1"


def expected_files() -> dict[Path, str]:
    files = {}
    for name in FACT_NAMES:
        the_plan = plan(name, spec_for(name), load_facts(name))
        sent = {"facts", "reboot"}
        if not the_plan.blocked:
            sent |= {"apply"} if the_plan.changes else set()
            sent |= {"verify"} if the_plan.verify else set()
        for phase, script in render_phases(name, spec_for(name), load_facts(name)).items():
            if phase in sent:
                files[GOLDEN_DIR / name / f"{phase}.ps1"] = script
    return files


EXPECTED = expected_files()


def _read(path: Path) -> str | None:
    return path.read_bytes().decode("utf-8") if path.exists() else None


@pytest.mark.parametrize("path", sorted(EXPECTED), ids=[f"{p.parent.name}/{p.stem}" for p in sorted(EXPECTED)])
def test_golden(path: Path) -> None:
    rendered = EXPECTED[path]
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rendered.encode("utf-8"))
    golden = _read(path)
    if golden is None:
        pytest.fail(f"{path} is missing; run with PROVISION_UPDATE_GOLDEN=1 to create it, then review it")
    if golden != rendered:
        diff = "".join(
            difflib.unified_diff(
                golden.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"golden/{path.parent.name}/{path.name}",
                tofile="rendered now",
                n=3,
            )
        )
        pytest.fail(
            f"{path.parent.name}/{path.name} differs from its golden file "
            f"(PROVISION_UPDATE_GOLDEN=1 to accept):\n{diff}",
            pytrace=False,
        )


def test_no_stale_golden_files() -> None:
    present = set(GOLDEN_DIR.rglob("*.ps1")) if GOLDEN_DIR.exists() else set()
    stale = sorted(present - set(EXPECTED))
    if UPDATE:
        for path in stale:
            path.unlink()
        present = set(GOLDEN_DIR.rglob("*.ps1"))
        assert present == set(EXPECTED), "update mode left the golden set different from what renders"
        return
    assert stale == [], f"golden files no longer rendered (PROVISION_UPDATE_GOLDEN=1 removes them): {stale}"


def test_golden_set_covers_every_phase() -> None:
    phases = {p.stem for p in EXPECTED}
    assert phases == {"facts", "apply", "verify", "reboot"}
    assert {p.parent.name for p in EXPECTED} == set(FACT_NAMES)
    # A converged host gets no APPLY; a blocked one (Home edition) gets neither APPLY nor VERIFY.
    assert GOLDEN_DIR / "server2022-converged" / "apply.ps1" not in EXPECTED
    assert GOLDEN_DIR / "server2022-converged" / "verify.ps1" in EXPECTED
    assert {p.stem for p in EXPECTED if p.parent.name == "win10-home"} == {"facts", "reboot"}
    # Docker Desktop: a fresh workstation gets every phase; a Home one is blocked (Windows containers wanted).
    assert {p.stem for p in EXPECTED if p.parent.name == "workstation-win11-23h2-pro"} == {
        "facts",
        "apply",
        "verify",
        "reboot",
    }
    assert {p.stem for p in EXPECTED if p.parent.name == "workstation-win11-23h2-home"} == {"facts", "reboot"}
