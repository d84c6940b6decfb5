"""plan(spec, facts) per fixture host: feature method per SKU, image and isolation, preflight
verdicts, key-level diffs, pending reboots, the empty plan of a converged host, and purity."""

from __future__ import annotations

import builtins
import io
import json
import os
import socket
from typing import Any

import pytest

from provisioner.facts import Facts
from provisioner.plan import Plan, facts_request, plan
from provisioner.resources.container_verify import VerifyChoice
from provisioner.resources.daemon_config import DEFAULT_PATH, canonical_json
from provisioner.resources.virtualization import NESTED_FIX
from provisioner.spec import HostSpec

from .data import (
    FACT_NAMES,
    containers_spec,
    facts_path,
    load_facts,
    site_spec,
    spec_for,
    spec_with,
)

NANO = "mcr.microsoft.com/windows/nanoserver:"


def plan_for(name: str, spec: HostSpec | None = None) -> Plan:
    """The plan of a fixture under ``spec``, by default its own (spec_for: desktop on workstations)."""
    return plan(name, spec or spec_for(name), load_facts(name))


def facts_with(name: str, **changes: Any) -> Facts:
    """A fixture with some top-level sections (or nested keys, as "section.key") replaced."""
    data = json.loads(facts_path(name).read_text(encoding="utf-8"))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    return Facts.model_validate(data)


