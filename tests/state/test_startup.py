"""The commands that never open the store start without the database layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from provisioner.state.store import Store


def database_modules_after(code: str) -> str:
    """Runs ``code`` in a new interpreter; the database layer's modules it imported, as a printed list."""
    probe = "import sys\nprint(sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()[-1]


def test_the_command_line_imports_no_database_layer_until_a_store_is_opened() -> None:
    code = "from provisioner import cli\nassert cli.run(['schema', 'inventory']) == 0\n"
    assert database_modules_after(code) == "[]"


def test_a_run_on_a_sqlite_store_at_the_schemas_head_is_written_without_sqlalchemy(tmp_path: Path) -> None:
    """sqlite_writer.py: the second and later runs on a store file pay no SQLAlchemy import; what
    they write reads back through the full store as a run, a result and its resource rows."""
    location = tmp_path / "history.db"
    Store.open(location).close()  # created and migrated, as a first run leaves it
    code = (
        "import argparse\n"
        "from pathlib import Path\n"
        "from types import SimpleNamespace\n"
        "from provisioner.state import cli as state_cli\n"
        "from provisioner.state.records import HostRecord, ResourceRecord\n"
        f"args = argparse.Namespace(command='check', state={str(location)!r}, no_state=False, retention_days=90)\n"
        "sink = state_cli.start_run(args, SimpleNamespace(file=Path('site.yml')))\n"
        "drift = ResourceRecord('daemon/config', 'daemon_config', 'drift', [{'path': 'p', 'before': 1, 'after': 2}])\n"
        "sink.store.record(sink.run_id, [HostRecord('h1', 'play', 'drift', 'digest', groups=('windows',),"
        " facts={'os': {'build': 20348}}, resources=(drift,))])\n"
        "state_cli.finish_run(sink, args, 2, [])\n"
    )
    assert database_modules_after(code) == "[]"
    with Store.open(location) as store:
        [recorded] = store.runs()
        [result] = store.results(facts=True)
    assert recorded["kind"] == "check" and recorded["exit_code"] == 2 and recorded["finished"] >= recorded["started"]
    assert (result["host"], result["status"], result["groups"], result["facts"]) == (
        "h1",
        "drift",
        ["windows"],
        {"os": {"build": 20348}},
    )
    assert result["started"] == recorded["started"]
    assert [(r["resource"], r["change_kind"], r["diff"]) for r in result["resources"]] == [
        ("daemon/config", "intentional", [{"path": "p", "before": 1, "after": 2}])
    ]
