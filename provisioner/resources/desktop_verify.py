"""desktop_verify: prove Docker Desktop's engines run containers, on their own pipes.

- Windows containers: ``docker -H npipe:////./pipe/dockerDesktopWindowsEngine run --rm
  --isolation=<iso> <nanoserver for the build> cmd /c echo <nonce>``, image and isolation from
  compat.py as for docker-ce (windows-facts.md 1 and 6; docker-desktop.md 5 "non-interactive
  replacements"); never ``-it``, which fails over a remote session with "the input device is not
  a TTY" [MicrosoftDocs/Virtualization-Documentation#413].
- Linux containers (``verify.linux``, or Desktop without Windows containers): ``docker -H
  npipe:////./pipe/dockerDesktopLinuxEngine run --rm --platform linux busybox uname -a``, the
  seed's LCOW experiment the way that works today: the Linux engine in WSL 2 or the Hyper-V VM
  [DD-WSL; DD-PERM; MS-LCOW]; ok when the output is a Linux ``uname -a`` line.
- Desktop runs one engine at a time when switched with ``docker desktop engine use``, which stops
  the running one [DD-CLI; docker/for-win#14675], so a block whose engine does not answer switches
  to it; the Linux check runs first so the host ends on the Windows engine Desktop was installed
  to start with. Switching stops the containers of the other engine.
- The engine answers only in a logged-on user's session (docker_desktop.pending): the engine
  does not run these while a host is pending_logon.
- After a successful run the last block records what was verified (build, backend, settings) in
  :data:`RECORD`, so ``verify.when: changed`` also verifies a host whose earlier run ended
  pending_logon, once, and not again until something changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from provisioner import compat
from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Finding, RecordData, Resource, Verification
from provisioner.resources.container_verify import NONCE_PLACEHOLDER
from provisioner.resources.daemon_config import canonical_json
from provisioner.resources.docker_desktop import (
    LINUX_PIPE,
    SERVER_OS_FORMAT,
    WINDOWS_PIPE,
    docker_cli,
    docker_desktop,
    pending,
)
from provisioner.spec import HostSpec

__all__ = [
    "LINUX_COMMAND",
    "LINUX_IMAGE",
    "RECORD",
    "RESOURCE",
    "SWITCH_SECONDS",
    "TYPE",
    "DesktopVerifyChoice",
    "DesktopVerifyData",
    "DesktopVerifyParams",
    "choose",
    "fingerprint",
    "verification",
    "verify_due",
]

TYPE = "desktop_verify"
RECORD = r"C:\ProgramData\provision\docker-desktop-verified.json"
"""The tool's own note of the last successful verify (not Docker's)."""
LINUX_IMAGE = "busybox"
LINUX_COMMAND = ["uname", "-a"]
LINUX_EXPECT = "Linux"
"""``uname -a`` prints the kernel name first: ``Linux <host> <release>-microsoft-standard-WSL2 ...`` (docker-desktop.md 5)."""
SWITCH_POLLS = 60
"""Polls, two seconds apart, for an engine to answer after ``docker desktop engine use``."""
SWITCH_SECONDS = SWITCH_POLLS * 2 + 30
"""What one engine switch may take: the block's polls, two seconds apart, and the switch itself."""


class DesktopVerifyParams(BlockParams):
    docker: str
    os: Literal["windows", "linux"]
    pipe: str
    format: str
    switch: bool
    switch_polls: int
    image: str
    run_options: list[str]
    command: list[str]
    expect: str | None
    timeout: float
    record_path: str | None = None
    record_content: str | None = None


class DesktopVerifyData(RecordData):
    """What the block did and printed; on a failed record only what it got to (the defaults otherwise)."""

    switched: bool = False
    """The block switched Desktop to this engine (``docker desktop engine use``)."""
    exit_code: int | None = None
    output: str = ""
    recorded: bool = False
    """The block wrote :data:`RECORD` (the last run, after a success)."""


@dataclass(frozen=True)
class DesktopVerifyChoice:
    """One engine's run: a :class:`~provisioner.resources.base.VerifyRun`."""

    os: Literal["windows", "linux"]
    image: str
    isolation: compat.Isolation | None
    command: list[str]
    timeout: float
    docker: str
    """Desktop's docker.exe (docker_desktop.docker_cli)."""
    record: str | None = None
    """What the run writes to :data:`RECORD` after a success (:func:`fingerprint`): set on the last run."""

    type = TYPE

    @property
    def block_id(self) -> str:
        return f"verify/{self.os}"

    @property
    def engine(self) -> str:
        return self.os

    @property
    def run_options(self) -> list[str]:
        if self.os == "linux":
            return ["--platform", "linux"]
        return ["--isolation=" + str(self.isolation)]

    def describe(self) -> str:
        how = f"{self.isolation} isolation" if self.isolation else "--platform linux"
        return f"{self.image} on the {self.os} engine ({how})"

    def headline(self) -> str:
        return f"{self.image} on the {self.os} engine" + (f" ({self.isolation} isolation)" if self.isolation else "")

    def to_json(self) -> dict[str, Any]:
        return {"os": self.os, "image": self.image, "isolation": self.isolation, "command": self.command}

    def entry(self, ok: bool, message: str, data: RecordData) -> dict[str, Any]:
        found = data if isinstance(data, DesktopVerifyData) else DesktopVerifyData()
        return {
            "os": self.os,
            "image": self.image,
            "isolation": self.isolation or "linux",
            "ok": ok,
            "message": message,
            "output": found.output,
            "switched": found.switched,
        }

    def params(self, nonce: str) -> DesktopVerifyParams:
        command = [part.replace(NONCE_PLACEHOLDER, nonce) for part in self.command]
        if self.os == "linux":
            expect: str | None = LINUX_EXPECT
        else:
            expect = nonce if any(NONCE_PLACEHOLDER in part for part in self.command) else None
        return DesktopVerifyParams(
            docker=self.docker,
            os=self.os,
            pipe=WINDOWS_PIPE if self.os == "windows" else LINUX_PIPE,
            format=SERVER_OS_FORMAT,
            switch=True,
            switch_polls=SWITCH_POLLS,
            image=self.image,
            run_options=self.run_options,
            command=command,
            expect=expect,
            timeout=self.timeout,
            record_path=RECORD if self.record is not None else None,
            record_content=self.record,
        )


