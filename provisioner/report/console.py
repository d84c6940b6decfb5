"""Plain console output: one line per event, then one block per host and a summary."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from provisioner.engine.host import Event, HostResult
from provisioner.facts import Facts

__all__ = ["print_event", "print_results"]


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def print_event(event: Event, out: TextIO = sys.stdout) -> None:
    if event.kind == "done":
        return
    out.write(f"[{event.host}] {event.message}\n")
    out.flush()


def print_results(results: Sequence[HostResult], mode: str, out: TextIO = sys.stdout) -> None:
    for result in results:
        extra = f", {result.reboots} reboot{'s' if result.reboots != 1 else ''}" if result.reboots else ""
        out.write(f"{result.name}: {result.status} ({result.duration:.1f} s{extra})\n")
        if result.message:
            out.write(f"  {result.message}\n")
        for resource in result.resources:
            if resource.status in {"ok"} and mode == "apply":
                continue
            for entry in resource.diff:
                out.write(f"  {resource.id}: {entry.path}: {_value(entry.before)} -> {_value(entry.after)}\n")
            if resource.message:
                out.write(f"  {resource.id}: {resource.message}\n")
        if result.verify:
            verdict = "ok" if result.verify["ok"] else f"failed: {result.verify['message']}"
            out.write(f"  verify {result.verify['image']} ({result.verify['isolation']}): {verdict}\n")
    counts = Counter(r.status for r in results)
    out.write("summary: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + "\n")


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no", None: "?"}.get(value, str(value))


def print_facts_table(results: Sequence[HostResult], out: TextIO = sys.stdout) -> None:
    """The facts of each host as one row; a host whose facts could not be read shows why."""
    header = ["host", "build", "edition", "VT", "SLAT", "hypervisor", "VM", "nested", "features", "engine", "reboot"]
    rows = []
    for result in results:
        if result.facts is None:
            rows.append([result.name, f"{result.status}: {result.message}"])
            continue
        facts = Facts.model_validate(result.facts)
        hw = facts.hardware
        features = ",".join(f"{name}={state}" for name, state in sorted(facts.features.items()))
        engine = facts.engine.version or "-" if facts.engine.installed else "-"
        if facts.engine.service.exists:
            engine += f" ({facts.engine.service.status})"
        rows.append([result.name, f"{facts.os.build}.{facts.os.ubr}", facts.os.edition_id, hw.firmware_vt,
                     # Under a running hypervisor the SLAT reading is hidden like the VT one (facts.py).
                     "unknown" if hw.hypervisor_present and not hw.slat else _yes_no(hw.slat),
                     _yes_no(hw.hypervisor_present),
                     hw.vm_platform or _yes_no(hw.is_vm), facts.nested_virtualization or "-", features, engine,
                     "pending" if facts.reboot.pending else "-"])
    widths = [max(len(str(row[i])) for row in [header, *rows] if i < len(row)) for i in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
