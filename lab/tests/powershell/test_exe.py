"""powershell.exe as Windows has it (issue 10 item 2): its command line, stdin, exit codes and stderr.

Sources: about_PowerShell_exe (reference/5.1) for the parameters and exit codes; research/winrm-protocol.md WP 5
for the CLIXML stderr that pywinrm's run_ps decodes.
"""

from __future__ import annotations

import base64

from provision_lab.powershell import run_powershell_exe

from .stub import FakeProgram, StubHost

BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), "
    "(New-Object System.Text.UTF8Encoding $false); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)


def _encoded(script: str) -> str:
    return "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
        script.encode("utf-16-le")
    ).decode("ascii")


def test_encoded_command_runs_utf16_base64_text() -> None:
    result = run_powershell_exe(_encoded("Write-Output 'hi'; 'é'"), None, StubHost())
    assert (result.stdout, result.stderr, result.exit_code) == ("hi\r\né\r\n", "", 0)


def test_bootstrap_reads_the_script_from_stdin() -> None:
    result = run_powershell_exe(_encoded(BOOTSTRAP), "[Console]::Out.WriteLine('from stdin'); exit 7", StubHost())
    assert result.stdout == "from stdin\r\n"
    assert result.exit_code == 7


def test_command_dash_reads_stdin_and_abbreviations_work() -> None:
    result = run_powershell_exe("PowerShell -NoP -NonI -ExecutionPolicy Bypass -C -", "'a' + 'b'", StubHost())
    assert result.stdout == "ab\r\n"
    assert result.exit_code == 0


def test_uncaught_throw_exits_1_with_clixml_after_an_encoded_command() -> None:
    result = run_powershell_exe(_encoded("throw 'boom'"), None, StubHost())
    assert result.exit_code == 1
    assert result.stderr.startswith('#< CLIXML\r\n<Objs Version="1.1.0.1"')
    assert '<S S="Error">boom_x000D__x000A_</S>' in result.stderr
    assert "FullyQualifiedErrorId : boom" in result.stderr


def test_uncaught_error_is_text_with_command() -> None:
    result = run_powershell_exe("powershell.exe -Command throw 'boom'", None, StubHost())
    assert result.exit_code == 1
    assert result.stderr.startswith("boom\r\nAt line:1 char:1\r\n+ throw 'boom'\r\n+ ~~~~~~~~~~~~")
    assert "    + CategoryInfo          : OperationStopped: (boom:String) [], RuntimeException" in result.stderr


def test_exit_code_follows_the_last_statement() -> None:
    host = StubHost()
    assert run_powershell_exe("powershell -Command Write-Error x", None, host).exit_code == 1
    assert run_powershell_exe("powershell -Command Write-Error x; 'ok'", None, host).exit_code == 0
    assert run_powershell_exe("powershell -Command exit -1", None, host).exit_code == -1


def test_parse_error_runs_nothing() -> None:
    result = run_powershell_exe(
        "powershell -Command -", "[Console]::Out.WriteLine('ran')\nif ($true) { 'x'", StubHost()
    )
    assert result.stdout == ""
    assert result.exit_code == 1
    assert "Missing closing '}' in statement block or type definition." in result.stderr
    assert "FullyQualifiedErrorId : MissingEndCurlyBrace" in result.stderr


def test_parse_error_inside_the_bootstrap_is_a_method_invocation_error() -> None:
    result = run_powershell_exe(_encoded(BOOTSTRAP), "'unterminated", StubHost())
    assert result.exit_code == 1
    text = result.stderr.replace("_x000D__x000A_", "\n")
    assert 'Exception calling "Create" with "1" argument(s): "At line:1 char:1' in text
    assert "The string is missing the terminator: '." in text
    assert "MethodInvocationException" in text
    assert "FullyQualifiedErrorId : ParseException" in text


def test_bad_encoded_command_and_file_are_refused() -> None:
    bad = run_powershell_exe("powershell.exe -EncodedCommand !!!", None, StubHost())
    assert bad.exit_code == -196608
    assert "must be Base64 encoded" in bad.stderr
    missing = run_powershell_exe("powershell.exe -File C:\\nope.ps1", None, StubHost())
    assert missing.exit_code == -196608
    assert "The argument 'C:\\nope.ps1' to the -File parameter does not exist." in missing.stderr


