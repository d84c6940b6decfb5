"""The interpreter's error model, native programs, language modes and the host contract (issue 10 items 3, 5).

Texts are Windows PowerShell 5.1's (about_Try_Catch_Finally, about_Preference_Variables, about_CommonParameters,
about_Redirection, about_Language_Modes, about_Parsing); each test names the behaviour it pins.
"""

from __future__ import annotations

import glob
import pathlib
import re
from collections.abc import Mapping
from typing import Any

import pytest

from provision_lab.powershell import run_script
from provision_lab.powershell.api import CommandContext, CommandSpec, ErrorRecord, NetException, Parameter

from .stub import FakeProgram, StubHost

REPO = pathlib.Path(__file__).resolve().parents[3]


def run(script: str, host: StubHost | None = None) -> tuple[list[str], str, int]:
    result = run_script(script, host or StubHost())
    return result.stdout.replace("\r\n", "\n").split("\n")[:-1], result.stderr.replace("\r\n", "\n"), result.exit_code


# -- nothing unmodelled succeeds (item 5) -------------------------------------------------------


def test_unknown_command_fails_as_powershell_does() -> None:
    out, err, code = run(
        "try { Get-Nothing } catch { $_.Exception.GetType().FullName; $_.CategoryInfo.Category.ToString() }"
    )
    assert out == ["System.Management.Automation.CommandNotFoundException", "ObjectNotFound"]
    _, err, code = run("Get-Nothing")
    assert err.startswith(
        "Get-Nothing : The term 'Get-Nothing' is not recognized as the name of a cmdlet, function, "
        "script file, or operable program."
    )
    assert code == 1


def test_unknown_parameter_method_and_type() -> None:
    out, _, _ = run(
        "try { Write-Output -Bogus 1 } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }\n"
        "try { 'x'.Bogus() } catch { $_.Exception.Message }\n"
        "try { [Bogus.Type]::X } catch { $_.Exception.Message }\n"
        "try { $null.Foo() } catch { $_.Exception.Message }"
    )
    assert out == [
        "A parameter cannot be found that matches parameter name 'Bogus'.",
        "NamedParameterNotFound,Microsoft.PowerShell.Commands.WriteOutputCommand",
        "Method invocation failed because [System.String] does not contain a method named 'Bogus'.",
        "Unable to find type [Bogus.Type].",
        "You cannot call a method on a null-valued expression.",
    ]


def test_unimplemented_construct_names_itself() -> None:
    _, err, code = run("class A { }")
    assert "does not implement class definitions" in err
    assert code == 1


def test_ps7_syntax_is_a_parse_error() -> None:
    for script in ("$a ?? 1", "a && b", "$x = $true ? 1 : 2"):
        out, err, code = run("'ran'\n" + script)
        assert out == [] and code == 1 and "ParserError" in err, script


# -- errors and preferences --------------------------------------------------------------------


def test_statement_terminating_error_continues_without_try() -> None:
    out, err, code = run("function F { [int]::Parse('x'); 'after' }\nF\n'next'")
    assert out == ["after", "next"]
    assert 'Exception calling "Parse" with "1" argument(s): "Input string was not in a correct format."' in err


def test_stop_makes_errors_terminating_and_catch_sees_the_original_record() -> None:
    host = StubHost(extra_commands=[_failing_cmdlet()])
    out, _, _ = run(
        "try { Get-Thing -ErrorAction Stop; 'not here' } catch { $_.FullyQualifiedErrorId; $_.Exception.Message;"
        " $_.Exception.GetType().FullName; $_.CategoryInfo.Category.ToString() }\n"
        "Get-Thing -ErrorAction SilentlyContinue; 'continued'; $Error.Count",
        host,
    )
    assert out == [
        "NoThing,Test.GetThingCommand",
        "There is no thing.",
        "System.Management.Automation.ItemNotFoundException",
        "ObjectNotFound",
        "continued",
        "2",
    ]


def test_error_action_preference_stop_ends_the_script() -> None:
    host = StubHost(extra_commands=[_failing_cmdlet()])
    out, err, code = run("$ErrorActionPreference = 'Stop'\nGet-Thing\n'never'", host)
    assert out == [] and code == 1
    assert err.startswith("Get-Thing : There is no thing.")


def _failing_cmdlet() -> CommandSpec:
    def body(ctx: CommandContext, params: Mapping[str, Any]) -> None:
        ctx.write_error(
            ErrorRecord(
                NetException("System.Management.Automation.ItemNotFoundException", "There is no thing."),
                "NoThing",
                "ObjectNotFound",
                "thing",
            )
        )

    return CommandSpec("Get-Thing", body, (Parameter("Name", "string", position=0),), type_name="Test.GetThingCommand")


