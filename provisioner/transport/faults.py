"""What both WinRM clients share without importing either: limits, and faults as one line.

Kept apart from ``winrm.py`` so the lean client (``wsman.py``) never imports pywinrm and requests
(0.3 s of a run's start-up).
"""

from __future__ import annotations

from provisioner.transport import TransportError

__all__ = ["CHUNK_BYTES", "OPERATION_TIMEOUT", "fault_error", "root_cause"]

CHUNK_BYTES = 256 * 1024
"""Script bytes per Send: base64 makes 4/3 of it, well under the 500 KiB MaxEnvelopeSize default."""

OPERATION_TIMEOUT = 20
"""Seconds a Receive may block on the host before it answers w:TimedOut (pywinrm's default)."""


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain: what actually went wrong under requests' and urllib3's wrappers."""
    seen = exc
    while seen.__cause__ is not None or (seen.__context__ is not None and not seen.__suppress_context__):
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def fault_error(host: str, reason: str, wsman_code: int | None, status: int) -> TransportError:
    """A SOAP fault as one line: quota faults apart (the engine does not retry them), a fault
    without a WSManFault code (a proxy's or a dying service's) retryable like any HTTP 5xx."""
    reason = reason.strip()
    if "quota" in reason.lower() or "maximum number" in reason.lower():
        return TransportError(host, f"WinRM quota exceeded: {reason}", kind="quota")
    return TransportError(
        host, f"WinRM fault {wsman_code}: {reason}", kind="http", retryable=status >= 500 and wsman_code is None
    )
