"""Windows SKUs and machines: client cmdlets and names, and the preflight errors that stop a host
before any change (DESIGN 4.3, windows-facts.md sections 1-3)."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.api import Faults
from provision_lab.windows.host import DAEMON_JSON

from .conftest import DOCKER_VERSION, E2ELab, block_markers


def test_windows_11_pro_converges_with_the_client_cmdlets_and_feature_names(
    e2e_lab: Callable[..., E2ELab], transport: str
) -> None:
    lab = e2e_lab({"desk1": "win11-23h2-pro"})
    playbook = lab.setup(transport)

    outcome = lab.run(playbook)

    result = outcome.host("desk1")
    assert outcome.code == 0 and result.status == "changed", result.message
    assert result.reboots == 1
    features = [m for script in lab.scripts["desk1"] for m in block_markers(script) if m["type"] == "windows_feature"]
    assert features, "no windows_feature block was sent"
    # Client SKUs have no Server Manager: the DISM cmdlet with the optional-feature names.
    assert {(m["params"]["name"], m["params"]["method"]) for m in features} == {
        ("Containers", "dism"),
        ("Microsoft-Hyper-V", "dism"),
    }
    assert all(m["params"].get("role") is None for m in features)
    state = lab.snapshot("desk1")
    assert state["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}
    assert state["engines"] == {r"C:\Program Files\docker": DOCKER_VERSION}
    assert DAEMON_JSON in state["files"]
    # Windows 11 runs the ltsc2022 image with process isolation (Microsoft's compatibility matrix).
    assert result.verify == {
        "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "isolation": "process",
        "ok": True,
        "message": "",
    }
    assert result.facts is not None and result.facts["os"]["product_type"] == 1


def test_windows_server_installs_containers_with_install_windowsfeature_and_hyper_v_with_dism(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    # Hyper-V goes through DISM on every SKU, so nothing depends on recognising a VM (windows-audit.md F5).
    lab = e2e_lab({"srv1": "server2022"})
    playbook = lab.setup("winrm-ntlm-https")

    assert lab.run(playbook).host("srv1").status == "changed"

    features = [m for script in lab.scripts["srv1"] for m in block_markers(script) if m["type"] == "windows_feature"]
    assert {(m["params"]["name"], m["params"]["method"], m["params"]["role"]) for m in features} == {
        ("Containers", "server", "Containers"),
        ("Microsoft-Hyper-V", "dism", None),
    }


def test_preflight_errors_stop_each_host_before_any_change(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab(
        {
            "home": "win10-home",
            "novt": "bios-vt-off",
            "vmnonest": "vm-no-nested",
            "old2019": "server2019",
        }
    )
    # server2019 is asked to prove itself with an ltsc2022 image: newer than the host.
    playbook = lab.setup(
        transport,
        spec={"verify": {"image": "{{ verify_image | default('auto') }}"}},
        host_vars={"old2019": {"verify_image": "mcr.microsoft.com/windows/nanoserver:ltsc2022"}},
    )
    before = {name: lab.snapshot(name) for name in lab.hosts}

    run = lab.cli("apply", playbook, report=True)

    assert run.code == 3, run.out + run.err
    for name in lab.hosts:
        host = run.report_host(name)
        assert host["status"] == "failed", (name, host)
        assert host["error"].startswith("preflight: "), host["error"]
        assert host["resources"] == [] and host["reboots"] == 0
        assert lab.snapshot(name) == before[name], f"{name} was changed"
        assert lab.counters(name)["scripts"] == 1, f"{name} ran more than its FACTS script"
        assert host["error"] in run.out
    errors = {name: run.report_host(name)["error"] for name in lab.hosts}
    codes = {
        name: {f["code"] for f in run.report_host(name)["preflight"] if f["level"] == "error"} for name in lab.hosts
    }

    assert "Home" in errors["home"] and "upgrade the edition" in errors["home"]
    assert "edition.home" in codes["home"]

    # The firmware setting is named, for Intel and AMD.
    assert "BIOS/UEFI" in errors["novt"] and "VT-x" in errors["novt"] and "AMD-V" in errors["novt"]
    assert codes["novt"] == {"firmware.vt"}

    # The fix is on the parent Hyper-V host, with the VM off.
    assert "Set-VMProcessor -VMName <vm> -ExposeVirtualizationExtensions $true" in errors["vmnonest"]
    assert "powered off" in errors["vmnonest"]

    assert "mcr.microsoft.com/windows/nanoserver:ltsc2022" in errors["old2019"]
    assert "newer than the host" in errors["old2019"] and "17763" in errors["old2019"]
    assert codes["old2019"] == {"verify.isolation"}


def test_vm_no_nested_without_hyper_v_wanted_is_not_refused(e2e_lab: Callable[..., E2ELab]) -> None:
    """The nested-virtualization error is about Hyper-V: a VM that only wants Containers passes preflight
    and proves itself with process isolation."""
    lab = e2e_lab({"vm1": "vm-no-nested"})
    playbook = lab.setup("winrm-ntlm-https", spec={"features": ["Containers"]})

    result = lab.run(playbook).host("vm1")

    assert result.status == "changed", result.message
    assert lab.snapshot("vm1")["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Disabled"}
    assert result.verify is not None and result.verify["isolation"] == "process" and result.verify["ok"]


def test_server2019_with_auto_image_gets_its_own_build(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"old": ("server2019", Faults())})
    playbook = lab.setup("winrm-ntlm-https")

    result = lab.run(playbook).host("old")

    assert result.status == "changed", result.message
    assert result.verify is not None and result.verify["ok"]
    assert result.verify["isolation"] == "process"
    # Whatever tag compat.py picks, the image docker pulled is one of the host's own build.
    assert set(lab.snapshot("old")["images"].values()) == {17763}