def test_cmdlet_binding_by_prefix_position_and_pipeline() -> None:
    seen: list[dict[str, Any]] = []

    def body(ctx: CommandContext, params: Mapping[str, Any]) -> list[Any]:
        seen.append(dict(params))
        return [params.get("Name")]

    spec = CommandSpec(
        "Get-Echo",
        body,
        (
            Parameter("Name", "string", position=0, from_pipeline=True),
            Parameter("Count", "int"),
            Parameter("Force", "switch"),
        ),
        type_name="Test.GetEchoCommand",
    )
    out, _, _ = run("Get-Echo -Na a -Co '3' -Force\nGet-Echo b\n'c', 'd' | Get-Echo", StubHost(extra_commands=[spec]))
    assert out == ["a", "b", "c", "d"]
    assert seen[0] == {"Name": "a", "Count": 3, "Force": True}
    assert "Force" not in seen[1]


def test_bool_parameter_refuses_a_string() -> None:
    out, _, _ = run(
        "function F {\n  param([bool] $Ok)\n  $Ok\n}\ntry { F -Ok 'yes' } catch { $_.FullyQualifiedErrorId }\nF -Ok 0"
    )
    assert out == ["ParameterArgumentTransformationError,F", "False"]


def test_mandatory_parameter_missing() -> None:
    out, _, _ = run(
        "function F {\n  param([Parameter(Mandatory)] $Id)\n  $Id\n}\ntry { F } catch { $_.Exception.Message }"
    )
    assert out == ["Cannot process command because of one or more missing mandatory parameters: Id."]


# -- native programs (about_Parsing, about_Redirection) -----------------------------------------


def test_native_arguments_lines_and_exit_code() -> None:
    tool = FakeProgram("C:\\tools\\tool.exe", exit_code=3, stdout="one\r\ntwo\r\n")
    host = StubHost(programs={"tool.exe": tool})
    out, _, code = run("$r = tool --flag 'a b' '' 'x\"y'\n$r.Count\n$LASTEXITCODE\n$?", host)
    assert tool.calls[0][0] == [
        "C:\\tools\\tool.exe",
        "--flag",
        "a b",
        "xy",
    ]  # '' is dropped and the bare quote is not escaped (5.1)
    assert out == ["2", "3", "True"]


def test_redirected_stderr_terminates_under_stop_and_not_under_continue() -> None:
    tool = FakeProgram("C:\\tools\\tool.exe", stdout="Docker version 27.3.1, build x\n", stderr="warning: noise\n")
    host = StubHost(programs={"tool.exe": tool})
    out, _, _ = run(
        "$ErrorActionPreference = 'Stop'\n"
        "try { tool 2> $null; 'not here' } catch { $_.FullyQualifiedErrorId; $_.Exception.Message }\n"
        "$v = (& { $ErrorActionPreference = 'Continue'; & tool 2> $null }) | Out-String\n"
        "if ($v -match 'version (\\d+\\.\\d+\\.\\d+)') { $Matches[1] }",
        host,
    )
    # stdout written before the stderr line still reaches the output; the stderr line then terminates.
    assert out == ["Docker version 27.3.1, build x", "NativeCommandError", "warning: noise", "27.3.1"]


def test_merged_stderr_becomes_records_in_the_output() -> None:
    tool = FakeProgram("C:\\tools\\tool.exe", stdout="out\n", stderr="err\n")
    out, _, _ = run("tool 2>&1 | ForEach-Object { $_.GetType().Name }", StubHost(programs={"tool.exe": tool}))
    assert out == ["String", "ErrorRecord"]


def test_unredirected_stderr_passes_through() -> None:
    tool = FakeProgram("C:\\tools\\tool.exe", stderr="raw text\n")
    _, err, code = run("$ErrorActionPreference = 'Stop'; tool; 'after'", StubHost(programs={"tool.exe": tool}))
    assert err == "raw text\n" and code == 0


# -- strict mode, language mode, automatic variables --------------------------------------------


def test_strict_mode_3() -> None:
    out, _, _ = run(
        "Set-StrictMode -Version 3\n$h = @{ a = 1 }\n$null -eq $h['missing']\n"
        "try { $o = [pscustomobject]@{ a = 1 }; $o.b } catch { $_.FullyQualifiedErrorId }\n"
        "try { @(1)[5] } catch { $_.Exception.Message }"
    )
    assert out == ["True", "PropertyNotFoundStrict", "Index was outside the bounds of the array."]


