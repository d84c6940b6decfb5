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
import json
import re
from collections.abc import Mapping

__all__ = ["BOOTSTRAP", "LANGUAGE_EXIT", "LANGUAGE_MARKER", "POWERSHELL_COMMAND", "language_refusal", "stdin_for"]

LANGUAGE_MARKER = "@@provision-language "
"""What the bootstrap prints, with the language mode after it, when that mode is not FullLanguage."""
LANGUAGE_EXIT = 3
"""Its exit code then."""

BOOTSTRAP = (
    # Constrained Language Mode first (windows-audit.md F4): under it the New-Object below dies before any
    # record. $ExecutionContext.SessionState.LanguageMode is the documented reading (about_Language_Modes)
    # and works in every mode; a string and exit are all the branch uses.
    "if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { "
    f"'{LANGUAGE_MARKER}' + $ExecutionContext.SessionState.LanguageMode; exit {LANGUAGE_EXIT} }}; "
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), (New-Object System.Text.UTF8Encoding $false); "
    "$global:ProvisionSecrets = $stdin.ReadLine(); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
"""Stops at once in a language mode the scripts cannot run in; else reads stdin as UTF-8 (whatever the
console code page): the secrets line, then the script, which it runs."""

POWERSHELL_COMMAND = (
    "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    + base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
)
"""The one command line every script runs under, over WinRM and SSH alike."""


def stdin_for(script: str, secrets: Mapping[str, str] | None = None) -> bytes:
    """What a script's process reads on stdin: one line of secrets (base64 of their UTF-8 JSON, empty
    when there are none), then the script, as UTF-8. Secrets (a download proxy's credentials,
    windows-audit.md F13) so never enter a script's text, a template or a command line."""
    line = base64.b64encode(json.dumps(dict(secrets), separators=(",", ":")).encode()).decode() if secrets else ""
    return (line + "\n" + script).encode("utf-8")


def language_refusal(exit_code: int, stdout: str) -> str | None:
    """The one-line reason when the bootstrap found a language mode other than FullLanguage, else None.

    ConstrainedLanguage is what powershell.exe runs in when a WDAC policy, or AppLocker in enforce mode,
    locks the system down (about_Language_Modes; windows-audit.md F4 [src: ConsoleHost]); it allows core
    types only, no method calls on others, so no provision script can run. Signed scripts would run in
    FullLanguage, but provision's arrive on stdin, rendered per plan, and cannot be signed.
    """
    if exit_code != LANGUAGE_EXIT:
        return None
    line = next((line for line in stdout.splitlines() if line.startswith(LANGUAGE_MARKER)), None)
    if line is None:
        return None
    mode = re.sub(r"[^A-Za-z]", "", line[len(LANGUAGE_MARKER) :])[:40]  # host text: letters only
    return (
        f"the host runs PowerShell in {mode} mode, as an enforced WDAC (App Control for Business) or AppLocker "
        "policy makes it, and no provision script can run there: provision needs FullLanguage for powershell.exe "
        "started by this account over WinRM or SSH (its scripts are rendered per host and cannot be signed); "
        "exempt the host or the account from the policy"
    )
