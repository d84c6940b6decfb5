"""Start-up and tear-down stay cheap (issue 18, item 3): what a check imports, how its report is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from provisioner.report.json_report import write_report


def test_the_command_line_imports_no_pywinrm_requests_paramiko_doctor_or_rich() -> None:
    # The lean client is the default: apply and check must not pay pywinrm's, requests' and
    # paramiko's imports (0.2 s of CPU), nor the doctor's; they load when a host needs them. Nor rich
    # (about 50 ms), which only the progress display on a terminal uses.
    code = "import sys, provisioner.cli; print(sorted(m for m in ('winrm', 'requests', 'paramiko', 'provisioner.doctor', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_report_is_the_same_json_with_one_host_a_line(tmp_path: Path) -> None:
    hosts = [{"name": f"h{i}", "status": "ok", "facts": {"x": [1, 2], "u": "\u00e9\u2028"}} for i in range(3)]
    report = {"schema": "provision.report/v1", "summary": {"ok": 3}, "hosts": hosts}
    target = tmp_path / "report.json"

    write_report(target, report)

    text = target.read_text(encoding="utf-8")
    assert json.loads(text) == report
    lines = text.splitlines()
    assert [line.strip().rstrip(",") for line in lines if '"name"' in line] == [json.dumps(h) for h in hosts]
    assert text.endswith("}\n") and not (tmp_path / "report.json.tmp").exists()
    write_report(target, {**report, "hosts": []})
    assert json.loads(target.read_text(encoding="utf-8"))["hosts"] == []
