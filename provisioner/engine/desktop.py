"""Docker Desktop's verify step for the host engine (engine/host.py calls it; DESIGN 4.3, 4.5).

One VERIFY script with a block per engine (resources/desktop_verify.py): the Linux engine first
(``docker run --rm --platform linux busybox uname -a``), then the Windows engine (a Nano Server
container for the host's build), switching Desktop's engine with ``docker desktop engine use``
when the one to test is not running [DD-CLI; docker/for-win#14675]. The host's ``verify`` result
keeps DESIGN 4.6's keys (image, isolation, ok, message) for the last engine and lists every
engine under ``engines``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provisioner.engine.outcome import HostFailure
from provisioner.resources.desktop_verify import SWITCH_POLLS

if TYPE_CHECKING:
    from provisioner.engine.host import HostRunner
    from provisioner.plan import Plan

__all__ = ["verify_desktop"]

SWITCH_SECONDS = SWITCH_POLLS * 2 + 30
"""What one engine switch may take: the block's polls, two seconds apart, and the switch itself."""


def verify_desktop(runner: HostRunner, current: Plan) -> None:
    runs = current.desktop_verify
    runner.emit(
        "verify",
        "running "
        + ", ".join(
            f"{c.image} on the {c.os} engine" + (f" ({c.isolation} isolation)" if c.isolation else "") for c in runs
        ),
    )
    timeout = sum(c.timeout for c in runs) + SWITCH_SECONDS * len(runs) + 60
    output = runner.run_script(
        runner.renderer.desktop_verify(current, runner.renderer.nonce), "verify", timeout=timeout
    )
    engines: list[dict[str, Any]] = []
    failure = ""
    for choice in runs:
        record = runner.record(output, f"verify/{choice.os}", "verify")
        data = record.data if isinstance(record.data, dict) else {}
        engines.append(
            {
                "os": choice.os,
                "image": choice.image,
                "isolation": choice.isolation or "linux",
                "ok": record.ok,
                "message": record.message,
                "output": data.get("output", ""),
                "switched": bool(data.get("switched")),
            }
        )
        if not record.ok and not failure:
            failure = f"{choice.os} engine: {record.message}"
    last = engines[-1]
    runner.result.verify = {
        "image": last["image"],
        "isolation": last["isolation"],
        "ok": not failure,
        "message": failure,
        "engines": engines,
    }
    if failure:
        raise HostFailure("failed", f"verify: {failure}")
