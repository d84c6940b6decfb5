"""The commands that never open the store start without the database layer."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_imports_no_database_layer_until_a_store_is_opened() -> None:
    code = (
        "import sys\n"
        "from provisioner import cli\n"
        "assert cli.run(['schema', 'inventory']) == 0\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
