"""``--events FILE``: one JSON object per line, written and flushed as things happen."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from provisioner.engine.host import Event, HostResult
from provisioner.report.files import OutputError, check_output
from provisioner.report.text import SECRETS

__all__ = ["EventLog"]


class EventLog:
    """Thread-safe JSON Lines writer; each line is complete before the next starts.

    Opened before the run (``OutputError`` when it cannot be). A write that fails later (a full
    disk) must not fail the hosts whose progress it records: the log stops, keeps the first error
    in ``error``, and the command line prints it after the run.
    """

    def __init__(self, file: Path, option: str = "--events") -> None:
        check_output(option, file)
        self.option, self.file = option, file
        try:
            self._out: TextIO = file.open("w", encoding="utf-8")
        except OSError as exc:
            raise OutputError.of(option, file, exc) from None
        self._lock = threading.Lock()
        self.error: OutputError | None = None

    def write(self, kind: str, **fields: Any) -> None:
        line = SECRETS.dumps({"time": datetime.now(UTC).isoformat(), "kind": kind, **fields})
        with self._lock:
            if self._out.closed or self.error:
                return  # a host abandoned by a second interrupt or its host_timeout, still running
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except OSError as exc:
                self.error = OutputError.of(self.option, self.file, exc)

    def event(self, event: Event) -> None:
        self.write(f"host.{event.kind}", host=event.host, message=event.message, **event.data)

    def result(self, result: HostResult) -> None:
        self.write(
            "host.result",
            host=result.name,
            status=result.status,
            message=result.message,
            batch=result.batch,
            duration=round(result.duration, 3),
            reboots=result.reboots,
        )

    def close(self) -> None:
        with self._lock:
            try:
                self._out.close()
            except OSError as exc:  # the last buffered line could not be flushed
                self.error = self.error or OutputError.of(self.option, self.file, exc)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