def test_without_strict_mode_missing_things_are_null() -> None:
    out, _, _ = run("$null -eq $undefined\n$null -eq (1).Nope\n$null -eq @(1)[5]")
    assert out == ["True", "True", "True"]


def test_constrained_language_mode() -> None:
    host = StubHost(language_mode="ConstrainedLanguage")
    out, _, _ = run(
        "$ExecutionContext.SessionState.LanguageMode\n'abc'.ToUpper()\ntry { [math]::Round(1.5) } catch { $_.FullyQualifiedErrorId }\n"
        "try { Add-Type -TypeDefinition 'x' } catch { $_.Exception.Message }\n"
        "try { New-Object System.IO.StreamReader x } catch { $_.Exception.Message }",
        host,
    )
    assert out == [
        "ConstrainedLanguage",
        "ABC",
        "MethodInvocationNotSupportedInConstrainedLanguage",
        "Cannot add type. Definition of new types is not supported in this language mode.",
        "Cannot create type. Only core types are supported in this language mode.",
    ]


def test_the_controller_bootstrap_dies_under_constrained_language() -> None:
    """windows-audit.md F4: under WDAC/AppLocker the bootstrap dies before the script runs. Its first act is
    New-Object's argument [Console]::OpenStandardInput(), a method of a type about_Language_Modes does not allow."""
    from .test_exe import BOOTSTRAP

    result = run_script(BOOTSTRAP, StubHost(language_mode="ConstrainedLanguage"), stdin="'never runs'")
    assert result.exit_code == 1 and result.stdout == ""
    assert "Method invocation is supported only on core types in this language mode." in result.stderr


def test_elevation_is_checked_before_the_cmdlet_runs() -> None:
    ran: list[bool] = []
    refusal = ErrorRecord(
        NetException("System.Runtime.InteropServices.COMException", "The requested operation requires elevation."),
        "Elevation",
        "NotSpecified",
    )
    spec = CommandSpec(
        "Get-Admin",
        lambda ctx, p: ran.append(True),
        requires_elevation=True,
        elevation_error=refusal,
        type_name="Test.GetAdminCommand",
    )
    out, _, _ = run(
        "try { Get-Admin } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }",
        StubHost(elevated=False, extra_commands=[spec]),
    )
    assert out == ["The requested operation requires elevation.", "Elevation,Test.GetAdminCommand"]
    assert ran == [] and refusal.command_name is None


def test_environment_and_sleep_go_through_the_host() -> None:
    host = StubHost()
    out, _, _ = run("$env:Path\n$env:NEW = 'v'\nStart-Sleep -Seconds 30\n(Get-Date).Minute", host)
    assert out == ["C:\\Windows\\system32", "24"]
    assert host.env["NEW"] == "v" and host.slept == 30


def test_convertto_json_depth_truncates_and_enums_are_numbers() -> None:
    out, _, _ = run(
        "$v = @{ a = @{ b = @{ c = @{ d = 1 } } } } | ConvertTo-Json -Compress\n$v\n"
        "ConvertTo-Json -InputObject ([ordered]@{ d = [System.DayOfWeek]::Monday; s = '<&>' }) -Compress"
    )
    assert out == ['{"a":{"b":{"c":"System.Collections.Hashtable"}}}', '{"d":1,"s":"\\u003c\\u0026\\u003e"}']


# -- the product's scripts (item 7a's last paragraph) -------------------------------------------

GOLDEN = sorted(glob.glob(str(REPO / "tests" / "fixtures" / "golden" / "*" / "*.ps1")))
_NOT_RECOGNIZED = re.compile(r"The term \\u0027(.+?)\\u0027 is not recognized")


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: "/".join(pathlib.Path(p).parts[-2:]))
def test_golden_script_needs_only_machine_cmdlets(path: str) -> None:
    """Every golden script parses and, with no machine behind it, fails only where a machine cmdlet or
    program is missing: every block's error is "not recognized"."""
    script = pathlib.Path(path).read_text(encoding="utf-8")
    result = run_script(script, StubHost())
    assert result.stderr == ""
    records = [line for line in result.stdout.split("\r\n") if line.startswith("@@provision ")]
    assert records, path
    for record in records:
        if '"ok":false' in record and '"skipped"' not in record:
            assert _NOT_RECOGNIZED.search(record), record


