"""What provision needs from a host's WinRM service: the limits the ``limits`` step checks."""

from __future__ import annotations

import math

from provisioner.transport.winrm import CHUNK_BYTES

__all__ = ["REQUIRED_ENVELOPE_KB", "REQUIRED_MEMORY_PER_SHELL_MB", "REQUIRED_SHELLS_PER_USER"]

_SEND_OVERHEAD = 4096
"""Bytes of a WinRS Send envelope around its base64 stdin: SOAP header, selectors, stream
element (pywinrm 0.5.0's Send measures 1,745 bytes without data; rounded up for margin)."""
REQUIRED_ENVELOPE_KB = math.ceil((4 * math.ceil(CHUNK_BYTES / 3) + _SEND_OVERHEAD) / 1024)
"""MaxEnvelopeSizekb a run needs: the transport sends up to CHUNK_BYTES of script per Send,
base64-encoded (4/3), and Windows answers a larger envelope with HTTP 413 (WP 3.3)."""
REQUIRED_MEMORY_PER_SHELL_MB = 1024
"""MaxMemoryPerShellMB: the shell and every child (powershell.exe, Expand-Archive of the engine
zip, dockerd --validate, docker run) share it. 1024 is Windows' default, and Microsoft calls a
smaller value unsupported ("The behavior is unsupported if the MaxMemoryPerShellMB is set to a
value that is less than the default": learn.microsoft.com/windows/win32/winrm/quotas)."""
REQUIRED_SHELLS_PER_USER = 5
"""MaxShellsPerUser: a run holds one shell per host, and opens a new one after a reboot or a
fault while the host may still count the old one until IdleTimeout (the Windows default is 30:
learn.microsoft.com/windows/win32/winrm/quotas). Five is provision's own margin, not a Windows figure."""
