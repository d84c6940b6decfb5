"""Which tree-sitter grammar parses Windows PowerShell 5.1 better: accepted valid and rejected broken samples.

Run: ``python lab/bench/parser_choice.py``. Measured on 2026-12-01: tree-sitter-pwsh 0.38.1 accepts 67 of 71
valid samples and rejects 25 of 27 broken ones, tree-sitter-powershell 0.26.4 66/71 and 26/27; both parse all 50 golden
scripts. The lab uses tree-sitter-pwsh: one more valid sample, and the broken samples it accepts are PowerShell 7
syntax its compiler refuses anyway (engine._PS7_ONLY) and ``try`` without ``catch``, which the compiler also refuses. Valid samples are constructs of about_* topics of
MicrosoftDocs/PowerShell-Docs reference/5.1 and the product's golden scripts; broken ones are errors
Windows PowerShell 5.1's parser reports (ParserStrings: MissingEndCurlyBrace, MissingEndParenthesisInExpression,
TerminatorExpectedAtEndOfString, ...) or PowerShell 7 syntax 5.1 lacks (``&&``, ``??``, ternary).
"""

from __future__ import annotations

import glob
import pathlib
import time

import tree_sitter
import tree_sitter_powershell
import tree_sitter_pwsh

VALID = [
    "Write-Output 'hi'",
    "$x = @{ a = 1; 'b' = 2 }; $x.a",
    "function F { param([Parameter(Mandatory)][string] $A, [switch] $S) $A }",
    "function G([int] $a = 2) { $a }",
    "filter H { $_ }",
    "function J { begin { } process { $_ } end { } }",
    "switch ($v)\n{\n  'a' { 1; break }\n  { $_ -gt 1 } { 3 }\n  default { 2 }\n}",
    "switch -Regex ($v) { 'a' { 1; break } default { 2 } }",
    "foreach ($i in 1..3) { continue }",
    "for ($i = 0; $i -lt 3; $i++) { }",
    "while ($true) { break }",
    "do { $i++ } until ($i -gt 3)",
    "do { $i++ } while ($i -lt 3)",
    ":outer foreach ($x in $y) { break outer }",
    "try { throw 'x' } catch [System.IO.IOException] { $_ } catch { } finally { }",
    "trap { continue }",
    '$x = "a `"q`" `$y `n $($z.Name) ${env:ProgramFiles(x86)}"',
    "$z = 'it''s'",
    "$w = @'\nlit\n'@",
    '$w = @"\nexp $x\n"@',
    "[int]::MaxValue; $x.Count++; $h.a.b = 3",
    "$a, $b = 1, 2",
    "'{0:N2}' -f 3.14159",
    "-not $a; !$b; ,1; @(1, 2); (1 + 2) * 3; [string[]] $x; -split 'a b'",
    "foo @params -Name:$true 2>&1 | Out-Null",
    "& $exe --version 2> $null",
    ". { $x = 1 }",
    "[Collections.Generic.List[string]]::new()",
    "$x.PSObject.Properties['a'].Value",
    "$x = 1kb + 0x10 + 1.5e2; $i += 2; ++$i",
    "$a -band 3 -bor 4; $s -replace 'a', 'b'; $s -split ','",
    "Get-Process | Where-Object { $_.CPU -gt 1 } | Sort-Object -Property CPU -Descending | Select-Object -First 3",
    "exit 3",
    "[CmdletBinding()]\nparam([string] $Name = 'x')\nWrite-Output $Name",
    "<#\n.SYNOPSIS\nhelp\n#>\nfunction F { }",
    'Get-Item -Path:$p; $a[-1]; $a[0..2]; "$($a[0])"; "${a}b"; $script:x = 1',
    "1..10 | % { $_ } | ? { $_ -gt 2 }",
    "$o.'quoted member'; $o.$name; $o.\"$name\"",
    "[Text.Encoding]::UTF8.GetBytes('x'); 1L; 1d; .5; -1; $x -is [int]",
    "Get-ChildItem `\n  -Path C:\\ |\n  Select-Object -First 1",
    "& 'C:\\Program Files\\x.exe' /a /b",
    "class A { [int] $x = 1; A() { } [string] M([int] $y) { return 'a' } }",
    "enum Color { Red; Green }",
    "$x = [ref] $y; $x.Value = 1",
    "icacls.exe C:\\x /grant 'Users:(OI)(CI)F'",
    "$h = @{\n  a = 1\n  b = @(1, 2)\n}",
    "if ($a) { 1 } elseif ($b) { 2 } else { 3 }",
    '$env:Path = "$env:Path;C:\\x"',
    "cmd /c 'echo hi' 2>&1",
    "$x = @(Get-Service | Where-Object Status -eq 'Running')",
    "Write-Host -ForegroundColor Green 'ok'",
    "$null = New-Item -ItemType Directory -Force -Path $p",
    "$(1; 2) | Out-String",
    "[void] $list.Add(1)",
    "$a = $b = 3",
    "$x = $y -as [int]",
    "function Get-X { [CmdletBinding()] param() process { } }",
    "$s -match '^(?<n>\\d+)$'; $Matches.n",
    "Invoke-Command -ScriptBlock { param($a) $a } -ArgumentList 1",
    "$x = $(if ($a) { 1 } else { 2 })",
    "$list = New-Object System.Collections.ArrayList",
    "$x = 'a' + `\n 'b'",
    "throw [System.InvalidOperationException]::new('x')",
    "$bytes = [byte[]] (1, 2)",
    "$x++; $x--; $x *= 2; $x /= 2; $x %= 2; $x -= 1",
    "'a,b' -csplit ','; 'A' -ceq 'a'; 'a' -ireplace 'A', 'b'",
    "$x = { param($a) $a }; & $x 1; $x.Invoke(1)",
    'Write-Output `"quoted`"',
    "$a = @(\n  1\n  2\n)",
    "$x = -join ('a', 'b'); $y = 'a', 'b' -join ','",
    '$x = "$(Get-Date)"',
]

