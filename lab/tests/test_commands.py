"""Hosts that start command lines themselves (api.RunsCommands, the Windows machine) behind both endpoints.

The endpoints keep what comes before the program: WinRS and cmd.exe (the 8,191-character limit),
and when to start it (at once, or when stdin is complete for a process that reads it). The
command line itself and stdin reach the host unchanged, and what the program writes comes back
unchanged: powershell.exe's CLIXML is not wrapped a second time.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import paramiko
import winrm
from winrm.protocol import Protocol

from provision_lab.api import ExecResult

from .conftest import MakeLab, ScriptHost

CLIXML = '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"></Objs>'


@dataclass
class CommandHost(ScriptHost):
    """Records each command line and stdin; answers with the line, and CLIXML on stderr."""

    commands: list[tuple[str, str | None]] = field(default_factory=list)

    def run_command(self, command_line: str, stdin: str | None) -> ExecResult:
        self.commands.append((command_line, stdin))
        return ExecResult(f"ran: {command_line[:40]}\n", CLIXML, 7)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def test_run_ps_hands_the_command_line_to_the_host(make_lab: MakeLab) -> None:
    lab = make_lab(kind=CommandHost, allow_unencrypted=True)
    url = lab.server.wsman_url(lab.host.name)
    result = winrm.Session(url, auth=(lab.user, lab.password), transport="basic").run_ps("Get-Date")
    host = lab.host
    assert isinstance(host, CommandHost)
    [(line, stdin)] = host.commands
    assert line == f"powershell -encodedcommand {encoded('Get-Date')}"  # pywinrm's run_ps, as cmd.exe passes it on
    assert stdin == ""  # started at once: the script does not read stdin, and pywinrm sends none
    assert result.status_code == 7
    assert result.std_out == f"ran: {line[:40]}\r\n".encode()
    assert host.scripts == []  # nothing went through run_script


def test_a_script_that_reads_stdin_starts_when_stdin_is_complete(make_lab: MakeLab) -> None:
    lab = make_lab(kind=CommandHost, allow_unencrypted=True)
    p = Protocol(lab.server.wsman_url(lab.host.name), transport="basic", username=lab.user, password=lab.password)
    reader = (
        "$s = [Console]::OpenStandardInput(); & ([ScriptBlock]::Create((New-Object IO.StreamReader $s).ReadToEnd()))"
    )
    shell = p.open_shell()
    command = p.run_command(shell, "powershell.exe", ["-NoProfile", "-EncodedCommand", encoded(reader)])
    p.send_command_input(shell, command, b"Write-Output 'one'\r\n")
    p.send_command_input(shell, command, b"Write-Output 'two'\r\n", end=True)
    stdout, stderr, code = p.get_command_output(shell, command)
    p.cleanup_command(shell, command)
    p.close_shell(shell)
    host = lab.host
    assert isinstance(host, CommandHost)
    assert host.commands == [
        (f"powershell.exe -NoProfile -EncodedCommand {encoded(reader)}", "Write-Output 'one'\r\nWrite-Output 'two'\r\n")
    ]
    assert code == 7
    assert stderr == CLIXML.encode()  # the program's own CLIXML, not wrapped again


def test_cmd_exe_still_refuses_a_long_line_before_the_program_starts(make_lab: MakeLab) -> None:
    lab = make_lab(kind=CommandHost, allow_unencrypted=True)
    url = lab.server.wsman_url(lab.host.name)
    result = winrm.Session(url, auth=(lab.user, lab.password), transport="basic").run_ps("x" * 4000)
    assert result.status_code == 1
    assert result.std_err == b"The command line is too long.\r\n"
    host = lab.host
    assert isinstance(host, CommandHost)
    assert host.commands == []


def test_ssh_hands_the_command_line_and_stdin_to_the_host(make_lab: MakeLab) -> None:
    lab = make_lab(kind=CommandHost, allow_unencrypted=True)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(lab.host.address, 2222, lab.user, lab.password, allow_agent=False, look_for_keys=False, timeout=10)
    try:
        stdin, stdout, stderr = client.exec_command("powershell.exe -NoProfile -Command -", timeout=10)
        stdin.write(b"Write-Output 'over ssh'\r\n")
        stdin.channel.shutdown_write()
        assert stdout.channel.recv_exit_status() == 7
        assert stderr.read() == CLIXML.encode()
    finally:
        client.close()
    host = lab.host
    assert isinstance(host, CommandHost)
    assert host.commands == [("powershell.exe -NoProfile -Command -", "Write-Output 'over ssh'\r\n")]
