"""Engine type containerd end to end against the lab (issue 15): Kubernetes node hosts converge with the
real scripts, a second apply is one script per host, a check finds config.toml drift by key and service
command-line drift, apply repairs both, and an upgrade from 1.7 to 2.x keeps the settings."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labfixtures import merge, play_of

from provision_lab import containerd_sha256, crictl_sha256, nerdctl_sha256

from .conftest import E2ELab

HOME = r"C:\Program Files\containerd"
DROP_IN = HOME + r"\conf.d\provision.toml"
IMAGES = "io.containerd.cri.v1.images"
RUNTIME = "io.containerd.cri.v1.runtime"


def k8s_playbook(lab: E2ELab, version: str = "2.3.0", **spec: Any) -> Path:
    """playbooks/k8s-nodes.yml's play on this lab, its vars given in the inventory."""
    inventory = lab.inventory(
        containerd_version=version,
        containerd_sha256=containerd_sha256(version),
        kubernetes_version="1.36" if version.startswith(("2.2", "2.3")) else "1.34",
        crictl_version="1.34.0",
        crictl_sha256=crictl_sha256("1.34.0"),
    )
    play = play_of("k8s-nodes.yml")
    play["hosts"] = "windows"
    play["inventory"] = str(inventory)
    play["rollout"] = {"forks": 4}
    play["spec"] = merge(play["spec"], spec)
    return lab.write_playbook(play, name=f"k8s-{version}.yml")


def read(lab: E2ELab, host: str, path: str) -> str | None:
    node = lab.hosts[host].machine.fs.node(path)
    return None if node is None else node.data.decode()


