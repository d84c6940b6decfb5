"""Spec values that would reach Windows wrongly are refused at load, and large daemon.json files
converge (issue 12 items 7, 8 and 12; review F12, F13, F19)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from provisioner import cli
from provisioner.plan import plan
from provisioner.resources.daemon_config import CONTENT_LIMIT, DEFAULT_PATH, DaemonParams, canonical_json
from provisioner.spec import HostSpec

from .data import load_facts, site_spec

SHA = "ab" * 32


def validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec_yaml: str) -> tuple[int, list[str]]:
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    w1: {address: 127.0.0.1}\n")
    book = tmp_path / "site.yml"
    book.write_text(
        "- name: p\n  hosts: all\n  inventory: inv.yml\n  spec:\n"
        f'    engine: {{version: "27.3.1", sha256: "{SHA}"}}\n'
        f"{spec_yaml}"
    )
    code = cli.run(["validate", str(book)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.splitlines()


@pytest.mark.parametrize(
    ("daemon", "says"),
    [
        ("{mtu: .nan}", "[0].spec.daemon: mtu: nan is not a JSON number"),
        ("{mtu: .inf}", "[0].spec.daemon: mtu: inf is not a JSON number"),
        ("{log-opts: {max-size: -.inf}}", "[0].spec.daemon: log-opts.max-size: -inf is not a JSON number"),
        ("{labels: [2001-12-14t21:59:43.10-05:00]}", "[0].spec.daemon: labels[0]: a YAML timestamp has no JSON form"),
        ("{labels: [2002-12-14]}", "[0].spec.daemon: labels[0]: a YAML timestamp has no JSON form"),
        ("{labels: [!!binary aGVsbG8=]}", "[0].spec.daemon: labels[0]: a bytes value has no JSON form"),
    ],
)
def test_daemon_values_without_an_exact_json_form_are_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], daemon: str, says: str
) -> None:
    # F12: NaN and Infinity were written into daemon.json (not JSON: dockerd refuses it); a timestamp
    # or !!binary value was a TypeError traceback at render time, "internal error" per host in apply.
    code, lines = validate(tmp_path, capsys, f"    daemon: {daemon}\n")
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert says in lines[0], lines[0]
    assert f"{tmp_path / 'site.yml'}:6:" in lines[0]


@pytest.mark.parametrize(
    ("verify", "says"),
    [
        ('{image: "--privileged"}', "verify.image: an image cannot begin with '-'"),
        ('{image: "-v"}', "verify.image: an image cannot begin with '-'"),
        ("{image: 'nano\" --privileged \"x'}", "verify.image: 'nano\" --privileged \"x' is not an image reference"),
        ('{image: "nano server:ltsc2022"}', "is not an image reference"),
        (
            "{command: ['cmd', '/c', 'echo x\" \"--privileged']}",
            "verify.command[2]: 'echo x\" \"--privileged': Windows",
        ),
        ("{command: ['cmd', '']}", "verify.command[1]: an empty argument is dropped"),
        ("{command: ['cmd', 'C:\\Program Files\\']}", "verify.command[1]: 'C:\\\\Program Files\\\\': Windows"),
        ("{command: ['cmd', \"a\\tb\"]}", "control characters"),
        ("{command: []}", "verify.command: List should have at least 1 item"),
    ],
)
def test_verify_values_that_powershell_51_would_pass_wrongly_to_docker_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verify: str, says: str
) -> None:
    # F19: verify.image and verify.command reach docker.exe through 5.1's native argument passing,
    # which does not escape embedded quotes and drops empty arguments.
    code, lines = validate(tmp_path, capsys, f"    verify: {verify}\n")
    assert code == 1
    assert len(lines) == 1, lines
    assert says in lines[0], lines[0]


@pytest.mark.parametrize(
    "image",
    [
        "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "registry.example:5000/team/hello-world:1.0",
        "busybox",
        "localhost/a__b/c.d-e:x_y",
        "mcr.microsoft.com/windows/servercore@sha256:" + "0a" * 32,
    ],
)
def test_image_references_docker_accepts_still_load(image: str) -> None:
    assert HostSpec.model_validate({**site_spec().model_dump(), "verify": {"image": image}}).verify.image == image


def test_an_error_quotes_a_long_value_cut_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate(tmp_path, capsys, f"    verify: {{image: '-{'x' * 100_000}'}}\n")
    assert code == 1 and len(lines) == 1
    assert len(lines[0]) < 600, len(lines[0])


def big_daemon() -> dict[str, Any]:
    """A daemon.json whose canonical form is over the 64 KiB FACTS sends as content."""
    settings = {"labels": [f"provision.big{i}={'x' * 1000}" for i in range(70)], "log-level": "warn"}
    assert len(canonical_json(settings).encode()) > CONTENT_LIMIT
    return settings


def facts_with_file(content: str | None, sha256: str) -> Any:
    facts = load_facts("server2022-converged")
    files = {
        **facts.files,
        DEFAULT_PATH: facts.files[DEFAULT_PATH].model_copy(update={"content": content, "sha256": sha256}),
    }
    return facts.model_copy(update={"files": files})


def test_a_daemon_json_over_64_kib_is_compared_by_hash() -> None:
    # F13: FACTS omits the content of a file over 64 KiB and the missing content read as {}: apply
    # said "did not converge" and check reported drift forever.
    settings = big_daemon()
    spec = HostSpec.model_validate({**site_spec().model_dump(), "daemon": settings})
    written = hashlib.sha256(canonical_json(settings).encode()).hexdigest()

    in_state = plan("h", spec, facts_with_file(None, written))
    assert [c.id for c in in_state.changes if c.id == "daemon/config"] == []

    other = plan("h", spec, facts_with_file(None, "f" * 64))
    (change,) = [c for c in other.changes if c.id == "daemon/config"]
    assert [d.path for d in change.diff] == ["daemon"]
    assert change.diff[0].before == f"<a file over {CONTENT_LIMIT} bytes with sha256 {'f' * 64}>"
    assert change.diff[0].after == settings
    assert isinstance(change.params, DaemonParams) and change.params.sha256 == written


def test_a_small_daemon_json_is_still_compared_key_by_key() -> None:
    spec = HostSpec.model_validate({**site_spec().model_dump(), "daemon": {"log-level": "info"}})
    content = json.dumps({"log-level": "debug"})
    (change,) = [c for c in plan("h", spec, facts_with_file(content, "0" * 64)).changes if c.id == "daemon/config"]
    assert [(d.path, d.before, d.after) for d in change.diff] == [("daemon.log-level", "debug", "info")]


def test_a_daemon_json_nested_past_the_stack_is_replaced_not_a_crash() -> None:
    # Host-controlled: a daemon.json nested 100k deep was a RecursionError (review F10).
    spec = HostSpec.model_validate({**site_spec().model_dump(), "daemon": {"log-level": "info"}})
    deep = "[" * 100_000 + "]" * 100_000
    (change,) = [c for c in plan("h", spec, facts_with_file(deep, "0" * 64)).changes if c.id == "daemon/config"]
    assert [(d.path, d.before) for d in change.diff] == [("daemon", "<not a JSON object>")]


@pytest.mark.parametrize(
    "where", ["daemon: {labels: ['{{ \"\\ud800\" }}x']}", "verify: {command: ['{{ \"\\udfff\" }}']}"]
)
def test_a_lone_surrogate_made_by_a_template_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    # YAML refuses lone surrogates, a template can make one: every host then failed at its first
    # UTF-8 encode ("internal error"), and `render` was a UnicodeEncodeError traceback.
    code, lines = validate(tmp_path, capsys, f"    {where}\n")
    assert code == 1 and len(lines) == 1, lines
    assert "a lone surrogate (half of a UTF-16 pair) has no UTF-8 form" in lines[0]


def test_the_ps_filter_refuses_a_lone_surrogate() -> None:
    from provisioner.render import RenderError, ps_literal

    with pytest.raises(RenderError, match="lone surrogate"):
        ps_literal(["ok", "a\ud800b"])


@pytest.mark.parametrize("user", ["a\nb", "dev\r", "a\u2028b", "a\x85b", "CORP\\a\tb"])
def test_desktop_users_with_line_breaks_or_controls_are_refused_at_load(user: str) -> None:
    # F12: users: ["a\nb"] passed validate and failed only at render ("block id ... must be one line"),
    # an "internal error" per host in apply.
    from pydantic import ValidationError

    from provisioner.spec import DockerDesktopSpec

    engine = {"type": "docker-desktop", "version": "4.43.1", "build": 198352, "sha256": SHA, "accept_license": True}
    with pytest.raises(ValidationError, match="users"):
        DockerDesktopSpec.model_validate({**engine, "users": [user]})
    assert DockerDesktopSpec.model_validate({**engine, "users": ["o'brien", "CORP\\dev"]}).users == [
        "o'brien",
        "CORP\\dev",
    ]


@pytest.mark.parametrize(
    ("install_dir", "says"),
    [
        ("C:\\Program Files", "is %ProgramFiles% itself"),
        ("c:\\program files\\", "is %ProgramFiles% itself"),
        ("C:\\Program Files (x86)", "is %ProgramFiles(x86)% itself"),
        ("C:\\Windows", "is %SystemRoot% itself"),
        ("D:\\WINDOWS\\System32", "is inside %SystemRoot%"),
        ("C:\\ProgramData", "is %ProgramData% itself"),
        ("C:\\", "is a drive root"),
        ("docker", "is not an absolute local path"),
        ("\\\\server\\share\\docker", "is not an absolute local path"),
        ("C:\\Program Files\\*", "holds a wildcard character ('*')"),
        ("C:\\Program Files\\dock[e]r", "holds a wildcard character ('[')"),
        ("C:\\docker;C:\\Users\\Public", "holds a Path separator (';')"),
        ("C:\\Program Files\\docker\\..", "has an empty, '.' or '..' segment"),
        ("C:\\PROGRA~1", "looks like a short (8.3) name"),
        ("C:\\Program Files.", "Windows drops a trailing dot or space"),
        ("C:\\do\u2028cker", "a character Windows refuses in a folder name"),
    ],
)
def test_an_install_dir_the_engine_block_must_not_replace_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], install_dir: str, says: str
) -> None:
    # Security review F1: the engine block replaces install_dir whole on upgrade, and
    # `install_dir: 'C:\Program Files'` passed validate; `;` added Path entries, `*` matched folders.
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    w1: {address: 127.0.0.1}\n")
    book = tmp_path / "site.yml"
    book.write_text(
        "- name: p\n  hosts: all\n  inventory: inv.yml\n  spec:\n    engine:\n"
        f'      version: "27.3.1"\n      sha256: "{SHA}"\n      install_dir: {json.dumps(install_dir)}\n',
        encoding="utf-8",
    )
    code = cli.run(["validate", str(book)])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {book}:8:7: [0].spec.engine.install_dir: "), lines[0]
    assert says in lines[0], lines[0]
    if install_dir.isprintable():  # the path as the user wrote it, not repr() with every backslash doubled
        assert f"'{install_dir}'" in lines[0], lines[0]


@pytest.mark.parametrize(
    ("install_dir", "stored"),
    [
        ("C:\\Program Files\\docker", "C:\\Program Files\\docker"),
        ("D:\\Tools\\Docker Engine\\", "D:\\Tools\\Docker Engine"),
        ("C:\\Users\\svc\\docker", "C:\\Users\\svc\\docker"),
    ],
)
def test_an_install_dir_of_its_own_loads_without_its_trailing_backslash(install_dir: str, stored: str) -> None:
    # A trailing backslash would put the staging folder inside the engine folder ("...\docker\.provision-new").
    spec = HostSpec.model_validate(
        {**site_spec().model_dump(), "engine": {"version": "27.3.1", "sha256": SHA, "install_dir": install_dir}}
    )
    assert spec.engine is not None and spec.engine.install_dir == stored
