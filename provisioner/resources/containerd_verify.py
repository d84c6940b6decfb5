"""containerd_verify: prove a pod-ready runtime (research/containerd-scaleout-history.md §1.7).

``crictl info`` on the kubelet's endpoint (when crictl is pinned), then ``ctr -n k8s.io images pull``
and ``ctr -n k8s.io run --rm [--isolated] <image> <id> cmd /c echo <nonce>``; ok only when the nonce
comes back. The image is the Nano Server of the host's build (compat.py); Hyper-V isolation
(``--isolated``, cs §1.7) only when the spec asks for it: Kubernetes runs no Hyper-V isolated pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from provisioner import compat
from provisioner.facts import Facts
from provisioner.resources import BlockParams, Finding
from provisioner.resources.container_verify import NONCE_PLACEHOLDER
from provisioner.spec import ContainerdEngineSpec, HostSpec

__all__ = ["ENDPOINT", "TYPE", "ContainerdVerifyChoice", "ContainerdVerifyParams", "choose"]

TYPE = "containerd_verify"
ENDPOINT = "npipe://./pipe/containerd-containerd"
"""The kubelet's runtime endpoint on Windows (sig-windows-tools crictl.yaml, cs §1.3)."""


class ContainerdVerifyParams(BlockParams):
    ctr: str
    crictl: str | None
    endpoint: str
    image: str
    isolated: bool
    container: str
    command: list[str]
    expect: str
    timeout: float


@dataclass(frozen=True)
class ContainerdVerifyChoice:
    """What the verify run will use on this host (the shape of container_verify.VerifyChoice)."""

    block_type: ClassVar[str] = TYPE
    image: str
    isolation: compat.Isolation
    command: list[str]
    timeout: float
    ctr: str
    crictl: str | None

    def params(self, nonce: str, docker: str) -> ContainerdVerifyParams:
        """``docker`` is not used: containerd's clients are ctr and crictl, in the engine's bin\\."""
        return ContainerdVerifyParams(
            ctr=self.ctr,
            crictl=self.crictl,
            endpoint=ENDPOINT,
            image=self.image,
            isolated=self.isolation == "hyperv",
            container=f"provision-verify-{nonce.rsplit('-', 1)[-1]}",
            command=[part.replace(NONCE_PLACEHOLDER, nonce) for part in self.command],
            expect=nonce,
            timeout=self.timeout,
        )


def choose(spec: HostSpec, facts: Facts) -> tuple[ContainerdVerifyChoice | None, list[Finding]]:
    engine, verify = spec.engine, spec.verify
    if not isinstance(engine, ContainerdEngineSpec) or verify.when == "never":
        return None, []
    build = facts.os.build
    image = compat.auto_image(build) if verify.image == "auto" else verify.image
    if image is None:
        return None, [
            Finding("error", "verify.image", f"no Nano Server image is published for build {build}; set verify.image")
        ]
    isolation: compat.Isolation = "hyperv" if verify.isolation == "hyperv" else "process"
    findings: list[Finding] = []
    image_build = compat.image_build(image)
    if image_build is not None:
        problem = compat.isolation_allowed(build, image_build, isolation, client=facts.os.is_client)
        if problem:
            return None, [Finding("error", "verify.isolation", f"{image} with {isolation} isolation: {problem}")]
    if isolation == "hyperv" and "Hyper-V" not in spec.features and facts.feature("Microsoft-Hyper-V") != "Enabled":
        findings.append(
            Finding(
                "error",
                "verify.isolation",
                "Hyper-V isolation (ctr run --isolated) needs the Hyper-V feature: add Hyper-V to spec.features",
            )
        )
    if verify.linux:
        findings.append(
            Finding(
                "error",
                "verify.linux",
                "verify.linux is Docker Desktop's: containerd on Windows runs Windows containers",
            )
        )
    if verify.command and not any(NONCE_PLACEHOLDER in part for part in verify.command):
        findings.append(
            Finding(
                "error", "verify.command", f"the verify command must echo {NONCE_PLACEHOLDER}: ok needs the nonce back"
            )
        )
    if any(f.level == "error" for f in findings):
        return None, findings
    bin_dir = engine.install_dir + "\\bin\\"
    return (
        ContainerdVerifyChoice(
            image=image,
            isolation=isolation,
            command=verify.command or ["cmd", "/c", "echo", NONCE_PLACEHOLDER],
            timeout=verify.timeout,
            ctr=bin_dir + "ctr.exe",
            crictl=bin_dir + "crictl.exe" if engine.crictl is not None else None,
        ),
        findings,
    )