BROKEN = [
    "if ($x) { 1",
    "$x = (1 + 2",
    "$s = 'abc",
    '$s = "abc',
    "function { }",
    "$x = @{ a = 1",
    "foreach ($x $y) { }",
    "if { }",
    "$x = 1 +",
    "try { }",
    "a && b",
    "$a ?? 1",
    "$a ? 1 : 2",
    "1 ||| 2",
    "$x = @'\nnever ends",
    "param(",
    "switch ($x) { 'a' }",
    "[int",
    "$x.",
    "for (;;",
    "while () { }",
    "catch { }",
    "$x = ]",
    "function F { param($a) ",
    "<# unterminated",
    "@(1, 2",
    "$x = 1 2",
]


def broken_by(parser: tree_sitter.Parser, text: str) -> bool:
    root = parser.parse(text.encode()).root_node
    if root.has_error:
        return True
    # PowerShell 7 syntax that Windows PowerShell 5.1 lacks: the lab refuses these nodes (engine.py).
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("pipeline_chain_tail", "ternary_expression", "null_coalesce_expression"):
            return True
        if node.type == "assignment_operator" and node.text == b"??=":
            return True
        stack.extend(node.children)
    return False


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    goldens = [pathlib.Path(p).read_text() for p in sorted(glob.glob(str(root / "tests/fixtures/golden/*/*.ps1")))]
    for name, module in (("tree-sitter-pwsh", tree_sitter_pwsh), ("tree-sitter-powershell", tree_sitter_powershell)):
        parser = tree_sitter.Parser(tree_sitter.Language(module.language()))
        valid = sum(not broken_by(parser, text) for text in VALID)
        broken = sum(broken_by(parser, text) for text in BROKEN)
        golden = sum(not broken_by(parser, text) for text in goldens)
        start = time.process_time()
        for text in goldens:
            parser.parse(text.encode())
        cpu = (time.process_time() - start) / max(len(goldens), 1) * 1000
        print(
            f"{name:24} valid accepted {valid}/{len(VALID)}  broken rejected {broken}/{len(BROKEN)}  "
            f"golden scripts {golden}/{len(goldens)}  {cpu:.2f} ms CPU per golden parse"
        )


if __name__ == "__main__":
    main()