def verification(spec: HostSpec, facts: Facts) -> Verification:
    """The docker-desktop engine type's verify: a run per engine, the last recording what was proved; what a
    user must do first (docker_desktop.pending); and whether an unchanged host is still due a verify."""
    runs, findings = choose(spec, facts)
    if runs:
        runs[-1] = replace(runs[-1], record=fingerprint(spec, runs))
    return Verification(
        runs=tuple(runs),
        findings=tuple(findings),
        pending=pending(spec, facts, engine_needed=bool(runs)),
        due=spec.verify.when == "changed" and verify_due(spec, facts, runs),
    )


def choose(spec: HostSpec, facts: Facts) -> tuple[list[DesktopVerifyChoice], list[Finding]]:
    """The runs for this host (Linux first), or the plan errors that say why a Windows run cannot fit."""
    engine, verify = docker_desktop(spec), spec.verify
    if verify.when == "never":
        return [], []
    choices: list[DesktopVerifyChoice] = []
    findings: list[Finding] = []
    if verify.linux or not engine.windows_containers:
        choices.append(
            DesktopVerifyChoice("linux", LINUX_IMAGE, None, list(LINUX_COMMAND), verify.timeout, docker_cli(engine))
        )
    if engine.windows_containers:
        build = facts.os.build
        image = compat.auto_image(build) if verify.image == "auto" else verify.image
        if image is None:
            return [], [
                Finding(
                    "error", "verify.image", f"no Nano Server image is published for build {build}; set verify.image"
                )
            ]
        image_build = compat.image_build(image)
        # Windows containers under Desktop need Hyper-V (desktop_features), so Hyper-V isolation is available.
        if verify.isolation == "auto":
            picked = compat.choose_isolation(build, image_build, client=facts.os.is_client, hyperv_available=True)
            if picked.isolation is None:
                return [], [Finding("error", "verify.isolation", f"{image}: {picked.reason}")]
            isolation: compat.Isolation = picked.isolation
        else:
            isolation = verify.isolation
            if image_build is not None:
                problem = compat.isolation_allowed(build, image_build, isolation, client=facts.os.is_client)
                if problem:
                    return [], [Finding("error", "verify.isolation", f"{image} with {isolation} isolation: {problem}")]
        if image_build is None:
            findings.append(
                Finding(
                    "warning",
                    "verify.image",
                    f"{image}: the tag names no Windows build, so compatibility was not checked",
                )
            )
        amd = compat.cross_version_warning(
            build, image_build, isolation, client=facts.os.is_client, cpu_manufacturer=facts.hardware.cpu_manufacturer
        )
        if amd:
            findings.append(Finding("warning", "verify.amd_process", amd))
        command = verify.command or ["cmd", "/c", "echo", NONCE_PLACEHOLDER]
        choices.append(DesktopVerifyChoice("windows", image, isolation, command, verify.timeout, docker_cli(engine)))
    return choices, findings


def fingerprint(spec: HostSpec, choices: list[DesktopVerifyChoice]) -> str:
    """What a successful verify proved, as the canonical JSON written to :data:`RECORD`."""
    engine = docker_desktop(spec)
    daemon = None if spec.daemon is None else hashlib.sha256(canonical_json(spec.daemon).encode()).hexdigest()
    return canonical_json(
        {
            "backend": engine.backend,
            "build": engine.build,
            "daemon_sha256": daemon,
            "engines": [{"os": c.os, "image": c.image, "isolation": c.isolation} for c in choices],
            "users": sorted(u.lower() for u in engine.users),
            "version": engine.version,
            "windows_containers": engine.windows_containers,
        }
    )


def verify_due(spec: HostSpec, facts: Facts, choices: list[DesktopVerifyChoice]) -> bool:
    """Under ``when: changed``: the host was never verified for this spec (or its record is gone)."""
    if not choices:
        return False
    found = facts.files.get(RECORD)
    if found is None or not found.exists or found.content is None:
        return True
    try:
        return bool(json.loads(found.content.lstrip("\ufeff")) != json.loads(fingerprint(spec, choices)))
    except ValueError:
        return True


def _timeout(params: DesktopVerifyParams) -> float:
    """The container run, and a switch to its engine."""
    return params.timeout + SWITCH_SECONDS


RESOURCE = Resource(name=TYPE, params=DesktopVerifyParams, data=DesktopVerifyData, timeout=_timeout)
"""The verify block: no changes of its own; its runs come from :func:`verification`."""
