"""``provision completion bash|zsh|powershell``: a shell completion script made from the parser.

The script is generated from the argparse parser the command line uses, so a new subcommand or
option completes without anyone editing the scripts: every level of subcommands, the options of
each level, the values of options with ``choices``, and file names for
every argument whose type is a path (PLAYBOOK, ``-i``, ``--report``, ...).

Each script carries the same four tables, keyed by the subcommand path typed so far (``""``,
``"schema"``, ...): the subcommands, the options, the kind of value an option takes and the kind of
each positional argument (``file``, ``choices:a b c``, or ``any``). A small walker in the shell's
own language reads the words before the cursor, skipping option values, to find the path.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from provisioner.render import ps_literal

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "zsh", "powershell")


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    value: str | None
    """None for a flag; else the kind of its value: ``file``, ``choices:a b``, ``any``."""


@dataclass(frozen=True)
class _Positional:
    name: str
    kind: str
    repeats: bool
    """nargs ``*`` or ``+``: every later word is one too."""


@dataclass(frozen=True)
class _Level:
    """One parser: the subcommand path that reaches it and what may follow it."""

    path: str
    options: tuple[_Option, ...]
    positionals: tuple[_Positional, ...]
    subcommands: tuple[tuple[str, str], ...]
    """(name, help) of each subcommand, in the parser's order."""


_WORD = re.compile(r"^[A-Za-z0-9_.,:+/=@%-]+$")


def _word(text: str) -> str:
    """A name or choice the scripts can hold unquoted inside their tables."""
    if not _WORD.match(text):
        raise ValueError(f"cannot complete {text!r}: only plain words are supported")
    return text


def _kind(action: argparse.Action) -> str:
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "choices:" + " ".join(_word(str(choice)) for choice in action.choices)
    if action.type is Path:
        return "file"
    return "any"


def _help(action: argparse.Action) -> str:
    """The help text as ``--help`` shows it: ``%(default)s`` and the like expanded, one line."""
    text = action.help
    if not text or text == argparse.SUPPRESS:
        return ""
    try:
        text = text % {**vars(action), "prog": ""}  # what HelpFormatter._expand_help does
    except (KeyError, TypeError, ValueError):
        pass
    return " ".join(str(text).split())


