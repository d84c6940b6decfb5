"""Output files named on the command line (``--report``, ``--junit``, ``--events``).

Each is checked before any host is touched, so a path that cannot be written is a usage error
with nothing run, not a traceback after the fleet was changed (security review F8). Whole-file
outputs are then written atomically (a staging file in the same directory, then ``os.replace``),
and the staging file is removed whatever goes wrong, so no ``*.tmp`` is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path

__all__ = ["OutputError", "check_output", "write_atomic"]

_staging_names = threading.Lock()


class OutputError(Exception):
    """An output file cannot be written: ``--report PATH: cannot write: reason``."""

    def __init__(self, option: str, path: Path, reason: str) -> None:
        self.option, self.path, self.reason = option, path, reason
        super().__init__(f"{option} {path}: cannot write: {reason}")

    @classmethod
    def of(cls, option: str, path: Path, exc: OSError) -> OutputError:
        return cls(option, path, exc.strerror or str(exc))


def _staging(path: Path) -> tuple[int, Path]:
    """A new file beside ``path``, created exclusively with the umask's mode (as ``open`` would)."""
    with _staging_names:
        for attempt in range(100):
            staging = path.with_name(f".{path.name}.{os.getpid()}.{attempt}.tmp")
            try:
                return os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), staging
            except FileExistsError:
                continue  # left by a process that was killed: never overwrite what is not ours
    raise FileExistsError(errno.EEXIST, "too many stale staging files", str(path))


def check_output(option: str, path: Path) -> None:
    """Create ``path``'s directory if needed and prove a file can be created there; ``OutputError`` if not.

    The probe is removed at once: nothing waits in the directory for the whole run.
    """
    if path.is_dir():
        raise OutputError(option, path, os.strerror(errno.EISDIR))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # mkdir's word for "a file is where a directory must be"
        raise OutputError(option, path, os.strerror(errno.ENOTDIR)) from None
    except OSError as exc:
        raise OutputError.of(option, path, exc) from None
    try:
        fd, probe = _staging(path)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise OutputError.of(option, path, exc) from None


def write_atomic(option: str, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all; ``OutputError`` says why not.

    An interrupted or failed write never leaves half a file, nor the staging file.
    """
    try:
        fd, staging = _staging(path)
    except OSError as exc:
        raise OutputError.of(option, path, exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(staging, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # already gone
            staging.unlink()
        if isinstance(exc, OSError):
            raise OutputError.of(option, path, exc) from None
        raise
