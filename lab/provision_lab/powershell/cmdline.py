"""Windows command lines: how Windows PowerShell 5.1 builds one for a native program, and how a C runtime
(CommandLineToArgvW) splits it again.

5.1's NativeCommandParameterBinder joins the arguments with spaces and wraps an argument in double quotes
only when it contains a space or tab and is not already quoted; embedded double quotes are passed as they
are, and an empty string argument is dropped (about_Parsing, "Passing arguments that contain quote
characters", which describes the Windows PowerShell behaviour PowerShell 7.3 changed). The lab rebuilds the
command line this way and splits it back, so a script's quoting mistakes reach the program as on Windows.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["native_command_line", "split_command_line", "split_windows_args"]


def native_command_line(args: Sequence[str]) -> str:
    """The argument part of the command line 5.1 gives a native program."""
    parts = []
    for arg in args:
        if arg == "":
            continue
        if any(c in arg for c in " \t") and not (len(arg) > 1 and arg.startswith('"') and arg.endswith('"')):
            parts.append(f'"{arg}"')
        else:
            parts.append(arg)
    return " ".join(parts)


def split_windows_args(line: str) -> list[str]:
    """Split a command line as CommandLineToArgvW does (quotes group, backslashes escape quotes), with the
    post-2008 C runtime's rule that ``""`` inside quotes is a literal quote."""
    return _split(line, doubled_quote_is_literal=True)


def split_command_line(line: str) -> list[str]:
    """Split a command line as CommandLineToArgvW does (quotes group, backslashes escape quotes), where
    ``""`` inside quotes closes and reopens the quotes: how the endpoints read cmd.exe's command line and
    the machine reads a service's ImagePath."""
    return _split(line, doubled_quote_is_literal=False)


def _split(line: str, *, doubled_quote_is_literal: bool) -> list[str]:
    args: list[str] = []
    current: list[str] = []
    in_quotes = started = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            j = i
            while j < len(line) and line[j] == "\\":
                j += 1
            if j < len(line) and line[j] == '"':
                current.append("\\" * ((j - i) // 2))
                if (j - i) % 2:
                    current.append('"')
                    j += 1
            else:
                current.append("\\" * (j - i))
            started, i = True, j
            continue
        if char == '"':
            if doubled_quote_is_literal and in_quotes and i + 1 < len(line) and line[i + 1] == '"':
                current.append('"')  # "" inside quotes is a literal quote (post-2008 CRT rule)
                i += 2
                continue
            in_quotes, started = not in_quotes, True
        elif char in " \t" and not in_quotes:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(char)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args
