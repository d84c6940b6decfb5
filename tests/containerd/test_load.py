"""Loading engine type containerd: one located error per bad key, the version rules at load time, and the
shipped playbook."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli import run

SHA = "cd" * 32
INVENTORY = "all:\n  children:\n    k8s_nodes:\n      hosts:\n        n1: {address: 127.0.0.1}\n"


def book(tmp_path: Path, spec_yaml: str) -> Path:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    path = tmp_path / "k8s.yml"
    path.write_text(f"- name: p\n  hosts: k8s_nodes\n  inventory: inv.yml\n  spec:\n{spec_yaml}")
    return path


ENGINE = f"    engine:\n      type: containerd\n      version: '2.0.7'\n      sha256: {SHA}\n"


@pytest.mark.parametrize(
    "spec_yaml, expected",
    [
        (
            ENGINE
            + "    containerd:\n      plugins:\n        io.containerd.cri.v1.runtime:\n          cni: {bin_dirs: [c:/x]}\n",
            ["k8s.yml:", "spec.containerd", "cni.bin_dirs: exists from containerd 2.1.0, not in 2.0.7"],
        ),
        (
            ENGINE + "    containerd:\n      plugins:\n        io.containerd.grpc.v1.cri: {sandbox_image: x}\n",
            ["spec.containerd", "a containerd 1.x key; containerd 2.0.7 reads", "pinned_images.sandbox"],
        ),
        (
            ENGINE + "      kubernetes_version: '1.35'\n",
            ["spec.engine.kubernetes_version", "not supported with Kubernetes 1.35"],
        ),
        (ENGINE + "    containerd: {cni: flannel}\n", ["spec.containerd.cni", "not a CNI preset", "kubernetes-sigs"]),
        (ENGINE + "    containerd: {sandbox_imag: x}\n", ["spec.containerd.sandbox_imag", "unknown key"]),
        (ENGINE + "    daemon: {debug: true}\n", ["daemon.json is Docker's"]),
        (
            ENGINE.replace("C:", "") + "      install_dir: relative\\dir\n",
            ["spec.engine.install_dir", "not an absolute local path"],
        ),
    ],
)
def test_bad_containerd_specs_are_one_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec_yaml: str, expected: list[str]
) -> None:
    assert run(["validate", str(book(tmp_path, spec_yaml))]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in expected:
        assert fragment in err, (fragment, err)


def test_shipped_k8s_playbook_validates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(repo / "playbooks" / "k8s-nodes.yml")]) == 0
    out = capsys.readouterr().out
    assert "lab-0008" in out and "lab-0009" in out and "containerd 2.3.0" in out
