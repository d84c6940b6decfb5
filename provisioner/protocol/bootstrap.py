"""The powershell.exe command line every script runs under, over WinRM and SSH alike.

Scripts travel on stdin, never on the command line: cmd.exe caps a command line at 8,191
characters, which pywinrm's ``-EncodedCommand`` reaches near 3,000 script characters
(winrm-protocol.md section 5). ``powershell.exe -Command -`` reads stdin one statement at a time
as if typed at a prompt, so multi-line blocks would need blank lines after them and a blank line
inside a string literal would end the statement (about_PowerShell_exe, PowerShell 5.1). We use
Ansible's pattern instead (ansible/ansible executor/powershell/bootstrap_wrapper.ps1): a short
fixed ``-EncodedCommand`` bootstrap reads all of stdin as UTF-8 and runs it as one script block.
"""

from __future__ import annotations

import base64

__all__ = ["BOOTSTRAP", "POWERSHELL_COMMAND"]

BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), (New-Object System.Text.UTF8Encoding $false); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
"""Reads the whole script from stdin as UTF-8 (whatever the console code page) and runs it."""

POWERSHELL_COMMAND = (
    "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    + base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
)
"""The one command line every script runs under, over WinRM and SSH alike."""
