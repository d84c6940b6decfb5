"""A fresh Windows Server 2022 host converges in one run, and a second run costs one script (DESIGN 2, 4.4, 7)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable

from provision_lab.windows.host import DAEMON_JSON
from provisioner.resources.container_engine import EngineData
from provisioner.resources.daemon_config import DaemonData
from provisioner.resources.windows_feature import FeatureData

from .conftest import DOCKER_VERSION, PASSWORD, E2ELab, canonical_daemon_json

INSTALL_DIR = r"C:\Program Files\docker"


def delta(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({key: after[key] - before[key] for key in after if after[key] != before[key]})


def test_fresh_server2022_converges_and_a_second_apply_is_one_script(
    e2e_lab: Callable[..., E2ELab], transport: str
) -> None:
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup(transport)
    spec = lab.load(playbook).targets[0].spec
    assert spec.features == ["Containers", "Hyper-V"] and spec.engine is not None and spec.daemon
    fresh = lab.snapshot("web1")
    assert fresh["features"] == {"Containers": "Disabled", "Microsoft-Hyper-V": "Disabled"}
    before = lab.counters("web1")

    first = lab.cli("apply", playbook, report=True)

    assert first.code == 0, first.out + first.err
    host = first.report_host("web1")
    assert host["status"] == "changed", host
    assert host["error"] is None
    assert host["reboots"] == 1
    spent = delta(lab.counters("web1"), before)
    assert spent["reboots"] == 1 and spent["boots"] == 1, spent
    state = lab.snapshot("web1")
    assert state["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}
    assert state["boot_id"] != fresh["boot_id"]
    assert state["pending_reasons"] == [] and state["hypervisor_running"] is True
    assert state["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    assert state["services"]["docker"]["status"] == "Running"
    assert state["services"]["docker"]["start_type"] == "Automatic"
    assert state["machine_path"].count(INSTALL_DIR) == 1
    assert state["files"][DAEMON_JSON]["content"] == canonical_daemon_json(spec.daemon)
    assert state["service_log"] == []
    # The proof: a hello-world container with the tag and isolation the compat rules give Server 2022.
    assert host["verify"] == {
        "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "isolation": "process",
        "ok": True,
        "message": "",
    }
    assert state["images"] == {"mcr.microsoft.com/windows/nanoserver:ltsc2022": 20348}
    changed = {r["id"] for r in host["resources"] if r["status"] == "changed"}
    assert {"feature/Containers", "feature/Microsoft-Hyper-V", "engine/docker", "daemon/config"} <= changed
    paths = {d["path"] for r in host["resources"] for d in r["diff"]}
    assert {"features.Containers", "features.Microsoft-Hyper-V", "engine.version"} <= paths
    # The report's transport counters cover the whole run, not only the connection opened last
    # (the reboot's own answer may be lost as the host goes down).
    assert spent["scripts"] - 1 <= host["transport"]["scripts"] <= spent["scripts"], (host["transport"], spent)
    assert "web1: changed" in first.out
    assert PASSWORD not in first.out + first.err + json.dumps(first.report)

    # Second run, through the engine: nothing to do, one FACTS script and nothing else.
    converged = lab.snapshot("web1")
    before = lab.counters("web1")
    second = lab.run(playbook)

    result = second.host("web1")
    assert second.code == 0
    assert result.status == "ok", result.message
    assert [r for r in result.resources if r.status != "ok"] == []
    assert result.reboots == 0 and result.verify is None
    spent = delta(lab.counters("web1"), before)
    assert spent["scripts"] == 1 and spent["block.facts"] == 1 and spent["blocks"] == 1, spent
    assert result.counters.scripts == 1
    if transport.startswith("winrm"):
        assert spent["wsman.messages"] <= 5, spent
        assert result.counters.messages <= 5, result.counters
    else:
        assert spent["ssh.commands"] == 1 and spent["ssh.connections"] == 1, spent
    assert lab.snapshot("web1") == converged
    assert [e.kind for e in second.events_of("web1")] == ["facts", "done"]


def test_second_apply_through_the_cli_reports_ok_with_zero_changes(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup("winrm-ntlm-https")
    assert lab.cli("apply", playbook).code == 0
    before = lab.counters("web1")

    second = lab.cli("apply", playbook, report=True)

    assert second.code == 0, second.out + second.err
    host = second.report_host("web1")
    assert host["status"] == "ok" and host["reboots"] == 0
    assert [r for r in host["resources"] if r["status"] != "ok"] == []
    assert second.report["summary"] == {"ok": 1}
    assert host["transport"]["scripts"] == 1 and host["transport"]["messages"] <= 5, host["transport"]
    spent = delta(lab.counters("web1"), before)
    assert spent["scripts"] == 1 and spent["wsman.messages"] <= 5, spent


def test_each_apply_record_reaches_the_result_as_its_resources_data_model(e2e_lab: Callable[..., E2ELab]) -> None:
    """The controller reads every block's record ``data`` (resources/base.py), typed by the resource's model,
    with what the lab's Windows really did: the engine had no version before, daemon.json no file."""
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup("winrm-ntlm-https")
    spec = lab.load(playbook).targets[0].spec
    assert spec.daemon is not None

    result = lab.run(playbook).host("web1")

    assert result.status == "changed", result.message
    data = {r.id: r.data for r in result.resources}
    assert data["engine/docker"] == EngineData(before=None, after=DOCKER_VERSION, service="Running")
    want_sha = hashlib.sha256(canonical_daemon_json(spec.daemon).encode("utf-8")).hexdigest()
    daemon = data["daemon/config"]
    assert isinstance(daemon, DaemonData) and (daemon.before_sha256, daemon.after_sha256) == (None, want_sha)
    for feature in ("Containers", "Microsoft-Hyper-V"):
        # The record of the block that enabled it, before the reboot finished it (DESIGN 4.4).
        assert data[f"feature/{feature}"] == FeatureData(before="Disabled", after="EnablePending")
