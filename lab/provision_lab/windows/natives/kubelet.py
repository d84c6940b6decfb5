"""``kubelet.exe`` of a Kubernetes Windows node, as far as a node's container runtime meets it: a service
registered to depend on containerd (``sc.exe create kubelet ... depend= containerd``, as SIG Windows'
PrepareNode.ps1 registers it; research/containerd-scaleout-history.md section 1.3), which runs only while
containerd answers. The lab models nothing of what kubelet does with pods."""

from __future__ import annotations

from collections.abc import Sequence

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows.natives.machine import NativeMachine

__all__ = ["Kubelet"]


class Kubelet:
    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        if list(argv[1:]) == ["--version"]:
            return NativeResult(0, f"Kubernetes v{self.version}\n")
        return NativeResult(1, "", "the lab models only 'kubelet --version' on the command line\n")

    def start_service(self, argv: Sequence[str], service: str) -> str | None:
        state = self.machine.service_state("containerd")
        if state is None or state[0] != "Running":
            # What kubelet logs before it exits when the CRI endpoint does not answer (UNCONFIRMED wording).
            return 'failed to run Kubelet: validate service connection: validate CRI v1 runtime API for endpoint "npipe:////./pipe/containerd-containerd": rpc error: code = Unavailable'
        return None
