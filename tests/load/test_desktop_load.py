"""Loading docker-desktop engines (issue 7): the tagged engine union, and errors placed at the YAML key."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli import run
from provisioner.playbook import load_playbook
from provisioner.spec import DockerDesktopSpec, EngineSpec

SHA = "cd" * 32
INVENTORY = """
all:
  children:
    workstations:
      hosts:
        ws1: {address: 127.0.0.1}
"""


def setup(tmp_path: Path, engine_yaml: str) -> Path:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    book = tmp_path / "ws.yml"
    book.write_text(f"- name: p\n  hosts: workstations\n  inventory: inv.yml\n  spec:\n    engine:\n{engine_yaml}")
    return book


GOOD = f"""      type: docker-desktop
      version: "4.43.1"
      build: 198352
      sha256: {SHA}
      users: [dev, 'CORP\\alice']
      accept_license: true
"""


def test_desktop_engine_loads_with_its_defaults_and_no_default_features(tmp_path: Path) -> None:
    spec = load_playbook(setup(tmp_path, GOOD)).targets[0].spec
    assert isinstance(spec.engine, DockerDesktopSpec)
    assert (spec.engine.backend, spec.engine.windows_containers, spec.engine.users) == (
        "wsl2",
        True,
        ["dev", "CORP\\alice"],
    )
    assert (
        spec.engine.download_url == "https://desktop.docker.com/win/main/amd64/198352/Docker%20Desktop%20Installer.exe"
    )
    assert spec.features == []  # the backend's features are added at plan time (windows_feature.wanted)


def test_engine_without_type_is_still_docker_ce(tmp_path: Path) -> None:
    spec = load_playbook(setup(tmp_path, f"      version: 27.3.1\n      sha256: {SHA}\n")).targets[0].spec
    assert isinstance(spec.engine, EngineSpec) and spec.features == ["Containers"]


@pytest.mark.parametrize(
    "engine_yaml, expected",
    [
        (
            GOOD.replace("type: docker-desktop", "type: docker-destkop"),
            [
                "ws.yml:6:",
                "spec.engine.type",
                "expected type docker-ce or docker-desktop",
                "did you mean 'docker-desktop'?",
            ],
        ),
        (
            GOOD + "      backnd: wsl2\n",
            ["ws.yml:12:7", "spec.engine.backnd", "unknown key", "did you mean 'backend'?"],
        ),
        (GOOD + "      backend: wsl\n", ["spec.engine.backend", "'wsl2'", "'hyperv'"]),
        (
            GOOD.replace("users: [dev, 'CORP\\alice']", "users: [dev, DEV]"),
            ["spec.engine.users", "each user may appear once"],
        ),
        (GOOD.replace("users: [dev, 'CORP\\alice']", "users: ['a/b']"), ["spec.engine.users"]),
        (GOOD.replace(f"sha256: {SHA}", "sha256: abc"), ["spec.engine.sha256", "64 hexadecimal"]),
    ],
)
def test_bad_desktop_engines_are_one_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_yaml: str, expected: list[str]
) -> None:
    assert run(["validate", str(setup(tmp_path, engine_yaml))]) == 1
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err, (fragment, err)


def test_shipped_workstations_playbook_validates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(repo / "playbooks" / "workstations.yml")]) == 0
    out = capsys.readouterr().out
    assert "lab-0007" in out and "docker-desktop 4.43.1" in out
    assert "features=Containers,Hyper-V,VirtualMachinePlatform,Microsoft-Windows-Subsystem-Linux" in out


def test_schema_knows_both_engine_types(repo: Path) -> None:
    import json

    import jsonschema

    schema = json.loads((repo / "schema" / "playbook.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)

    def errors(engine: dict[str, object]) -> list[str]:
        return [e.message for e in validator.iter_errors([{"name": "p", "hosts": "all", "spec": {"engine": engine}}])]

    desktop = {
        "type": "docker-desktop",
        "version": "4.43.1",
        "build": "{{ b }}",
        "sha256": SHA,
        "accept_license": True,
        "backend": "wsl2",
        "users": ["dev"],
    }
    assert errors(desktop) == []
    assert errors({"version": "27.3.1", "sha256": SHA}) == []
    assert errors({**desktop, "backend": "wsl"})
    assert errors({**desktop, "type": "docker-desk"})
    assert errors({k: v for k, v in desktop.items() if k != "build"})