def test_other_programs_are_not_powershell() -> None:
    result = run_powershell_exe("pwsh -Command 1", None, StubHost())
    assert result.exit_code == 1
    assert "'pwsh' is not recognized as an internal or external command" in result.stderr


def test_warnings_are_clixml_records_after_an_encoded_command() -> None:
    result = run_powershell_exe(_encoded("Write-Warning 'careful'; 'out'"), None, StubHost())
    assert result.stdout == "out\r\n"
    assert '<S S="warning">WARNING: careful_x000D__x000A_</S>' in result.stderr


ANSIBLE_BOOTSTRAP = """&chcp.com 65001 > $null
$exec_wrapper_str = $input | Out-String
$split_parts = $exec_wrapper_str.Split(@("`0`0`0`0"), 2, [StringSplitOptions]::RemoveEmptyEntries)
If (-not $split_parts.Length -eq 2) { throw "invalid payload" }
Set-Variable -Name json_raw -Value $split_parts[1]
$exec_wrapper = [ScriptBlock]::Create($split_parts[0])
&$exec_wrapper"""
"""The shape of Ansible's bootstrap_wrapper.ps1 (ansible/ansible lib/ansible/executor/powershell): the payload
arrives on stdin and is read through ``$input``."""


def test_an_ansible_style_bootstrap_reads_input_and_runs_the_payload() -> None:
    chcp = FakeProgram("C:\\Windows\\System32\\chcp.com", stdout="Active code page: 65001\r\n")
    host = StubHost(programs={"chcp.com": chcp})
    payload = 'Write-Output "module args: $json_raw"\n\0\0\0\0{"data": "pong"}\n'
    result = run_powershell_exe(
        "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
        + base64.b64encode(ANSIBLE_BOOTSTRAP.encode("utf-16-le")).decode(),
        payload,
        host,
    )
    assert result.stdout.split("\r\n")[0] == 'module args: {"data": "pong"}'
    assert chcp.calls[0][0] == ["C:\\Windows\\System32\\chcp.com", "65001"]
    assert result.exit_code == 0


def test_string_split_overloads_of_dotnet_framework() -> None:
    result = run_powershell_exe(
        "powershell -Command \"'a--b'.Split('--').Count; 'a,b,,c'.Split(',', [StringSplitOptions]::RemoveEmptyEntries)"
        ".Count; 'a b c'.Split(' ', 2)[1]\"",
        None,
        StubHost(),
    )
    assert result.stdout == "3\r\n3\r\nb c\r\n"


def test_file_reads_the_script_from_the_machine_and_binds_its_arguments() -> None:
    from provision_lab.powershell.api import NetException, TypeSpec

    files = {"c:\\s\\greet.ps1": "param([string] $Name, [int] $Times = 1)\n\"hi $Name\" * $Times\nWrite-Error 'last'"}

    def read_all_text(host: object, args: object) -> str:
        path = str(args[0]).lower()  # type: ignore[index]
        if path not in files:
            raise NetException("System.IO.FileNotFoundException", f"Could not find file '{args[0]}'.")  # type: ignore[index]
        return files[path]

    host = StubHost(extra_types=[TypeSpec("System.IO.File", static_methods={"ReadAllText": read_all_text})])
    result = run_powershell_exe("powershell.exe -NoProfile -File C:\\s\\greet.ps1 -Name bob 2", None, host)
    assert result.stdout == "hi bobhi bob\r\n"
    assert result.exit_code == 0  # -File: a failed last statement is not the exit code, unlike -Command
    missing = run_powershell_exe("powershell.exe -File C:\\s\\nope.ps1", None, host)
    assert missing.exit_code == -196608 and "does not exist" in missing.stderr


def test_a_command_line_naming_another_program_runs_it() -> None:
    """WinRS runs `hostname` as it is: the machine's program answers, with the whole argv."""
    hostname = FakeProgram("C:\\Windows\\System32\\hostname.exe", stdout="LAB1\r\n")
    result = run_powershell_exe("hostname", None, StubHost(programs={"hostname.exe": hostname}))
    assert (result.stdout, result.exit_code) == ("LAB1\r\n", 0)
    assert hostname.calls == [(["hostname"], None)]
