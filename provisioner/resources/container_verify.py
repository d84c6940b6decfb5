"""container_verify: prove the engine runs a container whose image and isolation fit the build.

``docker run --rm --isolation=<iso> <image> cmd /c echo <nonce>``; ok only when the nonce comes
back. ``image: auto`` and ``isolation: auto`` come from compat.py. Known failures are turned into
messages with the fix by the block (error texts in windows-facts.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioner import compat
from provisioner.facts import Facts
from provisioner.resources import BlockParams, Finding
from provisioner.spec import EngineSpec, HostSpec

__all__ = ["NONCE_PLACEHOLDER", "TYPE", "VerifyChoice", "VerifyParams", "choose"]

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


@dataclass(frozen=True)
class VerifyChoice:
    """What the verify run will use on this host."""

    image: str
    isolation: compat.Isolation
    command: list[str]
    timeout: float

    def params(self, nonce: str, docker: str) -> VerifyParams:
        command = [part.replace(NONCE_PLACEHOLDER, nonce) for part in self.command]
        expect = nonce if any(NONCE_PLACEHOLDER in part for part in self.command) else None
        return VerifyParams(
            image=self.image,
            isolation=self.isolation,
            command=command,
            expect=expect,
            timeout=self.timeout,
            docker=docker,
        )


def choose(spec: HostSpec, facts: Facts) -> tuple[VerifyChoice | None, list[Finding]]:
    """The image and isolation for this host, or the plan errors that say why none fits."""
    if not isinstance(spec.engine, EngineSpec) or spec.verify.when == "never" or spec.verify.linux:
        return None, []  # Docker Desktop: resources/desktop_verify.py; verify.linux on docker-ce: virtualization.py
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
    return VerifyChoice(image, isolation, command, verify.timeout), findings
