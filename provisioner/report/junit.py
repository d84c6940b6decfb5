"""``--junit FILE``: one testcase per host and per resource, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from provisioner.engine.host import HostResult

__all__ = ["write_junit"]

_FAILED = {"failed", "unreachable", "halted", "interrupted"}


def write_junit(file: Path, results: Sequence[HostResult], mode: str) -> None:
    suite = ET.Element("testsuite", name=f"provision {mode}")
    cases = failures = skipped = 0
    for result in results:
        host_case = ET.SubElement(suite, "testcase", classname=result.name, name="host", time=f"{result.duration:.3f}")
        cases += 1
        if result.status in _FAILED or result.status in {"drift", "reboot_required", "pending_logon"}:
            failures += 1
            ET.SubElement(host_case, "failure", message=f"{result.status}: {result.message}", type=result.status)
        for resource in result.resources:
            case = ET.SubElement(suite, "testcase", classname=result.name, name=resource.id)
            cases += 1
            if resource.status in {"failed", "drift"}:
                failures += 1
                detail = "; ".join(f"{d.path}: {d.before!r} -> {d.after!r}" for d in resource.diff)
                ET.SubElement(
                    case, "failure", message=resource.message or resource.status, type=resource.status
                ).text = detail
            elif resource.status == "skipped":
                skipped += 1
                ET.SubElement(case, "skipped", message=resource.message)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    file.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(file, encoding="utf-8", xml_declaration=True)
