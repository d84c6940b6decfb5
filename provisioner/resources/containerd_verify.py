"""containerd_verify: prove a pod-ready runtime (research/containerd-scaleout-history.md §1.7).

``crictl info`` on the kubelet's endpoint (when crictl is pinned), then ``ctr -n k8s.io images pull``
and ``ctr -n k8s.io run --rm [--isolated] <image> <id> cmd /c echo <nonce>``; ok only when the nonce
comes back. The image is the Nano Server of the host's build (compat.py); Hyper-V isolation
(``--isolated``, ``cmd/ctr/commands/run/run_windows.go``) only when the spec asks for it: Kubernetes
runs no Hyper-V isolated pods (cs §1.1), so ``isolation: auto`` is process isolation here.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioner import compat
from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Finding, RecordData, Resource, Verification
from provisioner.resources.container_verify import NONCE_PLACEHOLDER, ImageRun
from provisioner.resources.containerd_engine import containerd
from provisioner.spec import HostSpec

__all__ = [
    "ENDPOINT",
    "RESOURCE",
    "TYPE",
    "ContainerdVerifyChoice",
    "ContainerdVerifyData",
    "ContainerdVerifyParams",
    "choose",
    "verification",
]

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


class ContainerdVerifyData(RecordData):
    """What the runs returned; on a failed record only what they got to."""

    crictl_exit_code: int | None = None
    pull_exit_code: int | None = None
    exit_code: int | None = None
    output: str = ""


@dataclass(frozen=True)
class ContainerdVerifyChoice(ImageRun):
    """What the verify run will use on a containerd host: a :class:`~provisioner.resources.base.VerifyRun`."""

    ctr: str
    crictl: str | None

    type = TYPE

    def params(self, nonce: str) -> ContainerdVerifyParams:
        return ContainerdVerifyParams(
            ctr=self.ctr,
            crictl=self.crictl,
            endpoint=ENDPOINT,
            image=self.image,
            isolated=self.isolation == "hyperv",
            # A container id per run: `ctr run` refuses an id that exists ("already exists").
            container="provision-verify-" + (nonce.rsplit("-", 1)[-1] or "run"),
            command=[part.replace(NONCE_PLACEHOLDER, nonce) for part in self.command],
            expect=nonce,
            timeout=self.timeout,
        )

    def headline(self) -> str:
        checks = "crictl info, then " if self.crictl is not None else ""
        return f"{checks}{super().headline()} through ctr"


def verification(spec: HostSpec, facts: Facts) -> Verification:
    choice, findings = choose(spec, facts)
    return Verification(runs=() if choice is None else (choice,), findings=tuple(findings))


def choose(spec: HostSpec, facts: Facts) -> tuple[ContainerdVerifyChoice | None, list[Finding]]:
    """The image and isolation for this host, or the plan errors that say why none fits."""
    engine, verify = containerd(spec), spec.verify
    if verify.when == "never":
        return None, []
    build = facts.os.build
    image = compat.auto_image(build) if verify.image == "auto" else verify.image
    if image is None:
        return None, [
            Finding("error", "verify.image", f"no Nano Server image is published for build {build}; set verify.image")
        ]
    isolation: compat.Isolation = "hyperv" if verify.isolation == "hyperv" else "process"
    findings: list[Finding] = []
    if verify.linux:
        findings.append(
            Finding(
                "error", "verify.linux", "verify.linux is Docker Desktop's: containerd here runs Windows containers"
            )
        )
    image_build = compat.image_build(image)
    if image_build is not None:
        problem = compat.isolation_allowed(build, image_build, isolation, client=facts.os.is_client)
        if problem:
            findings.append(Finding("error", "verify.isolation", f"{image} with {isolation} isolation: {problem}"))
    if isolation == "hyperv" and "Hyper-V" not in spec.features and facts.feature("Microsoft-Hyper-V") != "Enabled":
        findings.append(
            Finding(
                "error",
                "verify.isolation",
                "Hyper-V isolation (ctr run --isolated) needs the Hyper-V feature: add Hyper-V to spec.features",
            )
        )
    if verify.command and not any(NONCE_PLACEHOLDER in part for part in verify.command):
        findings.append(
            Finding("error", "verify.command", f"the verify command must echo {NONCE_PLACEHOLDER}: ok needs it back")
        )
    if any(f.level == "error" for f in findings):
        return None, findings
    bin_dir = engine.install_dir + "\\bin\\"
    choice = ContainerdVerifyChoice(
        image=image,
        isolation=isolation,
        command=verify.command or ["cmd", "/c", "echo", NONCE_PLACEHOLDER],
        timeout=verify.timeout,
        ctr=bin_dir + "ctr.exe",
        crictl=bin_dir + "crictl.exe" if engine.crictl is not None else None,
    )
    return choice, findings


def _timeout(params: ContainerdVerifyParams) -> float:
    return params.timeout


RESOURCE = Resource(name=TYPE, params=ContainerdVerifyParams, data=ContainerdVerifyData, timeout=_timeout)
"""The verify block: no changes of its own; its run comes from :func:`verification`."""