def test_golden_scripts_exist() -> None:
    assert len(GOLDEN) >= 20


def test_a_method_called_with_no_matching_overload() -> None:
    out, _, _ = run("try { 'abc'.Substring() } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }")
    assert out == [
        'Cannot find an overload for "Substring" and the argument count: "0".',
        "MethodCountCouldNotFindBest",
    ]


def test_unbounded_recursion_is_an_error_not_a_crash() -> None:
    _, err, code = run("function f { f }\nf")
    assert code == 1 and "call depth overflow" in err


def test_consecutive_objects_share_one_table() -> None:
    """about_Format.ps1xml: objects without a view show as a table when they have fewer than five properties."""
    out, _, _ = run(
        "[pscustomobject]@{ Name = 'a'; Size = 1 }\n[pscustomobject]@{ Name = 'bb'; Size = 22 }\n"
        "Write-Host 'between'\n[pscustomobject]@{ Other = 1 }"
    )
    assert out == [
        "",
        "Name Size",
        "---- ----",
        "a       1",
        "bb     22",
        "",
        "between",
        "",
        "Other",
        "-----",
        "    1",
        "",
    ]


def test_trap_statements() -> None:
    """about_Trap: the trap runs for a terminating error anywhere in its scope; without `continue` the error
    is still shown and the next statement runs; `continue` hides it; `break` ends the scope with it."""
    out, err, code = run("trap { 'trapped: ' + $_.Exception.Message }\nthrow 'one'\n'next'")
    assert out == ["trapped: one", "next"] and "one" in err and code == 0
    out, err, _ = run(
        "function F {\n  trap [System.DivideByZeroException] { 'div'; continue }\n  1 / $zero\n  'after'\n}\n"
        "$zero = 0\nF"
    )
    assert out == ["div", "after"] and err == ""
    out, err, code = run("trap { 'in trap'; break }\nthrow 'fatal'\n'never'")
    assert out == ["in trap"] and code == 1 and "fatal" in err


def test_write_error_inside_a_function_is_the_functions_error() -> None:
    _, err, _ = run("function F {\n  Write-Error 'boom'\n}\nF")
    assert err.startswith("F : boom\nAt line:4 char:1\n+ F\n+ ~\n")
    assert "FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException,F" in err
    out, err, _ = run(
        "function G {\n  [CmdletBinding()]\n  param()\n  Write-Error 'stop'\n  'not here'\n}\n"
        "try { G -ErrorAction Stop } catch { $_.FullyQualifiedErrorId }\nfunction H { Write-Error 'x' }\n"
        "try { H -ErrorAction Stop } catch { 'a simple function has no -ErrorAction' }"
    )
    assert out == ["Microsoft.PowerShell.Commands.WriteErrorException,G"]
    assert err.startswith("H : x")


def test_void_and_arraylist_add_in_a_function() -> None:
    """[void] discards; ArrayList.Add's index is output unless discarded (about_Functions' return-value note)."""
    out, _, _ = run(
        "function A { $l = New-Object System.Collections.ArrayList; [void]$l.Add('x'); $l.Count }\n"
        "function B { $l = New-Object System.Collections.ArrayList; $l.Add('x') }\n@(A).Count\n@(B)[0]"
    )
    assert out == ["1", "0"]


def test_error_and_out_variables() -> None:
    """about_CommonParameters: -ErrorVariable collects the command's errors (+name appends), -OutVariable its output."""
    host = StubHost(extra_commands=[_failing_cmdlet()])
    out, _, _ = run(
        "Get-Thing -ErrorAction SilentlyContinue -ErrorVariable problems\n$problems.Count\n"
        "$problems[0].Exception.Message\nGet-Thing -EA SilentlyContinue -EV +problems\n$problems.Count\n"
        "$null = Write-Output 7 -OutVariable seen\n$seen",
        host,
    )
    assert out == ["1", "There is no thing.", "2", "7"]


def test_datetime_strings_invariant_by_cast_and_culture_by_tostring() -> None:
    """about_Type_Conversion: [string] and "$date" use the invariant culture; ToString() the current (en-US)."""
    out, _, _ = run(
        '$d = Get-Date -Year 2026 -Month 3 -Day 4 -Hour 15 -Minute 6 -Second 7\n[string]$d\n"$d"\n$d.ToString()\n'
        "$d.ToString('o').Substring(0, 19)"
    )
    assert out == ["03/04/2026 15:06:07", "03/04/2026 15:06:07", "3/4/2026 3:06:07 PM", "2026-03-04T15:06:07"]
