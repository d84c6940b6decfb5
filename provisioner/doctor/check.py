"""One host's steps in the order of its connection, stopping at the first that fails."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from provisioner.doctor import fixes
from provisioner.doctor.readings import ReadingSteps
from provisioner.doctor.results import SSH_STEPS, WINRM_STEPS, Step, Stop

__all__ = ["HostCheck"]


class HostCheck(ReadingSteps):
    """One host's steps in the order of its connection, stopping at the first that fails."""

    def run(self) -> Iterator[Step]:
        """Run the steps in order, yielding each result; stop after the first failure."""
        winrm = self.settings.connection == "winrm"
        steps: list[tuple[str, Callable[[], str]]] = [("resolve", self.resolve), ("tcp", self.tcp)]
        if winrm:
            if self.settings.scheme == "https":
                steps.append(("tls", self.tls))
        else:
            steps.append(("hostkey", self.hostkey))
        steps += [
            ("auth", self.auth),
            ("roundtrip", self.roundtrip),
            ("powershell", self.powershell),
            ("admin", self.admin),
        ]
        if winrm:
            steps.append(("limits", self.limits))
        try:
            for name, check in steps:
                try:
                    text = check()
                except Stop as stop:
                    yield stop.step
                    return
                except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
                    yield Step(
                        name,
                        False,
                        f"unexpected {type(exc).__name__}: {exc}",
                        fixes.BUG,
                    )
                    return
                yield Step(name, True, text)
        finally:
            if self.connection is not None:
                with contextlib.suppress(Exception):
                    self.connection.close()

    def expected(self) -> tuple[str, ...]:
        if self.settings.connection == "ssh":
            return SSH_STEPS
        return WINRM_STEPS if self.settings.scheme == "https" else tuple(s for s in WINRM_STEPS if s != "tls")
