"""report.json, schema ``provision.report/v1`` (DESIGN 4.6)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provisioner.engine.host import HostResult
from provisioner.report.files import write_atomic
from provisioner.report.text import SECRETS

__all__ = ["SCHEMA", "build_report", "hosts_to_retry", "write_report"]

SCHEMA = "provision.report/v1"


def _host(result: HostResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status,
        "message": result.message,
        "batch": result.batch,
        "duration": round(result.duration, 3),
        "reboots": result.reboots,
        "facts": result.facts,
        "preflight": result.preflight,
        "resources": [
            {
                "id": r.id,
                "type": r.type,
                "status": r.status,
                "message": r.message,
                "diff": [{"path": d.path, "before": d.before, "after": d.after} for d in r.diff],
            }
            for r in result.resources
        ],
        "verify": result.verify,
        "error": result.message if result.status in {"failed", "unreachable", "interrupted"} else None,
        "transport": asdict(result.counters),
    }


def build_report(
    *, mode: str, playbook: Path, started: datetime, results: Sequence[HostResult], run_id: str | None = None
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_id": run_id or uuid.uuid4().hex,
        "mode": mode,
        "playbook": str(playbook),
        "started": started.isoformat(),
        "ended": datetime.now(UTC).isoformat(),
        "summary": dict(sorted(Counter(r.status for r in results).items())),
        "hosts": [_host(r) for r in results],
    }


def _dumps(report: dict[str, Any]) -> str:
    """The report with one host per line, its secrets masked. ``json.dumps(indent=2)`` runs the pure-Python encoder
    (the C one serves only ``indent=None``): 0.1 s of CPU for 1,000 hosts, four times this."""
    parts = []
    for key, value in report.items():
        if key == "hosts" and value:
            lines = ",\n    ".join(SECRETS.dumps(host) for host in value)
            parts.append(f'  "hosts": [\n    {lines}\n  ]')
        else:
            parts.append(f"  {json.dumps(key)}: {SECRETS.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_report(file: Path, report: dict[str, Any], option: str = "--report") -> None:
    """Write atomically, so an interrupted run never leaves half a report; ``OutputError`` if it cannot be."""
    write_atomic(option, file, _dumps(report).encode("utf-8"))


def hosts_to_retry(file: Path) -> set[str]:
    """``--retry-failed``: the hosts of a report that did not end ``ok`` or ``changed``.

    Any file that is not a readable report is one located error, never a traceback (review F10).
    """
    from provisioner.errors import InputError, LoadError

    def bad(message: str, line: int | None = None, column: int | None = None) -> InputError:
        return InputError([LoadError(file, line, column, (), message)])

    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("report file not found") from None
    except json.JSONDecodeError as exc:
        raise bad(f"malformed JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except UnicodeDecodeError as exc:
        raise bad(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except RecursionError:
        raise bad("JSON nested too deeply") from None
    except OSError as exc:
        raise bad(f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise bad(f"not a provision report (expected schema {SCHEMA})")
    hosts = report.get("hosts", [])
    if not isinstance(hosts, list) or not all(
        isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("status"), str) for h in hosts
    ):
        raise bad("hosts: expected a list of {name, status, ...} objects, as provision writes")
    return {h["name"] for h in hosts if h["status"] not in {"ok", "changed"}}
