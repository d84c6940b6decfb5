"""``--junit FILE``: one testcase per host and per resource, for CI dashboards.

Host text goes through :func:`~provisioner.report.text.xml_safe`: a control character a host sends
back (docker echoing an image name, a daemon.json value) would otherwise make the file not
well-formed XML, and the CI dashboard would drop the whole run (security review F7).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from provisioner.engine.host import HostResult
from provisioner.report.files import write_atomic
from provisioner.report.text import xml_safe

__all__ = ["junit_xml", "write_junit"]

_FAILED = {"failed", "unreachable", "halted", "interrupted"}


def junit_xml(results: Sequence[HostResult], mode: str) -> bytes:
    """The JUnit document, UTF-8 with its declaration."""
    suite = ET.Element("testsuite", name=f"provision {mode}")
    cases = failures = skipped = 0
    for result in results:
        name = xml_safe(result.name)
        host_case = ET.SubElement(suite, "testcase", classname=name, name="host", time=f"{result.duration:.3f}")
        cases += 1
        if result.status in _FAILED or result.status in {"drift", "reboot_required", "pending_logon"}:
            failures += 1
            ET.SubElement(
                host_case, "failure", message=xml_safe(f"{result.status}: {result.message}"), type=result.status
            )
        for resource in result.resources:
            case = ET.SubElement(suite, "testcase", classname=name, name=xml_safe(resource.id))
            cases += 1
            if resource.status in {"failed", "drift"}:
                failures += 1
                detail = "; ".join(f"{d.path}: {d.before!r} -> {d.after!r}" for d in resource.diff)
                ET.SubElement(
                    case, "failure", message=xml_safe(resource.message or resource.status), type=resource.status
                ).text = xml_safe(detail)
            elif resource.status == "skipped":
                skipped += 1
                ET.SubElement(case, "skipped", message=xml_safe(resource.message))
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    document: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return document


def write_junit(file: Path, results: Sequence[HostResult], mode: str, option: str = "--junit") -> None:
    """Write atomically; ``OutputError`` when it cannot be written."""
    write_atomic(option, file, junit_xml(results, mode))