def _by_code(p: Plan, level: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for f in p.preflight:
        if f.level == level:
            found[f.code] = (found[f.code] + "\n" if f.code in found else "") + f.message
    return found


def errors(p: Plan) -> dict[str, str]:
    """Error messages by code (several findings of one code joined by newlines)."""
    return _by_code(p, "error")


def warnings(p: Plan) -> dict[str, str]:
    return _by_code(p, "warning")


def change(p: Plan, change_id: str) -> Any:
    found = [c for c in p.changes if c.id == change_id]
    assert found, f"no change {change_id} in {[c.id for c in p.changes]}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# Fixtures are valid facts (DESIGN 4.2 field names, nothing extra).

DESIGN_FIELDS = {
    "os": {"caption", "build", "ubr", "display_version", "edition_id", "product_type", "installation_type"},
    "hardware": {
        "memory_gb",
        "logical_processors",
        "vt_firmware_enabled",
        "vm_monitor_mode_extensions",
        "slat",
        "hypervisor_present",
        "is_vm",
        "vm_platform",
    },
    "reboot": {"pending", "reasons", "boot_id"},
    "engine": {"installed", "version", "path", "service"},
}


def test_fixture_set_is_complete() -> None:
    assert set(FACT_NAMES) >= {
        "server2019",
        "server2022",
        "server2025",
        "server2022-vm-nested",
        "server2022-vm-no-nested",
        "win10-22h2-pro",
        "win11-23h2-pro",
        "win10-home",
        "server2022-vt-off",
        "server2022-low-memory",
        "server2022-converged",
        "server2022-enable-pending",
        "server2016",
    }


WSL_FEATURES = {"VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"}
DESKTOP_FIELDS = {
    "installed",
    "version",
    "service",
    "computer_name",
    "group_exists",
    "group_members",
    "users",
    "sessions",
    "running_for",
    "engines",
    "wsl_version",
}


def test_fixture_uses_design_field_names(fixture_name: str) -> None:
    """DESIGN 4.2's keys exactly; workstations add Docker Desktop's under a key of its own (``desktop``)."""
    data = json.loads(facts_path(fixture_name).read_text(encoding="utf-8"))
    workstation = fixture_name.startswith("workstation-")
    assert set(data) == {
        "os",
        "hardware",
        "features",
        "reboot",
        "engine",
        "files",
        *(["desktop"] if workstation else []),
        *(["containerd"] if fixture_name.startswith("k8s-") else []),
    }
    for section, fields in DESIGN_FIELDS.items():
        assert set(data[section]) == fields, section
    assert set(data["engine"]["service"]) == {"exists", "status", "start_type"}
    for path, entry in data["files"].items():
        assert set(entry) == {"exists", "sha256", "content"}, path
    assert set(data["features"]) == {"Containers", "Microsoft-Hyper-V", *(WSL_FEATURES if workstation else ())}
    if workstation:
        assert set(data["desktop"]) == DESKTOP_FIELDS
        for user in data["desktop"]["users"].values():
            assert set(user) == {"sid", "profile", "daemon_json"}
    facts = load_facts(fixture_name)
    assert facts.model_extra == {} and facts.os.model_extra == {} and facts.hardware.model_extra == {}


def test_facts_request_probes_what_the_fixtures_hold() -> None:
    """The fixtures hold exactly what the FACTS block is asked to probe."""
    request = facts_request(site_spec())
    assert request.features == ["Containers", "Microsoft-Hyper-V"]
    assert request.services == ["docker"]
    assert request.files == [DEFAULT_PATH]
    assert request.engine_dir == r"C:\Program Files\docker"


# ---------------------------------------------------------------------------------------------
# Feature names and cmdlet method per SKU (windows-facts.md 3); Hyper-V goes through DISM on every SKU,
# physical or not (windows-audit.md F5).

FEATURES = [
    # fixture, Containers (method, role), Microsoft-Hyper-V (method, role)
    ("server2019", ("server", "Containers"), ("dism", None)),
    ("server2022", ("server", "Containers"), ("dism", None)),
    ("server2025", ("server", "Containers"), ("dism", None)),
    ("server2022-vm-nested", ("server", "Containers"), ("dism", None)),
    ("server2022-vm-no-nested", ("server", "Containers"), ("dism", None)),
    ("win10-22h2-pro", ("dism", None), ("dism", None)),
    ("win11-23h2-pro", ("dism", None), ("dism", None)),
]


@pytest.mark.parametrize("name, containers, hyperv", FEATURES)
def test_feature_names_and_method_per_sku(name: str, containers: tuple[Any, ...], hyperv: tuple[Any, ...]) -> None:
    p = plan_for(name)
    c = change(p, "feature/Containers").params
    h = change(p, "feature/Microsoft-Hyper-V").params
    assert (c.name, c.method, c.role) == ("Containers", *containers)
    assert (h.name, h.method, h.role) == ("Microsoft-Hyper-V", *hyperv)
    for ch in (change(p, "feature/Containers"), change(p, "feature/Microsoft-Hyper-V")):
        assert ch.type == "windows_feature" and ch.may_reboot
        assert [(d.path, d.before, d.after) for d in ch.diff] == [(f"features.{ch.params.name}", "Disabled", "Enabled")]


def test_changes_are_ordered_features_engine_daemon_with_requirements() -> None:
    p = plan_for("server2022")
    assert [c.id for c in p.changes] == [
        "feature/Containers",
        "feature/Microsoft-Hyper-V",
        "engine/docker",
        "daemon/config",
    ]
    assert change(p, "engine/docker").requires == ("feature/Containers", "feature/Microsoft-Hyper-V")
    assert change(p, "daemon/config").requires == ("feature/Containers", "feature/Microsoft-Hyper-V", "engine/docker")


def test_containers_only_spec_plans_no_hyperv_change() -> None:
    p = plan_for("server2022", containers_spec())
    assert [c.id for c in p.changes] == ["feature/Containers", "engine/docker", "daemon/config"]


# ---------------------------------------------------------------------------------------------
# Image tag and isolation per host (compat.py through container_verify.choose).

VERIFY = [
    ("server2019", "site", NANO + "1809", "process"),
    ("server2022", "site", NANO + "ltsc2022", "process"),
    ("server2025", "site", NANO + "ltsc2025", "process"),
    ("server2022-vm-nested", "site", NANO + "ltsc2022", "process"),
    ("win10-22h2-pro", "site", NANO + "1809", "hyperv"),
    ("win11-23h2-pro", "site", NANO + "ltsc2022", "process"),
    ("server2022-converged", "site", NANO + "ltsc2022", "process"),
    ("server2022", "containers", NANO + "ltsc2022", "process"),
    ("win11-23h2-pro", "containers", NANO + "ltsc2022", "process"),
]


def the_run(p: Plan) -> VerifyChoice:
    """The plan's one verify run, docker-ce's."""
    assert len(p.verify) == 1, (p.verify, p.preflight)
    run = p.verify[0]
    assert isinstance(run, VerifyChoice)
    return run


@pytest.mark.parametrize("name, spec_name, image, isolation", VERIFY)
def test_verify_image_and_isolation(name: str, spec_name: str, image: str, isolation: str) -> None:
    spec = site_spec() if spec_name == "site" else containers_spec()
    run = the_run(plan_for(name, spec))
    assert (run.image, run.isolation) == (image, isolation)
    assert run.command == ["cmd", "/c", "echo", "<nonce>"]
    params = run.params("n0nce")
    assert params.command == ["cmd", "/c", "echo", "n0nce"] and params.expect == "n0nce"
    assert params.docker == r"C:\Program Files\docker\docker.exe"


def test_windows10_without_hyperv_cannot_verify_and_says_what_to_add() -> None:
    """Windows 10 runs Windows containers under Hyper-V isolation only (windows-facts.md 1.2)."""
    p = plan_for("win10-22h2-pro", containers_spec())
    assert p.verify == ()
    message = errors(p)["verify.isolation"]
    assert "Hyper-V" in message and "spec.features" in message


def test_windows10_with_hyperv_already_enabled_falls_back_to_hyperv() -> None:
    """Hyper-V counts as available when the host already has it, even if the spec does not ask."""
    facts = facts_with("win10-22h2-pro", features={"Containers": "Disabled", "Microsoft-Hyper-V": "Enabled"})
    p = plan("win10", containers_spec(), facts)
    assert the_run(p).isolation == "hyperv"


def test_server2019_with_ltsc2022_image_is_refused_as_newer_than_the_host() -> None:
    spec = spec_with(site_spec(), verify={"image": NANO + "ltsc2022", "isolation": "auto"})
    p = plan_for("server2019", spec)
    assert p.verify == () and p.blocked
    message = errors(p)["verify.isolation"]
    assert "newer than the host" in message and "20348" in message and "17763" in message


@pytest.mark.parametrize("isolation", ["process", "hyperv"])
def test_explicit_isolation_with_newer_image_is_refused(isolation: str) -> None:
    spec = spec_with(site_spec(), verify={"image": NANO + "ltsc2022", "isolation": isolation})
    p = plan_for("server2019", spec)
    assert p.verify == ()
    assert "newer" in errors(p)["verify.isolation"]


def test_explicit_hyperv_isolation_without_hyperv_is_refused() -> None:
    spec = spec_with(containers_spec(), verify={"image": "auto", "isolation": "hyperv"})
    p = plan_for("server2022", spec)
    assert p.verify == ()
    assert "add Hyper-V to spec.features" in errors(p)["verify.isolation"]


def test_tagless_image_is_a_warning_not_an_error() -> None:
    spec = spec_with(site_spec(), verify={"image": "registry.example/hello:1.0", "isolation": "auto"})
    p = plan_for("server2022", spec)
    assert the_run(p).isolation == "process"
    assert "verify.image" in warnings(p) and not p.blocked


# ---------------------------------------------------------------------------------------------
# Preflight verdicts (resources/virtualization.py, container_engine.py, windows_feature.py).

EXPECTED_FINDINGS: dict[str, tuple[set[str], set[str]]] = {
    # fixture: (error codes, warning codes) under its spec (spec_for: the desktop spec on workstation-*)
    "server2016": ({"engine.build", "verify.image"}, set()),
    "server2019": (set(), set()),
    "server2022": (set(), set()),
    "server2025": (set(), set()),
    "server2022-vm-nested": (set(), set()),
    "server2022-vm-no-nested": ({"nested"}, set()),
    "win10-22h2-pro": (set(), set()),
    "win11-23h2-pro": (set(), set()),
    "win10-home": ({"edition.home", "feature.absent"}, set()),
    "server2022-vt-off": ({"firmware.vt"}, set()),
    "server2022-low-memory": ({"memory"}, set()),
    "server2022-converged": (set(), set()),
    "server2022-enable-pending": (set(), set()),
    "workstation-win11-23h2-pro": (set(), set()),
    "workstation-win11-23h2-pro-logged-on": (set(), set()),
    "workstation-win11-23h2-home": ({"desktop.edition.home", "feature.absent"}, set()),
    "k8s-node-2022": (set(), set()),
    "k8s-node-2022-containerd17": (set(), set()),
}


def test_every_fixture_has_expected_findings() -> None:
    assert set(EXPECTED_FINDINGS) == set(FACT_NAMES)


@pytest.mark.parametrize("name", sorted(EXPECTED_FINDINGS))
def test_preflight_findings(name: str) -> None:
    p = plan_for(name)
    expected_errors, expected_warnings = EXPECTED_FINDINGS[name]
    assert set(errors(p)) == expected_errors, p.preflight
    assert set(warnings(p)) == expected_warnings, p.preflight
    assert p.blocked == bool(expected_errors)


def test_home_edition_error_says_upgrade_to_pro_or_enterprise() -> None:
    p = plan_for("win10-home")
    message = errors(p)["edition.home"]
    assert "Home" in message and "Core" in message and "Pro or Enterprise" in message
    assert p.blocked and not p.in_state


def test_firmware_vt_off_names_the_bios_uefi_setting() -> None:
    message = errors(plan_for("server2022-vt-off"))["firmware.vt"]
    assert "BIOS/UEFI" in message
    assert "VT-x" in message and "AMD-V" in message


def test_firmware_reading_false_under_a_running_hypervisor_is_not_an_error() -> None:
    """windows-facts.md 2: VirtualizationFirmwareEnabled reads False once a hypervisor runs."""
    facts = facts_with("server2022-vt-off", hardware__hypervisor_present=True)
    assert "firmware.vt" not in errors(plan("h", site_spec(), facts))


def test_firmware_vt_off_is_ignored_when_not_required() -> None:
    spec = spec_with(site_spec(), virtualization={"require_firmware_vt": False})
    assert "firmware.vt" not in errors(plan_for("server2022-vt-off", spec))


def test_vm_without_nested_names_set_vmprocessor_when_nested_is_required() -> None:
    spec = spec_with(site_spec(), virtualization={"nested": "required"})
    message = errors(plan_for("server2022-vm-no-nested", spec))["nested"]
    assert "Set-VMProcessor -VMName <vm> -ExposeVirtualizationExtensions $true" in message
    assert "powered off" in message and "(Hyper-V)" in message


def test_vm_without_nested_is_an_error_when_the_guest_sees_no_vmx() -> None:
    """Every guest reads HypervisorPresent True (the parent's), so only VMX tells: a guest that
    sees no VM Monitor Mode Extensions surely has no nested virtualization (nested: auto errors)."""
    message = errors(plan_for("server2022-vm-no-nested"))["nested"]
    assert NESTED_FIX in message and "(Hyper-V)" in message


def test_vm_with_vmx_and_firmware_vt_is_taken_as_nested() -> None:
    assert "nested" not in {f.code for f in plan_for("server2022-vm-nested").preflight}


def test_vm_nested_unknown_is_a_warning_naming_the_fix() -> None:
    """VMX visible but firmware VT reading off: no in-guest API decides (windows-facts.md 2)."""
    facts = facts_with("server2022-vm-nested", hardware__vt_firmware_enabled=False)
    assert NESTED_FIX in warnings(plan("vm", site_spec(), facts))["nested"]
    assert "nested" not in errors(plan("vm", site_spec(), facts))


def test_vm_nested_unknown_is_an_error_when_required() -> None:
    facts = facts_with("server2022-vm-nested", hardware__vt_firmware_enabled=False)
    spec = spec_with(site_spec(), virtualization={"nested": "required"})
    assert NESTED_FIX in errors(plan("vm", spec, facts))["nested"]


@pytest.mark.parametrize(
    "launch_failed, vmx, nested",
    [
        (False, False, "yes"),
        (True, False, "no"),
        (True, True, "unknown"),
        (None, False, "unknown"),
        (None, True, "unknown"),
    ],
)
def test_vm_with_hyperv_enabled_is_nested_only_without_a_launch_failure(
    launch_failed: bool | None, vmx: bool, nested: str
) -> None:
    """Hyper-V Enabled with no launch failure since the boot means it launched: the readings (hidden under a
    running hypervisor) no longer matter. DISM enables it where its hypervisor cannot start (windows-audit.md
    F6), so Enabled with a failure logged, or with a log that could not be read, is no proof."""
    facts = facts_with(
        "server2022-vm-nested",
        hardware__vt_firmware_enabled=vmx,
        hardware__vm_monitor_mode_extensions=vmx,
        hardware__hypervisor_launch_failed=launch_failed,
        features={"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"},
    )
    assert facts.nested_virtualization == nested
    assert ("nested" in {f.code for f in plan("vm", site_spec(), facts).preflight}) == (nested != "yes")


def test_vm_nested_not_checked_without_hyperv() -> None:
    assert "nested" not in {f.code for f in plan_for("server2022-vm-no-nested", containers_spec()).preflight}


def test_low_memory_names_the_amount_and_the_minimum() -> None:
    message = errors(plan_for("server2022-low-memory"))["memory"]
    assert "1.99 GB" in message and "4 GB" in message and "min_memory_gb" in message


def test_memory_slack_accepts_a_4gb_machine_reporting_a_little_less() -> None:
    facts = facts_with("server2022", hardware__memory_gb=3.8)
    assert "memory" not in errors(plan("h", site_spec(), facts))


def test_engine_23_or_newer_refused_below_17763() -> None:
    message = errors(plan_for("server2016"))["engine.build"]
    assert "17763" in message and "14393" in message and "20.10" in message


def test_engine_20_10_accepted_below_17763() -> None:
    engine = site_spec().engine
    assert engine is not None
    spec = spec_with(site_spec(), engine={**engine.model_dump(), "version": "20.10.24"})
    assert "engine.build" not in errors(plan_for("server2016", spec))


def test_home_features_absent_are_errors_not_changes() -> None:
    p = plan_for("win10-home")
    lines = errors(p)["feature.absent"].splitlines()
    assert len(lines) == 2
    assert "feature Containers is not available on Microsoft Windows 10 Home (Core)" in lines
    assert "feature Microsoft-Hyper-V is not available on Microsoft Windows 10 Home (Core)" in lines
    assert not [c for c in p.changes if c.type == "windows_feature"]


# ---------------------------------------------------------------------------------------------
# Engine, daemon.json, pending reboots, converged host.


def test_fresh_host_engine_diff() -> None:
    ch = change(plan_for("server2022"), "engine/docker")
    assert [(d.path, d.before, d.after) for d in ch.diff] == [
        ("engine.version", None, "27.3.1"),
        ("engine.service", "absent", "Running"),
    ]
    assert ch.params.url == "https://download.docker.com/win/static/stable/x86_64/docker-27.3.1.zip"
    assert ch.params.sha256 == site_spec().engine.sha256  # type: ignore[union-attr]


def test_engine_version_diff_is_an_upgrade() -> None:
    data = json.loads(facts_path("server2022-converged").read_text(encoding="utf-8"))
    data["engine"]["version"] = "26.1.4"
    p = plan("h", site_spec(), Facts.model_validate(data))
    assert [c.id for c in p.changes] == ["engine/docker"]
    assert [(d.path, d.before, d.after) for d in p.changes[0].diff] == [("engine.version", "26.1.4", "27.3.1")]


@pytest.mark.parametrize(
    "status, start_type, expected",
    [
        ("Stopped", "Automatic", [("engine.service.status", "Stopped", "Running")]),
        ("Running", "Manual", [("engine.service.start_type", "Manual", "Automatic")]),
    ],
)
def test_engine_service_drift(status: str, start_type: str, expected: list[tuple[str, str, str]]) -> None:
    data = json.loads(facts_path("server2022-converged").read_text(encoding="utf-8"))
    data["engine"]["service"].update(status=status, start_type=start_type)
    p = plan("h", site_spec(), Facts.model_validate(data))
    assert [(d.path, d.before, d.after) for d in change(p, "engine/docker").diff] == expected


def test_fresh_daemon_diff_is_key_level() -> None:
    ch = change(plan_for("server2022"), "daemon/config")
    daemon = site_spec().daemon
    assert daemon is not None
    assert [(d.path, d.before, d.after) for d in ch.diff] == [(f"daemon.{k}", None, daemon[k]) for k in sorted(daemon)]
    assert json.loads(ch.params.content) == daemon
    assert ch.params.content == canonical_json(daemon)
    assert ch.params.validate_config is True  # Engine 27.3 >= 23.0: dockerd --validate exists


def daemon_facts(content: str) -> Facts:
    data = json.loads(facts_path("server2022-converged").read_text(encoding="utf-8"))
    data["files"][DEFAULT_PATH] = {"exists": True, "sha256": "0" * 64, "content": content}
    return Facts.model_validate(data)


def test_daemon_key_level_diff_names_only_changed_keys() -> None:
    current = {**site_spec().daemon, "log-level": "debug", "debug": True}  # type: ignore[dict-item]
    del current["labels"]
    p = plan("h", site_spec(), daemon_facts(json.dumps(current)))
    assert [c.id for c in p.changes] == ["daemon/config"]
    assert [(d.path, d.before, d.after) for d in p.changes[0].diff] == [
        ("daemon.debug", True, None),
        ("daemon.labels", None, ["provision.site=lab", "provision.owner=ops"]),
        ("daemon.log-level", "debug", "info"),
    ]


@pytest.mark.parametrize("variant", ["compact", "bom", "crlf", "reordered"])
def test_daemon_same_keys_in_another_layout_is_in_state(variant: str) -> None:
    daemon = dict(site_spec().daemon or {})
    content = {
        "compact": json.dumps(daemon, separators=(",", ":")),
        "bom": "\ufeff" + canonical_json(daemon),
        "crlf": canonical_json(daemon).replace("\n", "\r\n"),
        "reordered": json.dumps(dict(reversed(list(daemon.items()))), indent=4),
    }[variant]
    assert plan("h", site_spec(), daemon_facts(content)).changes == []


def test_daemon_file_that_is_not_an_object_is_rewritten() -> None:
    p = plan("h", site_spec(), daemon_facts('["not", "an", "object"]'))
    assert [(d.path, d.before) for d in change(p, "daemon/config").diff] == [("daemon", "<not a JSON object>")]


def test_daemon_settings_absent_leave_the_file_alone() -> None:
    spec = spec_with(site_spec(), daemon=None)
    assert not [c for c in plan_for("server2022", spec).changes if c.type == "daemon_config"]


def test_enable_pending_means_reboot_required_not_in_state() -> None:
    p = plan_for("server2022-enable-pending")
    assert not p.in_state
    for feature in ("Containers", "Microsoft-Hyper-V"):
        ch = change(p, f"feature/{feature}")
        assert ch.may_reboot
        assert [(d.path, d.before, d.after) for d in ch.diff] == [(f"features.{feature}", "EnablePending", "Enabled")]
    # The engine waits for the features (and their reboot) through `requires`.
    assert change(p, "engine/docker").requires == ("feature/Containers", "feature/Microsoft-Hyper-V")


def test_disable_pending_is_a_change_too() -> None:
    features = {"Containers": "DisablePending", "Microsoft-Hyper-V": "Enabled"}
    facts = facts_with("server2022-converged", features=features)
    p = plan("h", site_spec(), facts)
    assert [c.id for c in p.changes] == ["feature/Containers"]


def test_converged_host_has_an_empty_plan() -> None:
    p = plan_for("server2022-converged")
    assert p.changes == []
    assert p.preflight == []
    assert p.in_state and not p.blocked
    assert p.to_json()["changes"] == []


def test_converged_host_is_in_state_for_the_containers_only_spec_too() -> None:
    """Hyper-V left Enabled when the spec does not ask for it is not drift (nothing removes features)."""
    assert plan_for("server2022-converged", containers_spec()).in_state


def test_to_json_round_trips_through_json() -> None:
    for name in FACT_NAMES:
        document = plan_for(name).to_json()
        assert json.loads(json.dumps(document)) == document


# ---------------------------------------------------------------------------------------------
# Purity: plan() opens no socket and no file (DESIGN 2: "pure Python, no I/O").


def test_plan_is_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = {name: load_facts(name) for name in FACT_NAMES}  # read the fixtures first
    specs = [site_spec(), containers_spec()]
    touched: list[str] = []

    def refuse(what: str) -> Any:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            touched.append(what)
            raise AssertionError(f"plan() used {what}")

        return _refuse

    monkeypatch.setattr(socket, "socket", refuse("socket.socket"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(builtins, "open", refuse("open"))
    monkeypatch.setattr(io, "open", refuse("io.open"))
    monkeypatch.setattr(os, "open", refuse("os.open"))
    results = [plan(name, spec, f) for name, f in facts.items() for spec in specs]
    assert touched == []
    assert len(results) == 2 * len(FACT_NAMES)
    # The guard itself works: a socket would have been refused.
    with pytest.raises(AssertionError):
        socket.socket()
