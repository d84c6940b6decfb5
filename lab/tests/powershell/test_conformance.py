"""Conformance of the lab's Windows PowerShell 5.1 with Microsoft's documentation (issue 10 item 7a).

Each case is a snippet and the output its page shows, from MicrosoftDocs/PowerShell-Docs
``reference/5.1/Microsoft.PowerShell.Core/About/<topic>.md`` (or the cmdlet page under
``reference/5.1/Microsoft.PowerShell.Utility``); the page is named with the case. Where a page shows the
result as a comment (``# Output: True``) the expected lines are those values. Snippets run through
powershell.exe's ``-Command`` on a host with no machine (stub.StubHost).
"""

from __future__ import annotations

import pytest

from provision_lab.powershell import run_script

from .stub import StubHost

ABOUT = "reference/5.1/Microsoft.PowerShell.Core/About/"

CASES: list[tuple[str, str, str]] = [
    # about_Split
    (ABOUT + "about_Split.md", '"Lastname:FirstName:Address" -split ":"', "Lastname\nFirstName\nAddress"),
    (ABOUT + "about_Split.md", '"Lastname:FirstName:Address" -split "(:)"', "Lastname\n:\nFirstName\n:\nAddress"),
    (
        ABOUT + "about_Split.md",
        '$c = "Mercury,Venus,Earth,Mars,Jupiter,Saturn,Uranus,Neptune"\n$c -split ",", 5',
        "Mercury\nVenus\nEarth\nMars\nJupiter,Saturn,Uranus,Neptune",
    ),
    (ABOUT + "about_Split.md", "$c = 'a,b,c','1,2,3,4,5'\n$c -split ',', 3", "a\nb\nc\n1\n2\n3,4,5"),
    (
        ABOUT + "about_Split.md",
        "'Chocolate-Vanilla-Strawberry-Blueberry' -split '(-)', 3",
        "Chocolate\n-\nVanilla\n-\nStrawberry-Blueberry",
    ),
    (
        ABOUT + "about_Split.md",
        "\"Mercury,Venus,Earth,Mars,Jupiter,Saturn,Uranus,Neptune\" -split 'er'",
        "M\ncury,Venus,Earth,Mars,Jupit\n,Saturn,Uranus,Neptune",
    ),
    (
        ABOUT + "about_Split.md",
        '-split "Windows PowerShell 2.0`nWindows PowerShell with remoting"',
        "Windows\nPowerShell\n2.0\nWindows\nPowerShell\nwith\nremoting",
    ),
    # about_Join
    (ABOUT + "about_Join.md", '-join ("Windows", "PowerShell", "2.0")', "WindowsPowerShell2.0"),
    (ABOUT + "about_Join.md", '"Windows", "PowerShell", "2.0" -join " "', "Windows PowerShell 2.0"),
    (ABOUT + "about_Join.md", '$a = "WIND", "S P", "ERSHELL"\n$a -join "OW"', "WINDOWS POWERSHELL"),
    (ABOUT + "about_Join.md", "$a = @'\na\nb\nc\n'@\n\n(-split $a) -join \" \"", "a b c"),
    # about_Arithmetic_Operators
    (ABOUT + "about_Arithmetic_Operators.md", "3+6/3*4\n3+6/(3*4)\n(3+6)/3*4", "11\n3.5\n12"),
    (ABOUT + "about_Arithmetic_Operators.md", "[int]( 5 / 2 )\n[int]( 7 / 2 )", "2\n4"),
    (
        ABOUT + "about_Arithmetic_Operators.md",
        "[int][Math]::Round(5 / 2,[MidpointRounding]::AwayFromZero)\n[int][Math]::Ceiling(5 / 2)\n"
        "[int][Math]::Floor(5 / 2)",
        "3\n3\n2",
    ),
    (
        ABOUT + "about_Arithmetic_Operators.md",
        "2 + 3.1\n(2).GetType().FullName\n(2 + 3.1).GetType().FullName",
        "5.1\nSystem.Int32\nSystem.Double",
    ),
    (
        ABOUT + "about_Arithmetic_Operators.md",
        "(512MB).GetType().FullName\n(512MB * 512MB).GetType().FullName",
        "System.Int32\nSystem.Double",
    ),
    (
        ABOUT + "about_Arithmetic_Operators.md",
        "([int32]::MinValue + [uint32]::MaxValue).GetType().FullName",
        "System.Int64",
    ),
    (ABOUT + "about_Arithmetic_Operators.md", "(9223372036854775807 + 2).GetType().FullName", "System.Double"),
    (
        ABOUT + "about_Arithmetic_Operators.md",
        "5 -band 3\n-bnot 5\n5 -bor 0x03\n5 -bxor 3\n102 -shl 2\n102 -shr 2",
        "1\n-6\n7\n6\n408\n25",
    ),
    # about_Type_Operators
    (
        ABOUT + "about_Type_Operators.md",
        "(\"5/7/07\" -as [datetime]).ToString(\"yyyy-MM-dd\")\n$null -eq ('x' -as [int])\n'12' -as [int]",
        "2007-05-07\nTrue\n12",
    ),
    # about_Comparison_Operators
    (ABOUT + "about_Comparison_Operators.md", "$a = (1, 2) -eq 3\n$a.GetType().Name\n$a.Count", "Object[]\n0"),
    (
        ABOUT + "about_Comparison_Operators.md",
        "2 -eq 2\n2 -eq 3\n'abc' -eq 'abc'\n'abc' -eq 'abc', 'def'\n'abc' -ne 'def'\n'abc' -ne 'abc'\n"
        "'abc' -ne 'abc', 'def'",
        "True\nFalse\nTrue\nFalse\nTrue\nFalse\nTrue",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "1,2,3 -eq 2\n'abc', 'def' -eq 'abc'\n'abc', 'def' -ne 'abc'",
        "2\nabc\ndef",
    ),
    (ABOUT + "about_Comparison_Operators.md", "'zzz', 'def', 'zzz' -eq 'zzz'", "zzz\nzzz"),
    (ABOUT + "about_Comparison_Operators.md", "1 -eq '1.0'\n'1.0' -eq 1", "True\nFalse"),
    (
        ABOUT + "about_Comparison_Operators.md",
        "$a = 1, 2, $null, 4, $null, 6\n$null -ne $a\n$a -ne $null",
        "True\n1\n2\n4\n6",
    ),
    (ABOUT + "about_Comparison_Operators.md", "8 -gt 6\n8 -ge 8\n6 -lt 8\n8 -le 8", "True\nTrue\nTrue\nTrue"),
    (
        ABOUT + "about_Comparison_Operators.md",
        "[datetime]'2001-11-12' -lt [datetime]'2020-08-01'\n'a' -lt 'z'\n'macOS' -ilt 'MacOS'\n'MacOS' -ilt 'macOS'",
        "True\nTrue\nFalse\nFalse",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "'PowerShell' -like '*shell'\n'PowerShell' -notlike '*shell'\n'PowerShell' -like 'Power?hell'\n"
        "'PowerShell' -like 'Power[p-w]hell'\n'PowerShell', 'Server' -like '*shell'\n"
        "'PowerShell', 'Server' -notlike '*shell'",
        "True\nFalse\nTrue\nTrue\nPowerShell\nServer",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "\"f`?`?\"\n'f`?`?'\n'for' -like 'f??'\n'f??' -like 'f`?`?'",
        "f??\nf`?`?\nTrue\nTrue",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "'PowerShell' -match 'shell'\n'PowerShell' -like  'shell'\n'PowerShell' -match '^Power\\w+'\n"
        "'bag' -notmatch 'b[iou]g'",
        "True\nFalse\nTrue\nTrue",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "'Rhell', 'Chell', 'Mel', 'Smell', 'Shell' -match 'hell'\n'Bag', 'Beg', 'Big', 'Bog', 'Bug' -notmatch 'b[iou]g'",
        "Rhell\nChell\nShell\nBag\nBeg",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "$string = 'The last logged on user was CONTOSO\\jsmith'\n"
        "$string -match 'was (?<domain>.+)\\\\(?<user>.+)'\n$Matches.domain\n$Matches.user",
        "True\nCONTOSO\njsmith",
    ),
    (ABOUT + "about_Comparison_Operators.md", "'book' -ireplace 'B', 'C'\n'book' -creplace 'B', 'C'", "Cook\nbook"),
    (
        ABOUT + "about_Comparison_Operators.md",
        "$SearchExp = '^(?<DomainName>[\\w-.]+)\\\\(?<Username>[\\w-.]+)$'\n$ReplaceExp = '${Username}@${DomainName}'\n"
        "'Contoso.local\\John.Doe' -replace $SearchExp, $ReplaceExp",
        "John.Doe@Contoso.local",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "$1 = 'Goodbye'\n'Hello World' -replace '(\\w+) \\w+', \"$1 Universe\"\n'Hello World' -replace '(\\w+) \\w+', '$1 Universe'",
        "Goodbye Universe\nHello Universe",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "'abc', 'def' -contains 'def'\n'Windows', 'PowerShell' -contains 'Shell'\n'def' -in 'abc', 'def'\n"
        "'Shell' -notin 'Windows', 'PowerShell'",
        "True\nFalse\nTrue\nTrue",
    ),
    (
        ABOUT + "about_Comparison_Operators.md",
        "$a = 1\n$a -is [int]\n$a -isnot [string]\n'a' -is [string]",
        "True\nTrue\nTrue",
    ),
    # about_Switch
    (
        ABOUT + "about_Switch.md",
        'switch (3) {\n    1 { "It\'s one." }\n    2 { "It\'s two." }\n    3 { "It\'s three." }\n    4 { "It\'s four." }\n'
        '    3 { "Three again." }\n}',
        "It's three.\nThree again.",
    ),
    (
        ABOUT + "about_Switch.md",
        'switch (1,4,-1,3,"Hello",2,1) {\n    {$_ -lt 0}           { continue }\n    {$_ -isnot [int32]}  { break }\n'
        '    {$_ % 2}             { "$_ is Odd" }\n    {-not ($_ % 2)}      { "$_ is Even" }\n}',
        "1 is Odd\n4 is Even\n3 is Odd",
    ),
    (
        ABOUT + "about_Switch.md",
        "$test = @{\n    Test  = 'test'\n    Test2 = 'test2'\n}\n$test.ToString()",
        "System.Collections.Hashtable",
    ),
    (
        ABOUT + "about_Switch.md",
        "$test = @{ Test = 'test' }\nswitch -Exact ($test) {\n    'System.Collections.Hashtable' { 'Hashtable string coercion' }\n"
        "    'test' { 'Hashtable value' }\n}",
        "Hashtable string coercion",
    ),
    # about_Try_Catch_Finally
    (
        ABOUT + "about_Try_Catch_Finally.md",
        'try { NonsenseString }\ncatch { "An error occurred." }',
        "An error occurred.",
    ),
    (
        ABOUT + "about_Try_Catch_Finally.md",
        "try { NonsenseString }\ncatch [System.Management.Automation.CommandNotFoundException] {\n    'Inherited Exception'\n}",
        "Inherited Exception",
    ),
    (
        ABOUT + "about_Try_Catch_Finally.md",
        'try { NonsenseString }\ncatch [System.SystemException] {"Base Exception" }',
        "Base Exception",
    ),
    (
        ABOUT + "about_Try_Catch_Finally.md",
        'try { NonsenseString }\ncatch {\n    Write-Host "An error occurred:"\n    Write-Host $_\n}',
        "An error occurred:\nThe term 'NonsenseString' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
    ),
    (
        ABOUT + "about_Try_Catch_Finally.md",
        "try { throw 'x' } catch { 'caught' } finally { 'finally' }",
        "caught\nfinally",
    ),
    # about_Splatting
    (
        ABOUT + "about_Splatting.md",
        "$array = 'Hello', 'World!'\nInvoke-Command -ScriptBlock {\n  param([string[]]$Words) $Words -join ' '\n"
        "  } -ArgumentList $array",
        "Hello",
    ),
    (
        ABOUT + "about_Splatting.md",
        "$array = 'Hello', 'World!'\nInvoke-Command -ScriptBlock {\n  param([string[]]$Words) $Words -join ' '\n"
        "} -ArgumentList (,$array)",
        "Hello World!",
    ),
    (
        ABOUT + "about_Splatting.md",
        'function Get-A {\n  param($Path, $Destination)\n  "$Path -> $Destination"\n}\n'
        "$HashArguments = @{ Path = 'test.txt'; Destination = 'test2.txt' }\nGet-A @HashArguments\n"
        "$ArrayArguments = 'test.txt', 'test2.txt'\nGet-A @ArrayArguments",
        "test.txt -> test2.txt\ntest.txt -> test2.txt",
    ),
    # about_Hash_Tables
    (
        ABOUT + "about_Hash_Tables.md",
        "$dictionary = [ordered]@{\n    1       = 'one'\n    2       = 'two'\n    'three' = 3\n}\n$dictionary",
        "Name                           Value\n----                           -----\n1                              one\n"
        "2                              two\nthree                          3",
    ),
    (
        ABOUT + "about_Hash_Tables.md",
        "$hash = @{ Number = 1; Shape = 'Square'; Color = 'Blue' }\n$hash.Number\n$hash['Shape']\n$hash.Count\n"
        "$hash.Add('Time', 'Now')\n$hash.Count\n$hash.Remove('Time')\n$hash.ContainsKey('time')",
        "1\nSquare\n3\n4\nFalse",
    ),
    # about_Quoting_Rules
    (
        ABOUT + "about_Quoting_Rules.md",
        "$i = 5\n\"The value of $i is $i.\"\n'The value of $i is $i.'",
        "The value of 5 is 5.\nThe value of $i is $i.",
    ),
    (ABOUT + "about_Quoting_Rules.md", '"The value of $(2+3) is 5."', "The value of 5 is 5."),
    (ABOUT + "about_Quoting_Rules.md", '$i = 5\n"The `$i variable contains $i"', "The $i variable contains 5"),
    (
        ABOUT + "about_Quoting_Rules.md",
        '\'don\'\'t\'\n"As they say, ""live and learn."""',
        'don\'t\nAs they say, "live and learn."',
    ),
    (ABOUT + "about_Quoting_Rules.md", '@"\nFor help, type "get-help"\n"@', 'For help, type "get-help"'),
    (ABOUT + "about_Special_Characters.md", 'Write-Output `"quoted`"\n"a`tb"', '"quoted"\na\tb'),
    # about_Operators / -f
    (ABOUT + "about_Operators.md", '"{0} {1,-10} {2:N}" -f 1,"hello",[math]::pi', "1 hello      3.14"),
    (ABOUT + "about_Operators.md", "1..4", "1\n2\n3\n4"),
    (ABOUT + "about_Operators.md", "$a = 'x', 'y'\n,$a | ForEach-Object { $_.Count }", "2"),
    # about_Logical_Operators
    (
        ABOUT + "about_Logical_Operators.md",
        "(1 -eq 1) -and (1 -eq 2)\n(1 -eq 1) -or (1 -eq 2)\n(1 -eq 1) -xor (2 -eq 2)\n-not (1 -eq 1)\n!(1 -eq 1)",
        "False\nTrue\nFalse\nFalse\nFalse",
    ),
    # about_Arrays
    (ABOUT + "about_Arrays.md", "$a = 0..9\n$a[0]\n$a[-1]\n$a[1..3] -join ','\n$a.Count", "0\n9\n1,2,3\n10"),
    (ABOUT + "about_Arrays.md", "$a = @()\n$a.Count\n$a += 'x'\n$a.Count", "0\n1"),
    (ABOUT + "about_Arrays.md", "$a = @(0 .. 3)\n$a.ForEach({ $_ * $_})", "0\n1\n4\n9"),
    (ABOUT + "about_Arrays.md", "(1..9).Where({ $_ % 2 }) -join ','", "1,3,5,7,9"),
    # about_Foreach / about_For / about_While / about_Do
    (
        ABOUT + "about_Foreach.md",
        '$letterArray = "a","b","c","d"\nforeach ($letter in $letterArray)\n{\n  Write-Host $letter\n}',
        "a\nb\nc\nd",
    ),
    (ABOUT + "about_For.md", "for ($i = 1; $i -le 3; $i++)\n{\n    $i\n}", "1\n2\n3"),
    (ABOUT + "about_While.md", "$val = 0\nwhile ($val -ne 3)\n{\n    $val++\n    Write-Host $val\n}", "1\n2\n3"),
    (ABOUT + "about_Do.md", "$a = 0\ndo { $a++; $a } until ($a -ge 2)", "1\n2"),
    (ABOUT + "about_Break.md", "$i = 0\nwhile ($true) { $i++; if ($i -ge 3) { break } }\n$i", "3"),
    (
        ABOUT + "about_Continue.md",
        "$i = 0\nwhile ($i -lt 5) { $i++; if ($i -eq 3) { continue }; Write-Host -Object $i }",
        "1\n2\n4\n5",
    ),
    # about_If
    (
        ABOUT + "about_If.md",
        "$a = 5\nif ($a -gt 2) { 'greater' } elseif ($a -eq 2) { 'equal' } else { 'less' }",
        "greater",
    ),
    # about_Functions / about_Functions_Advanced_Parameters / about_Scopes / about_Script_Blocks
    (
        ABOUT + "about_Functions.md",
        'function Get-Pipeline\n{\n  process {"The value is: $_"}\n}\n1,2,4 | Get-Pipeline',
        "The value is: 1\nThe value is: 2\nThe value is: 4",
    ),
    (
        ABOUT + "about_Functions.md",
        'function Get-SmallFiles {\n  param ($Size = 100)\n  "size $Size"\n}\nGet-SmallFiles\n'
        "Get-SmallFiles -Size 50\nGet-SmallFiles 7",
        "size 100\nsize 50\nsize 7",
    ),
    (
        ABOUT + "about_Functions.md",
        'function Switch-Item {\n  param ([switch]$on)\n  if ($on) { "Switch on" }\n'
        '  else { "Switch off" }\n}\nSwitch-Item -on\nSwitch-Item\nSwitch-Item -on:$false',
        "Switch on\nSwitch off\nSwitch off",
    ),
    (
        ABOUT + "about_Functions.md",
        "function Get-Extension {\n  $name = $args -join '.'\n  $name\n}\nGet-Extension a b",
        "a.b",
    ),
    (
        ABOUT + "about_Scopes.md",
        "$a = 'global'\n& { $a = 'child'; $a }\n$a\n. { $a = 'dot' }\n$a",
        "child\nglobal\ndot",
    ),
    (ABOUT + "about_Scopes.md", "function Set-G { $global:g = 42 }\nSet-G\n$g", "42"),
    (
        ABOUT + "about_Script_Blocks.md",
        "$a = { param($p1, $p2) \"p1: $p1\"; \"p2: $p2\" }\n& $a -p2 'First' -p1 'Second'",
        "p1: Second\np2: First",
    ),
    (ABOUT + "about_Script_Blocks.md", "$a = { 1 + 1 }\n$a.Invoke()", "2"),
    (
        ABOUT + "about_Return.md",
        'function MultiplyEven\n{\n    param($number)\n    if ($number % 2) { return "$number is not even" }\n'
        "    $number * 2\n}\n1..3 | ForEach-Object {MultiplyEven -Number $_}",
        "1 is not even\n4\n3 is not even",
    ),
    # about_Automatic_Variables
    (
        ABOUT + "about_Automatic_Variables.md",
        "$PSVersionTable.PSVersion.Major\n$PSVersionTable.PSEdition",
        "5\nDesktop",
    ),
    (ABOUT + "about_Automatic_Variables.md", "$ExecutionContext.SessionState.LanguageMode", "FullLanguage"),
    (ABOUT + "about_Automatic_Variables.md", "function F { $input | ForEach-Object { $_ * 10 } }\n1, 2 | F", "10\n20"),
    (ABOUT + "about_Automatic_Variables.md", "Write-Output 1\n$?", "1\nTrue"),
    (ABOUT + "about_Environment_Variables.md", "$env:TEMP\n$env:Foo = 'bar'\n$env:FOO", "C:\\Temp\nbar"),
    # about_Type_Conversion / casts
    (
        ABOUT + "about_Type_Conversion.md",
        "[int]'42' + 1\n'4' + 2\n4 + '2'\n[string]1.5\n[bool]'False'\n[bool]0",
        "43\n42\n6\n1.5\nTrue\nFalse",
    ),
    (ABOUT + "about_Type_Conversion.md", "[int[]]('1', '2') | ForEach-Object { $_.GetType().Name }", "Int32\nInt32"),
    (ABOUT + "about_Booleans.md", "[bool]@()\n[bool]@(0)\n[bool]@(0, 0)\n[bool]$null", "False\nFalse\nTrue\nFalse"),
    (ABOUT + "about_Numeric_Literals.md", "0x10\n1kb\n1.5e2\n(10L).GetType().Name", "16\n1024\n150\nInt64"),
    # about_Regular_Expressions
    (ABOUT + "about_Regular_Expressions.md", "'Server01' -match 'Server\\d\\d'\n$Matches[0]", "True\nServer01"),
    (ABOUT + "about_Regular_Expressions.md", "'hello world' -replace '(\\w+) (\\w+)', '$2 $1'", "world hello"),
    # about_PSCustomObject / about_Properties
    (
        ABOUT + "about_PSCustomObject.md",
        "$o = [pscustomobject]@{ Name = 'a'; Size = 2 }\n$o.Name\n$o.Size\n"
        "$o.PSObject.Properties['Name'].Value\n$null -eq $o.PSObject.Properties['Missing']",
        "a\n2\na\nTrue",
    ),
    (
        ABOUT + "about_Intrinsic_Members.md",
        "(1).PSObject.TypeNames[0]\n'x'.PSObject.TypeNames -join ','",
        "System.Int32\nSystem.String,System.Object",
    ),
    # Set-StrictMode (reference/5.1/Microsoft.PowerShell.Core/Set-StrictMode.md)
    (
        "reference/5.1/Microsoft.PowerShell.Core/Set-StrictMode.md",
        "Set-StrictMode -Version 3\n$h = @{}\n$null -eq $h.Missing\ntry { $undefined } catch { $_.Exception.Message }\n"
        "try { (1).Nope } catch { $_.FullyQualifiedErrorId }",
        "True\nThe variable '$undefined' cannot be retrieved because it has not been set.\nPropertyNotFoundStrict",
    ),
    # cmdlets of Microsoft.PowerShell.Utility (reference/5.1)
    (
        "reference/5.1/Microsoft.PowerShell.Utility/ConvertTo-Json.md",
        "@{Account='User01';Domain='Domain01'} | ConvertTo-Json -Compress | ForEach-Object { $_.Length -gt 0 }\n"
        "[ordered]@{Account='User01';Domain='Domain01';Admin='True'} | ConvertTo-Json -Compress",
        'True\n{"Account":"User01","Domain":"Domain01","Admin":"True"}',
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/ConvertFrom-Json.md",
        '$j = \'{ "a": 1, "b": [1, 2], "c": { "d": "x" } }\' | ConvertFrom-Json\n$j.a\n$j.b.Count\n$j.c.d',
        "1\n2\nx",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Select-Object.md",
        "1..10 | Select-Object -First 3\n'a','b','a' | Select-Object -Unique",
        "1\n2\n3\na\nb",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Sort-Object.md",
        "3,1,2 | Sort-Object\n3,1,2 | Sort-Object -Descending",
        "1\n2\n3\n3\n2\n1",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Measure-Object.md",
        "(1..5 | Measure-Object -Sum).Sum\n(1..5 | Measure-Object).Count",
        "15\n5",
    ),
    ("reference/5.1/Microsoft.PowerShell.Core/Where-Object.md", "1..6 | Where-Object { $_ % 2 -eq 0 }", "2\n4\n6"),
    (
        "reference/5.1/Microsoft.PowerShell.Core/Where-Object.md",
        "$o = [pscustomobject]@{ N = 'a'; S = 'Running' }, [pscustomobject]@{ N = 'b'; S = 'Stopped' }\n"
        "($o | Where-Object S -eq 'Running').N\n($o | Where-Object -Property S -EQ -Value 'Stopped').N",
        "a\nb",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Core/ForEach-Object.md",
        "'a', 'bb' | ForEach-Object -MemberName Length\n1..2 | ForEach-Object -Begin { 'start' } -Process { $_ } -End { 'end' }",
        "1\n2\nstart\n1\n2\nend",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Select-Object.md",
        "[pscustomobject]@{ A = 1; B = @(2, 3) } | Select-Object -ExpandProperty B\n"
        "([pscustomobject]@{ A = 1; B = 2 } | Select-Object -Property A).PSObject.Properties.Name",
        "2\n3\nA",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Sort-Object.md",
        "([pscustomobject]@{ N = 'b'; L = 2 }, [pscustomobject]@{ N = 'a'; L = 1 } | Sort-Object -Property L).N -join ','",
        "a,b",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Core/Out-Null.md",
        "'hidden' | Out-Null\n$null = 'also hidden'\n[void]'again'",
        "",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Invoke-Expression.md",
        "$Command = 'Get-Date -Year 2001 -Format yyyy'\nInvoke-Expression $Command",
        "2001",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Write-Host.md",
        "Write-Host (2,4,6,8,10,12) -Separator ', -> '\nWrite-Host 'no newline ' -NoNewline\nWrite-Host 'here'",
        "2, -> 4, -> 6, -> 8, -> 10, -> 12\nno newline here",
    ),
    ("reference/5.1/Microsoft.PowerShell.Utility/Get-Member.md", "('x' | Get-Member -Name Length).Name", "Length"),
    (
        "reference/5.1/Microsoft.PowerShell.Core/ForEach-Object.md",
        "30000, 56798, 12432 | ForEach-Object -Process {$_/1024}",
        "29.296875\n55.466796875\n12.140625",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Core/ForEach-Object.md",
        "'Microsoft.PowerShell.Core' | ForEach-Object {$_.Split('.')}",
        "Microsoft\nPowerShell\nCore",
    ),
    ("reference/5.1/Microsoft.PowerShell.Utility/Out-String.md", "$s = 'a', 'b' | Out-String\n$s.Length", "6"),
    ("reference/5.1/Microsoft.PowerShell.Utility/Write-Output.md", "Write-Output 'hi'\necho hi", "hi\nhi"),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Get-Date.md",
        "(Get-Date -Year 2020 -Month 1 -Day 2).ToString('yyyy-MM-dd')",
        "2020-01-02",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/New-Object.md",
        "$sb = New-Object System.Text.StringBuilder\n[void]$sb.Append('a')\n$null = $sb.Append('b')\n$sb.ToString()",
        "ab",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Get-Variable.md",
        "$x = 5\n(Get-Variable -Name x).Value\nGet-Variable x -ValueOnly",
        "5\n5",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Utility/Set-Variable.md",
        "Set-Variable -Name desc -Value 'A description'\n$desc",
        "A description",
    ),
    (
        "reference/5.1/Microsoft.PowerShell.Core/Get-Command.md",
        "(Get-Command Write-Output).CommandType.ToString()",
        "Cmdlet",
    ),
    # .NET members (Microsoft Learn, .NET Framework 4.8 API reference)
    (
        "learn.microsoft.com/dotnet/api/system.string",
        "'  ab  '.Trim()\n'a,b'.Split(',')[1]\n'Hello'.Replace('l', 'L')\n"
        "'ABC'.ToLowerInvariant()\n'abc'.StartsWith('ab')\n'abc'.Substring(1)\n[string]::IsNullOrEmpty('')\n"
        "[string]::Join('-', @('a', 'b'))",
        "ab\nb\nHeLLo\nabc\nTrue\nbc\nTrue\na-b",
    ),
    (
        "learn.microsoft.com/dotnet/api/system.convert",
        "[Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('hi'))\n"
        "[Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('aABpAA=='))",
        "aGk=\nhi",
    ),
    (
        "learn.microsoft.com/dotnet/api/system.math",
        "[math]::Round(2.567, 2)\n[math]::Max(3, 7)\n[math]::Abs(-4)",
        "2.57\n7\n4",
    ),
    (
        "learn.microsoft.com/dotnet/api/system.text.regularexpressions.regex",
        "[regex]::Match('abc123', '\\d+').Value\n[regex]::Escape('a.b')\n([regex]'b+').IsMatch('abbc')",
        "123\na\\.b\nTrue",
    ),
    (
        "learn.microsoft.com/dotnet/api/system.timespan",
        "$t = [timespan]::FromMinutes(90)\n$t.TotalHours\n$t.Hours\n[string]$t",
        "1.5\n1\n01:30:00",
    ),
]


def _run(script: str, host: StubHost | None = None) -> tuple[str, str, int]:
    result = run_script(script, host or StubHost())
    return result.stdout, result.stderr, result.exit_code


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize(("page", "script", "expected"), CASES, ids=lambda v: None)
def test_documented_output(page: str, script: str, expected: str) -> None:
    stdout, stderr, code = _run(script)
    assert stderr == "", f"{page}: {stderr}"
    assert _lines(stdout) == (expected.split("\n") if expected else []), page
    assert code == 0
