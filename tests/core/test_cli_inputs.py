"""Bad options and files on the command line (issue 12 items 1, 7 and 9; review F10, F11, F14):
each is one ``error:`` line and exit 1 before anything is contacted, never a traceback, never 2
(which means drift)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner import cli

REPO = Path(__file__).resolve().parents[2]
FACTS = REPO / "tests" / "fixtures" / "facts" / "server2022.json"
SHA = "ab" * 32


def book(tmp_path: Path, host_vars: str = "") -> Path:
    (tmp_path / "inv.yml").write_text(
        "all:\n"
        "  vars: {scheme: https, transport: ntlm, user: u}\n"
        "  children:\n"
        "    windows:\n"
        "      hosts:\n"
        "        w1: {address: 127.0.0.1}\n"
        f"        w2: {{address: 127.0.0.2{host_vars}}}\n"
        "        w3: {address: 127.0.0.3, cert_validation: ignore}\n"
        "        w4: {address: 127.0.0.4, scheme: http, transport: basic, allow_unencrypted: true}\n"
        "        w5: {address: 127.0.0.5, scheme: http, allow_unencrypted: true}\n"
    )
    path = tmp_path / "site.yml"
    path.write_text(
        "- name: p\n  hosts: windows\n  inventory: inv.yml\n  spec:\n"
        f'    engine: {{version: "27.3.1", sha256: "{SHA}"}}\n'
    )
    return path


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``, expecting a usage error (exit 1); the error line argparse printed."""
    with pytest.raises(SystemExit) as stopped:
        cli.run(argv)
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["apply", "check"])
@pytest.mark.parametrize(("value", "says"), [("-1", "at least 1"), ("0", "at least 1"), ("many", "whole number")])
def test_forks_must_be_a_whole_number_of_at_least_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, value: str, says: str
) -> None:
    # F11: --forks -1 used to leave every host "interrupted" with exit 130.
    line = usage_error(capsys, [command, str(book(tmp_path)), "--forks", value])
    assert line.startswith(f"provision {command}: error: argument --forks: expected a whole number")
    assert says in line


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "soon"])
def test_doctor_timeout_must_be_finite_and_positive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    # F11: doctor --timeout -1 used to report "unexpected ValueError ... this is a provision bug".
    line = usage_error(capsys, ["doctor", str(book(tmp_path)), "--timeout", value])
    assert line.startswith("provision doctor: error: argument --timeout: expected a")


@pytest.mark.parametrize("command", ["validate", "apply", "check", "doctor", "facts"])
@pytest.mark.parametrize("pattern", ["", "  "])
def test_an_empty_limit_is_refused_not_read_as_every_host(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, pattern: str
) -> None:
    # F11: --limit "$UNSET" used to target the whole inventory.
    playbook = book(tmp_path)
    where = ["-i", str(tmp_path / "inv.yml")] if command == "facts" else [str(playbook)]
    line = usage_error(capsys, [command, *where, "--limit", pattern])
    assert "argument -l/--limit: an empty pattern matches nothing" in line


def test_the_lab_commands_refuse_a_fleet_of_no_hosts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from provision_lab import cli as lab_cli

    with pytest.raises(SystemExit) as stopped:
        lab_cli.run(["up", "--hosts", "0", "--inventory", str(tmp_path / "lab.yml")])
    assert stopped.value.code != 0
    assert "argument --hosts: expected a whole number of at least 1" in capsys.readouterr().err
    assert not (tmp_path / "lab.yml").exists()


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert cli.run(argv) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("directory", lambda p: (p.mkdir(), p)[1], "cannot read: Is a directory"),
        (
            "latin1",
            lambda p: write(p, '{"os": "caf\xe9"}'.encode("latin-1")),
            "not UTF-8 text (byte 0xe9 at offset 11)",
        ),
        ("deep", lambda p: write(p, b"[" * 100_000 + b"]" * 100_000), "JSON nested too deeply"),
        ("loop", lambda p: (p.symlink_to(p), p)[1], "cannot read: Too many levels of symbolic links"),
    ],
)
def test_a_facts_file_that_cannot_be_read_is_one_located_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, make: object, says: str
) -> None:
    # F10: _load_facts caught only FileNotFoundError and JSONDecodeError.
    playbook = book(tmp_path)
    facts = make(tmp_path / f"{name}.json")  # type: ignore[operator]
    line = one_error(capsys, ["plan", str(playbook), "--host", "w1", "--facts", str(facts)])
    assert line == f"error: {facts}: {says}"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (json.dumps({"schema": "provision.report/v1", "hosts": 5}).encode(), "hosts: expected a list"),
        (json.dumps({"schema": "provision.report/v1", "hosts": [1, "a", None]}).encode(), "hosts: expected a list"),
        (json.dumps({"schema": "provision.report/v1", "hosts": [{"name": 1, "status": "ok"}]}).encode(), "hosts:"),
    ],
)
def test_a_retry_failed_file_that_is_not_a_report_is_one_located_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, says: str
) -> None:
    # F10: hosts_to_retry raised UnicodeDecodeError, RecursionError, TypeError or AttributeError.
    report = write(tmp_path / "report.json", content)
    line = one_error(capsys, ["check", str(book(tmp_path)), "--retry-failed", str(report)])
    assert line.startswith(f"error: {report}: {says}")


def test_a_retry_failed_directory_is_one_located_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    line = one_error(capsys, ["apply", str(book(tmp_path)), "--retry-failed", str(tmp_path / "r")])
    assert line == f"error: {tmp_path / 'r'}: cannot read: Is a directory"


def test_templates_that_are_missing_or_broken_are_one_error_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # F10: a missing --templates directory and a template with a syntax error were tracebacks.
    playbook = book(tmp_path)
    argv = ["render", str(playbook), "--host", "w1", "--phase", "facts"]
    line = one_error(capsys, ["--templates", str(tmp_path / "nowhere"), *argv])
    assert line == f"error: --templates {tmp_path / 'nowhere'}: not a directory"

    source = REPO / "provisioner" / "templates"
    copy = tmp_path / "templates"
    for path in source.rglob("*.j2"):
        (copy / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(source)).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "resources" / "reboot.ps1.j2").write_text("ok\n{% if %}\n")
    line = one_error(capsys, ["--templates", str(copy), *argv])
    assert line.startswith(f"error: {copy / 'resources' / 'reboot.ps1.j2'}:2: ")

    (copy / "resources" / "reboot.ps1.j2").unlink()
    line = one_error(capsys, ["--templates", str(copy), *argv])
    assert line == f"error: --templates {copy}: resources/reboot.ps1.j2 is missing"


def test_lowered_transport_security_is_one_warning_per_setting_naming_the_hosts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # F14: cert_validation: ignore and allow_unencrypted were silent in validate, check and apply.
    assert cli.run(["validate", str(book(tmp_path, ", cert_validation: ignore"))]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: TLS certificates are not validated (cert_validation: ignore) for 2 hosts (w2, w3): "
        "anyone on the path can impersonate them",
        "warning: plain HTTP without message encryption is allowed (allow_unencrypted: true) for 2 hosts (w4, w5): "
        "basic authentication sends the password in clear",
    ]


def test_no_warning_when_security_is_not_lowered(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    playbook = book(tmp_path)
    assert cli.run(["validate", str(playbook), "--limit", "w1:w2"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_an_option_missing_its_partner_is_named_without_a_made_up_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # No file to point at: the line is the problem itself, not "<input>: ...".
    code = cli.run(["render", str(book(tmp_path)), "--host", "w1", "--phase", "apply"])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == ["error: --phase apply needs --facts FILE.json"]
