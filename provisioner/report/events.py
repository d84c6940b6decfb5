"""``--events FILE``: one JSON object per line, written and flushed as things happen."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from provisioner.engine.host import Event, HostResult

__all__ = ["EventLog"]


class EventLog:
    """Thread-safe JSON Lines writer; each line is complete before the next starts."""

    def __init__(self, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        self._out: TextIO = file.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"time": datetime.now(UTC).isoformat(), "kind": kind, **fields}, default=str)
        with self._lock:
            if self._out.closed:
                return  # a host abandoned by a second interrupt or its host_timeout, still running
            self._out.write(line + "\n")
            self._out.flush()

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
            self._out.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