def _levels(parser: argparse.ArgumentParser, path: str = "") -> list[_Level]:
    """Every parser under ``parser``, depth first, its own level first."""
    options: list[_Option] = []
    positionals: list[_Positional] = []
    subcommands: list[tuple[str, str]] = []
    children: list[_Level] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: _help(choice) for choice in action._choices_actions}
            for name, sub in action.choices.items():
                subcommands.append((_word(name), helps.get(name, "")))
                children += _levels(sub, f"{path} {name}".strip())
            continue
        if action.option_strings:
            takes_value = action.nargs != 0
            options.append(
                _Option(
                    tuple(_word(flag) for flag in action.option_strings),
                    _help(action),
                    _kind(action) if takes_value else None,
                )
            )
        else:
            positionals.append(_Positional(_word(action.dest), _kind(action), action.nargs in ("*", "+")))
    level = _Level(path, tuple(options), tuple(positionals), tuple(subcommands))
    return [level, *children]


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` (its ``prog`` is the command completed) for ``shell``."""
    levels = _levels(parser)
    prog = _word(parser.prog)
    if shell == "bash":
        return _bash(prog, levels)
    if shell == "zsh":
        return _zsh(prog, levels)
    if shell == "powershell":
        return _powershell(prog, levels)
    raise ValueError(f"unknown shell {shell!r}; expected one of {', '.join(SHELLS)}")


def _function_name(prog: str) -> str:
    return "_" + re.sub(r"[^A-Za-z0-9_]", "_", prog)


# POSIX shells (bash and zsh share the table functions) ---------------------------------------------


def _case(name: str, arms: list[tuple[list[str], str]], *, default: str = "") -> list[str]:
    """A shell function ``name`` that ``case``s on ``$1|$2`` (or ``$1``) and runs the arm's body."""
    lines = [f"{name}() {{", '    case "$1|$2" in']
    for patterns, body in arms:
        lines.append(f"        {'|'.join(shlex.quote(p) for p in patterns)}) {body} ;;")
    if default:
        lines.append(f"        *) {default} ;;")
    lines += ["    esac", "}"]
    return lines


def _tables(fn: str, levels: list[_Level], *, describe: bool) -> list[str]:
    """The four table functions: ``<fn>_subcommands PATH`` (one per line, ``name:help`` when
    ``describe``), ``<fn>_is_subcommand PATH WORD``, ``<fn>_options PATH`` and
    ``<fn>_value PATH OPTION`` / ``<fn>_positional PATH INDEX`` (the kind, empty for a flag)."""

    def listing(items: list[tuple[str, str]]) -> str:
        if not items:
            return ":"
        # _describe splits "name:description" at the first colon that is not escaped (zshcompsys).
        shown = [f"{name.replace(':', chr(92) + ':')}:{text}" if describe else name for name, text in items]
        return "printf '%s\\n' " + " ".join(shlex.quote(item) for item in shown)

    lines: list[str] = []
    lines += _case(
        f"{fn}_subcommands", [([f"{lv.path}|"], listing(list(lv.subcommands))) for lv in levels if lv.subcommands]
    )
    lines += _case(
        f"{fn}_is_subcommand",
        [([f"{lv.path}|{name}" for lv in levels for name, _ in lv.subcommands], "return 0")],
        default="return 1",
    )
    lines += _case(
        f"{fn}_options",
        [([f"{lv.path}|"], listing([(flag, o.help) for o in lv.options for flag in o.flags])) for lv in levels],
    )
    value_arms: dict[str, list[str]] = {}
    for lv in levels:
        for option in lv.options:
            if option.value is not None:
                value_arms.setdefault(option.value, []).extend(f"{lv.path}|{flag}" for flag in option.flags)
    lines += _case(f"{fn}_value", [(patterns, f"echo {shlex.quote(kind)}") for kind, patterns in value_arms.items()])
    positional_arms: list[tuple[list[str], str]] = []
    for lv in levels:
        for index, positional in enumerate(lv.positionals):
            pattern = f"{lv.path}|*" if positional.repeats else f"{lv.path}|{index}"
            positional_arms.append(([pattern], f"echo {shlex.quote(positional.kind)}"))
    lines += _case(f"{fn}_positional", positional_arms)
    return lines


_WALK = r"""    # The subcommand path and the number of positional words before the cursor; option values
    # are skipped ("=" is a word of its own: COMP_WORDBREAKS splits --option=value).
    while [ "$i" -lt "$cword" ]; do
        word="${words_[i]}"
        if [ "$word" = "=" ]; then
            expect=1
        elif [ -n "$expect" ]; then
            expect=""
        elif [ "$word" = "--" ]; then
            :
        elif [ "${word#-}" != "$word" ]; then
            if [ "${word#*=}" = "$word" ] && [ -n "$(FN_value "$cmdpath" "$word")" ]; then
                expect=1
            fi
        elif FN_is_subcommand "$cmdpath" "$word"; then
            cmdpath="${cmdpath:+$cmdpath }$word"
            positional=0
        else
            positional=$((positional + 1))
        fi
        i=$((i + 1))
    done
"""


def _bash(prog: str, levels: list[_Level]) -> str:
    fn = _function_name(prog)
    head = [
        f"# bash completion for {prog}, generated from its argument parser by `{prog} completion bash`.",
        f'# Load it in the current shell: eval "$({prog} completion bash)"; or save it as',
        f"# ~/.local/share/bash-completion/completions/{prog} to load it on demand.",
        "",
    ]
    body = _tables(fn, levels, describe=False)
    main = f"""
{fn}_kind() {{
    # Complete "$2" as the kind "$1": a file name, one of the choices, or anything (nothing offered).
    case "$1" in
        file)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$2"))
            ;;
        choices:*)
            COMPREPLY=($(compgen -W "${{1#choices:}}" -- "$2"))
            ;;
    esac
}}

{fn}() {{
    local cword=$COMP_CWORD cur="${{COMP_WORDS[COMP_CWORD]}}" cmdpath="" word="" expect="" option="" kind=""
    local positional=0 i=1
    local -a words_=("${{COMP_WORDS[@]}}")
    COMPREPLY=()
{_WALK.replace("FN", fn)}
    if [ "$cur" = "=" ] && [ "$cword" -gt 1 ]; then
        option="${{COMP_WORDS[cword - 1]}}"
        cur=""
    elif [ "$cword" -gt 2 ] && [ "${{COMP_WORDS[cword - 1]}}" = "=" ]; then
        option="${{COMP_WORDS[cword - 2]}}"
    elif [ -n "$expect" ]; then
        option="${{COMP_WORDS[cword - 1]}}"
    fi
    if [ -n "$option" ]; then
        {fn}_kind "$({fn}_value "$cmdpath" "$option")" "$cur"
        return 0
    fi
    if [ "${{cur#-}}" != "$cur" ]; then
        COMPREPLY=($(compgen -W "$({fn}_options "$cmdpath")" -- "$cur"))
        return 0
    fi
    local subcommands
    subcommands="$({fn}_subcommands "$cmdpath")"
    if [ -n "$subcommands" ]; then
        COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
        return 0
    fi
    {fn}_kind "$({fn}_positional "$cmdpath" "$positional")" "$cur"
    return 0
}}

complete -F {fn} {prog}
"""
    return "\n".join(head + body) + "\n" + main


def _zsh(prog: str, levels: list[_Level]) -> str:
    fn = _function_name(prog)
    head = [
        f"#compdef {prog}",
        f"# zsh completion for {prog}, generated from its argument parser by `{prog} completion zsh`.",
        f'# Load it in the current shell (after compinit): eval "$({prog} completion zsh)"; or save it as',
        f"# {fn} in a directory of $fpath.",
        "",
    ]
    body = _tables(fn, levels, describe=True)
    # "cmdpath", not "path": zsh ties $path to $PATH.
    main = f"""
{fn}_kind() {{
    # Complete the current word as the kind "$1": a file name, one of the choices, or anything.
    local -a values
    case "$1" in
        file)
            _files
            ;;
        choices:*)
            values=(${{=1#choices:}})
            compadd -a values
            ;;
    esac
}}

{fn}() {{
    local cur="${{words[CURRENT]}}" cmdpath="" word="" expect="" option="" kind=""
    local -a words_ subcommands options
    integer positional=0 i=1 cword=$(( CURRENT - 1 ))
    # words_ is 0-based like bash's COMP_WORDS, so the walker is the same text.
    words_=("${{(@)words[2,-1]}}")
    words_=("{prog}" "${{(@)words_}}")
    setopt localoptions ksharrays
{_WALK.replace("FN", fn)}
    setopt localoptions noksharrays
    if [[ "$cur" == --*=* ]]; then
        option="${{cur%%=*}}"
        compset -P '*='
    elif [[ -n "$expect" ]]; then
        option="${{words[CURRENT-1]}}"
    fi
    if [[ -n "$option" ]]; then
        {fn}_kind "$({fn}_value "$cmdpath" "$option")"
        return
    fi
    if [[ "$cur" == -* ]]; then
        options=(${{(f)"$({fn}_options "$cmdpath")"}})
        _describe -t options 'option' options
        return
    fi
    subcommands=(${{(f)"$({fn}_subcommands "$cmdpath")"}})
    if (( ${{#subcommands}} )); then
        _describe -t commands 'command' subcommands
        return
    fi
    {fn}_kind "$({fn}_positional "$cmdpath" "$positional")"
}}

if [[ "${{funcstack[1]}}" == "{fn}" ]]; then
    {fn} "$@"
else
    compdef {fn} {prog}
fi
"""
    return "\n".join(head + body) + "\n" + main


# PowerShell --------------------------------------------------------------------------------------


def _ps_table(entries: dict[str, object]) -> str:
    lines = ["@{"]
    for key, value in entries.items():
        lines.append(f"        {ps_literal(key)} = {ps_literal(value)}")
    lines.append("    }")
    return "\n".join(lines)


def _powershell(prog: str, levels: list[_Level]) -> str:
    subcommands = {lv.path: [name for name, _ in lv.subcommands] for lv in levels if lv.subcommands}
    helps = {f"{lv.path} {name}".strip(): text or name for lv in levels for name, text in lv.subcommands}
    options = {lv.path: [flag for option in lv.options for flag in option.flags] for lv in levels}
    option_help = {
        f"{lv.path}|{flag}": option.help or flag for lv in levels for option in lv.options for flag in option.flags
    }
    values = {
        f"{lv.path}|{flag}": option.value
        for lv in levels
        for option in lv.options
        if option.value is not None
        for flag in option.flags
    }
    positionals = {
        (f"{lv.path}|*" if p.repeats else f"{lv.path}|{index}"): p.kind
        for lv in levels
        for index, p in enumerate(lv.positionals)
    }
    return f"""# PowerShell completion for {prog}, generated from its argument parser by `{prog} completion powershell`.
# Load it in the current session: {prog} completion powershell | Out-String | Invoke-Expression
# (add that line to $PROFILE to keep it).
Register-ArgumentCompleter -Native -CommandName {ps_literal(prog)} -ScriptBlock {{
    param($wordToComplete, $commandAst, $cursorPosition)
    $subcommands = {_ps_table(dict(subcommands))}
    $commandHelp = {_ps_table(dict(helps))}
    $options = {_ps_table(dict(options))}
    $optionHelp = {_ps_table(dict(option_help))}
    $values = {_ps_table(dict(values))}
    $positionals = {_ps_table(dict(positionals))}

    # The words before the one being completed, without the command name.
    $before = @($commandAst.CommandElements | Where-Object {{ $_.Extent.EndOffset -lt $cursorPosition }} |
        ForEach-Object {{ $_.Extent.Text }})
    $path = ''
    $positional = 0
    $expect = $false
    for ($i = 1; $i -lt $before.Count; $i++) {{
        $word = $before[$i]
        if ($expect) {{ $expect = $false }}
        elseif ($word -eq '--') {{ }}
        elseif ($word.StartsWith('-')) {{
            if (-not $word.Contains('=') -and $values.ContainsKey($path + '|' + $word)) {{ $expect = $true }}
        }}
        elseif ($subcommands.ContainsKey($path) -and $subcommands[$path] -contains $word) {{
            $path = ($path + ' ' + $word).Trim()
            $positional = 0
        }}
        else {{ $positional++ }}
    }}

    $prefix = ''
    $current = $wordToComplete
    $kind = $null
    if ($expect) {{ $kind = $values[$path + '|' + $before[$before.Count - 1]] }}
    elseif ($current.StartsWith('--') -and $current.Contains('=')) {{
        $split = $current.IndexOf('=')
        $kind = $values[$path + '|' + $current.Substring(0, $split)]
        $prefix = $current.Substring(0, $split + 1)
        $current = $current.Substring($split + 1)
    }}
    elseif ($current.StartsWith('-')) {{
        foreach ($flag in @($options[$path])) {{
            if ($flag.StartsWith($current, [System.StringComparison]::OrdinalIgnoreCase)) {{
                [System.Management.Automation.CompletionResult]::new($flag, $flag, 'ParameterName', $optionHelp[$path + '|' + $flag])
            }}
        }}
        return
    }}
    elseif ($subcommands.ContainsKey($path)) {{
        foreach ($name in $subcommands[$path]) {{
            if ($name.StartsWith($current, [System.StringComparison]::OrdinalIgnoreCase)) {{
                [System.Management.Automation.CompletionResult]::new($name, $name, 'Command', $commandHelp[($path + ' ' + $name).Trim()])
            }}
        }}
        return
    }}
    else {{
        $kind = $positionals[$path + '|' + $positional]
        if ($null -eq $kind) {{ $kind = $positionals[$path + '|*'] }}
    }}

    if ($kind -eq 'file') {{
        foreach ($found in [System.Management.Automation.CompletionCompleters]::CompleteFilename($current)) {{
            [System.Management.Automation.CompletionResult]::new($prefix + $found.CompletionText, $found.ListItemText, $found.ResultType, $found.ToolTip)
        }}
    }}
    elseif ($kind -is [string] -and $kind.StartsWith('choices:')) {{
        foreach ($choice in $kind.Substring(8).Split(' ')) {{
            if ($choice.StartsWith($current, [System.StringComparison]::OrdinalIgnoreCase)) {{
                [System.Management.Automation.CompletionResult]::new($prefix + $choice, $choice, 'ParameterValue', $choice)
            }}
        }}
    }}
}}
"""
