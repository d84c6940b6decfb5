"""container_verify: prove the engine runs a container whose image and isolation fit the build.

``docker run --rm --isolation=<iso> <image> cmd /c echo <nonce>``; ok only when the nonce comes
back. ``image: auto`` and ``isolation: auto`` come from compat.py. Known failures are turned into
messages with the fix by the block (error texts in windows-facts.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner import compat
from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Finding, RecordData, Resource, Verification
from provisioner.resources.container_engine import docker_ce
from provisioner.spec import HostSpec

__all__ = [
    "NONCE_PLACEHOLDER",
    "RESOURCE",
    "TYPE",
    "ImageRun",
    "VerifyChoice",
    "VerifyData",
    "VerifyParams",
    "choose",
    "verification",
]

TYPE = "container_verify"
NONCE_PLACEHOLDER = "<nonce>"


class VerifyParams(BlockParams):
    image: str
    isolation: compat.Isolation
    command: list[str]
    expect: str | None
    """Text the container must print (the nonce); None when the spec's command does not echo it."""
    timeout: float
    docker: str


class VerifyData(RecordData):
    """What the run printed; on a failed record only what it got to (the defaults otherwise)."""

    exit_code: int | None = None
    output: str = ""


@dataclass(frozen=True)
class ImageRun:
    """One image run with one isolation on a host with one engine: what the docker-ce and containerd verify
    runs share (their :class:`~provisioner.resources.base.VerifyRun` shape but the params)."""

    image: str
    isolation: compat.Isolation
    command: list[str]
    timeout: float

    block_id = "verify"
    engine = None
    """The host has one engine."""

    def describe(self) -> str:
        return self.headline()

    def headline(self) -> str:
        return f"{self.image} with {self.isolation} isolation"

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "isolation": self.isolation, "command": self.command}

    def entry(self, ok: bool, message: str, data: RecordData) -> dict[str, Any]:
        return {"image": self.image, "isolation": self.isolation, "ok": ok, "message": message}


@dataclass(frozen=True)
class VerifyChoice(ImageRun):
    """What the verify run will use on a docker-ce host: a :class:`~provisioner.resources.base.VerifyRun`."""

    docker: str
    """The engine's docker.exe, in its install folder."""

    type = TYPE

    def params(self, nonce: str) -> VerifyParams:
        command = [part.replace(NONCE_PLACEHOLDER, nonce) for part in self.command]
        expect = nonce if any(NONCE_PLACEHOLDER in part for part in self.command) else None
        return VerifyParams(
            image=self.image,
            isolation=self.isolation,
            command=command,
            expect=expect,
            timeout=self.timeout,
            docker=self.docker,
        )


def verification(spec: HostSpec, facts: Facts) -> Verification:
    """The docker-ce engine type's verify: one run, or the plan errors that say why none fits."""
    choice, findings = choose(spec, facts)
    return Verification(runs=() if choice is None else (choice,), findings=tuple(findings))


def choose(spec: HostSpec, facts: Facts) -> tuple[VerifyChoice | None, list[Finding]]:
    """The image and isolation for this host, or the plan errors that say why none fits."""
    engine = docker_ce(spec)
    if spec.verify.when == "never" or spec.verify.linux:
        return None, []  # verify.linux on docker-ce is LCOW: container_engine.lcow_preflight
    verify, build, client = spec.verify, facts.os.build, facts.os.is_client
    if verify.image == "auto":
        image = compat.auto_image(build)
        if image is None:
            return None, [
                Finding(
                    "error", "verify.image", f"no Nano Server image is published for build {build}; set verify.image"
                )
            ]
    else:
        image = verify.image
    image_build = compat.image_build(image)
    findings: list[Finding] = []
    hyperv_available = "Hyper-V" in spec.features or facts.feature("Microsoft-Hyper-V") == "Enabled"
    if verify.isolation == "auto":
        choice = compat.choose_isolation(build, image_build, client=client, hyperv_available=hyperv_available)
        if choice.isolation is None:
            return None, [Finding("error", "verify.isolation", f"{image}: {choice.reason}")]
        isolation = choice.isolation
    else:
        isolation = verify.isolation
        if image_build is not None:
            problem = compat.isolation_allowed(build, image_build, isolation, client=client)
            if problem:
                return None, [Finding("error", "verify.isolation", f"{image} with {isolation} isolation: {problem}")]
        if isolation == "hyperv" and not hyperv_available:
            return None, [
                Finding(
                    "error",
                    "verify.isolation",
                    "Hyper-V isolation needs the Hyper-V feature: add Hyper-V to spec.features",
                )
            ]
    if image_build is None:
        findings.append(
            Finding(
                "warning", "verify.image", f"{image}: the tag names no Windows build, so compatibility was not checked"
            )
        )
    amd = compat.cross_version_warning(
        build, image_build, isolation, client=client, cpu_manufacturer=facts.hardware.cpu_manufacturer
    )
    if amd:
        findings.append(Finding("warning", "verify.amd_process", amd))
    command = verify.command or ["cmd", "/c", "echo", NONCE_PLACEHOLDER]
    docker = engine.install_dir.rstrip("\\") + "\\docker.exe"
    return VerifyChoice(image, isolation, command, verify.timeout, docker), findings


def _timeout(params: VerifyParams) -> float:
    return params.timeout


RESOURCE = Resource(name=TYPE, params=VerifyParams, data=VerifyData, timeout=_timeout)
"""The verify block: no changes of its own; its runs come from :func:`verification`."""
