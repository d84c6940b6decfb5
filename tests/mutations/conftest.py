"""Template mutation tests (issue 10 item 7b): the product's templates, each changed by one line, run
end to end against a small lab fleet, must fail the way a real host would make them fail.

``mutated_templates(file, old, new)`` copies ``provisioner/templates`` to a temporary folder and
replaces exactly one occurrence of ``old`` in ``file`` (it fails when the line is not there once, so a
template edit cannot silently turn a mutation into a no-op); ``provision --templates DIR`` then renders
from the copy. ``mutation_lab`` starts a fresh lab per test (a mutated apply leaves its host in a state
no other test should see) on this suite's own ports and addresses.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from labfixtures import REPO, AddressBlock, LabRun, StartLab, make_hosts, merge, play_of

from provision_lab import containerd_sha256, crictl_sha256, desktop_sha256, engine_sha256, wsl_sha256, wsl_url

TEMPLATES = REPO / "provisioner" / "templates"
HTTP_PORT, HTTPS_PORT, SSH_PORT = 15985, 15986, 12222
"""This suite's own ports (e2e 25985.., fleet 35985, desktop 45985.., doctor 55985..)."""
USER = "provision"
PASSWORD_ENV = "PROVISION_MUTATION_PASSWORD"
PASSWORD = "mut'Pa$$w0rd\"$(whoami)` ;x"
REBOOT_SECONDS = 0.3
POLL_INTERVAL = 0.1
_BLOCK = 100 + os.getpid() % 50
_ADDRESSES = AddressBlock(78, _BLOCK, blocks=150 - _BLOCK)


def mutate(root: Path, file: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``root/file`` with ``new`` (both within one line)."""
    assert "\n" not in old and "\n" not in new, "a mutation changes one line"
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file}: {old!r} occurs {text.count(old)} times, not once"
    path.write_text(text.replace(old, new), encoding="utf-8")


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    report: dict[str, Any]

    def host(self, name: str) -> dict[str, Any]:
        return next(h for h in self.report["hosts"] if h["name"] == name)

    def text(self, name: str) -> str:
        """Everything the report says about a host: its message, errors and verify (to look for a cause in)."""
        return json.dumps(self.host(name), ensure_ascii=False)


@dataclass
class MutationLab(LabRun):
    templates: Path | None = None
    _reports: Iterator[int] = field(default_factory=itertools.count)

    def inventory(self, group: str) -> Path:
        values = {
            "connection": "winrm",
            "scheme": "https",
            "port": HTTPS_PORT,
            "transport": "ntlm",
            "user": USER,
            "password_env": PASSWORD_ENV,
            "ca_bundle": str(self.server.ca_path),
            "known_hosts": str(self.server.known_hosts_path),
            "docker_version": "27.3.1",
            "docker_sha256": engine_sha256("27.3.1"),
            "desktop_version": "4.43.1",
            "desktop_build": 198352,
            "desktop_sha256": desktop_sha256("4.43.1"),
            "wsl_version": "2.5.10",
            "wsl_url": wsl_url("2.5.10"),
            "wsl_sha256": wsl_sha256("2.5.10"),
            "kubernetes_version": "1.36",
            "containerd_version": "2.3.0",
            "containerd_sha256": containerd_sha256("2.3.0"),
            "crictl_version": "1.34.0",
            "crictl_sha256": crictl_sha256("1.34.0"),
        }
        return self.write_inventory(values, name=f"inventory-{group}.yml", group=group)

    def playbook(self, shipped: str, group: str, *, spec: Mapping[str, Any] | None = None) -> Path:
        """A shipped playbook's first play on this lab: all hosts at once, a short reboot timeout."""
        play = play_of(shipped)
        play.update(inventory=str(self.inventory(group)), hosts=group, rollout={"forks": 4})
        play["spec"] = merge(play["spec"], spec or {})
        play["reboot"] = merge(play.get("reboot") or {}, {"timeout": 2})
        return self.write_playbook(play, name=f"{shipped.removesuffix('.yml')}-{next(self._reports)}.yml")

    def doctor(self, playbook: Path) -> tuple[int, str]:
        """``provision doctor PLAYBOOK`` with the mutated templates: exit code and what it printed."""
        args: list[str | Path] = ["doctor", playbook]
        if self.templates is not None:
            args = ["--templates", self.templates, *args]
        code, out, err = self.provision(args)
        return code, out + err

    def cli(self, command: str, playbook: Path, *, mutated: bool = True) -> Outcome:
        """``provision COMMAND PLAYBOOK --report ...``, with the mutated templates unless ``mutated`` is False."""
        report = self.dir / f"report-{next(self._reports)}.json"
        args: list[str | Path] = [command, playbook, "--report", report]
        if mutated and self.templates is not None:
            args = ["--templates", self.templates, *args]
        code, out, err = self.provision(args)
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {"hosts": []}
        return Outcome(code, out, err, data)


@pytest.fixture
def mutation_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lab_servers: StartLab
) -> Callable[..., MutationLab]:
    """``mutation_lab({"web1": "server2022"}, mutation=(file, old, new))``: a started lab whose runs
    render from a copy of the templates with that one line changed (None: the shipped templates)."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    def make(hosts: Mapping[str, str], mutation: tuple[str, str, str] | None) -> MutationLab:
        templates: Path | None = None
        if mutation is not None:
            templates = tmp_path / "templates"
            shutil.copytree(TEMPLATES, templates)
            mutate(templates, *mutation)
        models = make_hosts(hosts, _ADDRESSES.fresh, REBOOT_SECONDS)
        server, scripts = lab_servers(
            models,
            record=True,
            user=USER,
            password=PASSWORD,
            lab_dir=tmp_path / "state",
            http_port=HTTP_PORT,
            https_port=HTTPS_PORT,
            ssh_port=SSH_PORT,
        )
        return MutationLab(server, models, tmp_path, capsys, POLL_INTERVAL, scripts, templates)

    return make