def test_nodes_converge_to_a_verified_containerd_and_a_second_apply_is_one_script(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    lab = e2e_lab({"node22": "k8s-node-2022", "node25": "k8s-node-2025"})
    playbook = k8s_playbook(lab, engine={"nerdctl": {"version": "2.3.5", "sha256": nerdctl_sha256("2.3.5")}})
    first = lab.run(playbook)
    assert {r.name: r.status for r in first.results} == {"node22": "changed", "node25": "changed"}, [
        (r.name, r.message) for r in first.results
    ]
    for name, tag in (("node22", "ltsc2022"), ("node25", "ltsc2025")):
        result = first.host(name)
        assert result.verify is not None and result.verify["ok"], result.verify
        assert result.verify["image"] == f"mcr.microsoft.com/windows/nanoserver:{tag}"
        machine = lab.hosts[name].machine
        service = machine.service("containerd")
        assert service is not None and service.status == "Running"
        assert service.image_path == (
            f'"{HOME}\\bin\\containerd.exe" --run-service --service-name containerd --config "{HOME}\\config.toml" '
            r"--log-file C:\ProgramData\containerd\containerd.log --log-level info"
        )
        # 2.3 reads provision's keys from the drop-in; the vendor config.toml imports conf.d.
        drop_in = tomllib.loads(read(lab, name, DROP_IN) or "")
        assert drop_in["version"] == 4
        assert drop_in["plugins"][IMAGES]["pinned_images"]["sandbox"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
        assert drop_in["plugins"][RUNTIME]["cni"]["bin_dirs"] == ["c:/opt/cni/bin"]
        assert HOME + r"\conf.d\*.toml" in tomllib.loads(read(lab, name, HOME + r"\config.toml") or "")["imports"]
        hosts_toml = tomllib.loads(read(lab, name, r"C:\ProgramData\containerd\certs.d\docker.io\hosts.toml") or "")
        assert list(hosts_toml["host"]) == ["https://mirror.gcr.io"]
        assert "starting containerd" in (read(lab, name, r"C:\ProgramData\containerd\containerd.log") or "")
        for tool in ("crictl.exe", "nerdctl.exe", "ctr.exe"):
            assert machine.fs.is_file(HOME + "\\bin\\" + tool), tool
    before = {name: lab.counters(name)["scripts"] for name in lab.hosts}
    second = lab.run(playbook)
    assert {r.name: r.status for r in second.results} == {"node22": "ok", "node25": "ok"}
    assert {name: lab.counters(name)["scripts"] - before[name] for name in lab.hosts} == {"node22": 1, "node25": 1}


def test_check_finds_config_drift_by_key_and_service_flag_drift_and_apply_repairs_them(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    lab = e2e_lab({"node": "k8s-node-2022"})
    playbook = k8s_playbook(lab)
    assert lab.run(playbook).code == 0
    machine = lab.hosts["node"].machine
    text = read(lab, "node", DROP_IN) or ""
    machine.fs.write(DROP_IN, text.replace("15m0s", "5m0s").encode())
    service = machine.service("containerd")
    assert service is not None
    # Someone re-registered the service without its flags (the SCM keeps the ImagePath in the registry too).
    service.image_path = f'"{HOME}\\bin\\containerd.exe" --run-service'
    machine.set_start_type(service, "Automatic")
    check = lab.run(playbook, "check")
    assert check.code == 2
    drift = {d.path: (d.before, d.after) for r in check.host("node").resources for d in r.diff}
    said = lab.cli("check", playbook)
    assert said.code == 2
    assert (
        f"containerd/config: containerd.config.plugins.{IMAGES}.image_pull_progress_timeout: 5m0s -> 15m0s" in said.out
    ), said.out
    assert drift[f"containerd.config.plugins.{IMAGES}.image_pull_progress_timeout"] == ("5m0s", "15m0s")
    assert drift["engine.service.command_line"][0] == f'"{HOME}\\bin\\containerd.exe" --run-service'
    repaired = lab.run(playbook)
    assert repaired.host("node").status == "changed", repaired.host("node").message
    assert "15m0s" in (read(lab, "node", DROP_IN) or "")
    assert "--log-level info" in (machine.service("containerd") or service).image_path
    assert lab.run(playbook, "check").code == 0


def test_an_upgrade_from_1_7_to_2_3_keeps_the_settings(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"node": "k8s-node-2022"})
    old = k8s_playbook(lab, "1.7.28")
    assert lab.run(old).code == 0, lab.run(old, "check").results[0].message
    config = tomllib.loads(read(lab, "node", HOME + r"\config.toml") or "")
    assert config["version"] == 2
    assert (
        config["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    )
    new = k8s_playbook(lab, "2.3.0")
    upgraded = lab.run(new)
    assert upgraded.host("node").status == "changed", upgraded.host("node").message
    verify = upgraded.host("node").verify
    assert verify is not None and verify["ok"], verify
    # config migrate rewrote the 1.x file (the old one kept aside) and the drop-in holds provision's keys.
    migrated = tomllib.loads(read(lab, "node", HOME + r"\config.toml") or "")
    assert migrated["version"] == 4
    assert migrated["plugins"][IMAGES]["pinned_images"]["sandbox"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    assert read(lab, "node", HOME + r"\config.toml.provision-backup") is not None
    assert lab.run(new, "check").code == 0


def test_kubelet_runs_again_after_containerd_is_upgraded_re_registered_and_reconfigured(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    # Stop-Service -Force stops the services that depend on containerd (kubelet: sc.exe create kubelet ...
    # depend= containerd), and Start-Service containerd does not start them again: the node went NotReady
    # after every engine change.
    from provision_lab.windows import programs

    lab = e2e_lab({"node": "k8s-node-2022"})
    assert lab.run(k8s_playbook(lab, "1.7.28")).code == 0
    machine = lab.hosts["node"].machine
    machine.fs.make_dirs(r"C:\k")
    machine.fs.write(r"C:\k\kubelet.exe", programs.image("kubelet", "1.34.2"))
    kubelet = machine.create_service("kubelet", "kubelet", r"C:\k\kubelet.exe --windows-service", "Automatic")
    kubelet.depends_on.append("containerd")
    machine.start_service(kubelet)
    assert kubelet.status == "Running"

    upgraded = lab.run(k8s_playbook(lab, "2.3.0"))  # stops containerd to swap bin\, and migrates config.toml
    assert upgraded.host("node").status == "changed", upgraded.host("node").message
    assert kubelet.status == "Running"

    containerd = machine.service("containerd")
    assert containerd is not None
    containerd.image_path = f'"{HOME}\\bin\\containerd.exe" --run-service'  # re-registered without its flags
    machine.fs.write(DROP_IN, (read(lab, "node", DROP_IN) or "").replace("15m0s", "5m0s").encode())  # and drifted
    repaired = lab.run(k8s_playbook(lab, "2.3.0"))
    assert repaired.host("node").status == "changed", repaired.host("node").message
    assert kubelet.status == "Running"
