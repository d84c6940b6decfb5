"""``provision completion bash|zsh|powershell``: each script is produced from the parser, names
every subcommand and option, and is valid in its shell (bash -n; zsh -n where zsh is installed,
else its structure; tree-sitter-powershell with no ERROR node). The bash script also completes."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from core import pstree

from provisioner import cli
from provisioner.completion import SHELLS, completion_script


def produced(capsys: pytest.CaptureFixture[str], shell: str) -> str:
    capsys.readouterr()
    assert cli.run(["completion", shell]) == 0
    return capsys.readouterr().out


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand path of the parser (nested ones as "a b") -> its parser."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                found[path] = sub
                found.update(subcommands(sub, path))
    return found


PARSER = cli._parser()
PATHS = subcommands(PARSER)


def test_the_commands_completed_are_the_commands_the_readme_documents(repo: Path) -> None:
    """The completion scripts come from the parser; the README's command table must name the same
    top-level commands, no more and no fewer (the lab is its own program, provision-lab)."""
    documented = {
        match.group(1)
        for match in re.finditer(r"^\| `provision ([a-z]+)\b", (repo / "README.md").read_text(), re.MULTILINE)
    }
    assert {path for path in PATHS if " " not in path} == documented


@pytest.mark.parametrize("shell", SHELLS)
def test_script_names_every_subcommand_and_option(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    script = produced(capsys, shell)
    assert script == completion_script(cli._parser(), shell)
    for path, sub in PATHS.items():
        assert path.split()[-1] in script, (shell, path)
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in script, (shell, path, flag)


def test_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.run(["completion", "fish"])
    assert stopped.value.code == 1  # a usage error; 2 would mean drift (DESIGN 4.5)


def test_bash_script_is_valid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "provision.bash"
    script.write_text(produced(capsys, "bash"))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr


def bash_complete(script: Path, cwd: Path, *words: str) -> list[str]:
    """What the bash script offers for the words (the last is the one being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); "
        "_provision; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_script_completes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "provision.bash"
    script.write_text(produced(capsys, "bash"))
    work = tmp_path / "work"
    (work / "playbooks").mkdir(parents=True)
    (work / "playbooks" / "site.yml").write_text("")
    (work / "inventory.yml").write_text("")
    top = [path for path in PATHS if " " not in path]
    assert bash_complete(script, work, "provision", "") == top
    assert bash_complete(script, work, "provision", "do") == ["doctor"]
    assert bash_complete(script, work, "provision", "schema", "") == ["playbook", "inventory"]
    assert "--ask-pass" in bash_complete(script, work, "provision", "doctor", "--")
    assert bash_complete(script, work, "provision", "completion", "") == list(SHELLS)
    # File names for PLAYBOOK and for -i, after options with values and with --opt=value.
    assert bash_complete(script, work, "provision", "apply", "playbooks/") == ["playbooks/site.yml"]
    assert bash_complete(script, work, "provision", "doctor", "--limit", "web", "-i", "inv") == ["inventory.yml"]
    assert bash_complete(script, work, "provision", "check", "--inventory", "=", "inv") == ["inventory.yml"]
    assert bash_complete(script, work, "provision", "apply", "--output", "") == ["auto", "plain", "rich", "json"]
    # An option value is not taken for a subcommand or a positional.
    assert bash_complete(script, work, "provision", "--templates", "schema", "schema", "p") == ["playbook"]


def test_zsh_script_is_valid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """zsh -n and a completion run where zsh is installed; the structure in any case (never skipped)."""
    text = produced(capsys, "zsh")
    script = tmp_path / "_provision"
    script.write_text(text)
    zsh = shutil.which("zsh")
    if zsh is not None:
        result = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, check=False, timeout=30)
        assert result.returncode == 0, result.stderr
        offered = zsh_complete(zsh, script)
        assert [line.split(":")[0] for line in offered[0]] == ["playbook", "inventory"]
        assert offered[1] == ["FILES"]
        assert offered[2] == ["auto", "plain", "rich", "json"]
        assert [line.split(":")[0] for line in offered[3]] == ["playbook", "inventory"]
    # The structure zsh -n would check: the compdef tag, the function and its registration,
    # balanced braces, case blocks and arithmetic.
    lines = text.splitlines()
    assert lines[0] == "#compdef provision"
    assert "_provision() {" in text and "compdef _provision provision" in text
    assert text.count("{") == text.count("}"), "unbalanced braces"
    assert sum(line.strip().startswith("case ") for line in lines) == sum(line.strip() == "esac" for line in lines)
    assert text.count("(( ") == text.count(" ))")
    # zsh ties $path to $PATH: a local named path would break command lookup inside the function.
    assert "local path" not in text and "local -a path" not in text


def zsh_complete(zsh: str, script: Path) -> list[list[str]]:
    """What the zsh script offers in four situations, through stand-ins for the completion
    system's functions that print what would be offered."""
    program = f"""
compdef() {{ : }}
source '{script}'
_describe() {{ local arr=$4; print -rl -- ${{(P)arr}} }}
compadd() {{ [[ $1 == -a ]] && print -rl -- ${{(P)2}} }}
_files() {{ print -r -- FILES }}
compset() {{ : }}
t() {{ words=("$@"); CURRENT=${{#words}}; _provision; print -r -- -- }}
t provision schema ''
t provision doctor -i ''
t provision apply --output=''
t provision --templates schema schema p
"""
    result = subprocess.run([zsh, "-f", "-c", program], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    return [block.strip().splitlines() for block in result.stdout.split("--\n")]


def test_powershell_script_parses(capsys: pytest.CaptureFixture[str]) -> None:
    text = produced(capsys, "powershell")
    assert pstree.problems(text) == []
    tree = pstree.parse(text)
    assert not any(node.type == "ERROR" for node in pstree.walk(tree.root_node))
    assert "Register-ArgumentCompleter -Native -CommandName 'provision'" in text
    assert "CompleteFilename" in text  # file names for PLAYBOOK and -i


def test_powershell_tables_hold_path_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    text = produced(capsys, "powershell")
    assert "'doctor|-i' = 'file'" in text
    assert "'doctor|0' = 'file'" in text
    assert "'completion|0' = 'choices:bash zsh powershell'" in text
    assert "'check' = 'report drift per host and property; change nothing (exit 2 on drift)'" in text


def test_words_outside_the_tables_are_refused() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--mode", choices=["a b"])
    with pytest.raises(ValueError, match="plain words"):
        completion_script(parser, "bash")
