"""Docker Desktop's plan rules (issue 7): SKU, build, edition, licence, LCOW, features per backend, the
installer's command line, docker-users, per-user settings, pending_logon and when to verify.

Each rule's source is in the docstring of the module that implements it (resources/virtualization.py,
docker_desktop.py, docker_users.py, desktop_config.py, desktop_verify.py, wsl_package.py), keyed to
/work/shared/research/docker-desktop.md.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from provision_lab.powershell.cmdline import split_command_line
from provisioner.facts import Facts
from provisioner.plan import Plan, facts_request, plan
from provisioner.resources.desktop_verify import RECORD, DesktopVerifyChoice, fingerprint
from provisioner.resources.docker_desktop import DesktopProbe, desktop_features, install_arguments, install_command_line
from provisioner.spec import DockerDesktopSpec, HostSpec

from .data import desktop_spec, facts_path, load_facts, spec_with

WS = "workstation-win11-23h2-pro"
LOGGED_ON = "workstation-win11-23h2-pro-logged-on"


def desktop(**engine: Any) -> HostSpec:
    """The desktop spec with engine keys replaced (a None value removes one)."""
    data = desktop_spec().model_dump(mode="json", exclude_none=True)
    for key, value in engine.items():
        if value is None:
            data["engine"].pop(key, None)
        else:
            data["engine"][key] = value
    return HostSpec.model_validate(data)


def facts_of(name: str, **changes: Any) -> Facts:
    """A fixture with sections changed: ``os={...}`` merges into os, ``desktop={...}`` into desktop."""
    data = json.loads(facts_path(name).read_text(encoding="utf-8"))
    for section, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section].update(value)
        else:
            data[section] = value
    return Facts.model_validate(data)


def codes(p: Plan, level: str = "error") -> set[str]:
    return {f.code for f in p.preflight if f.level == level}


def runs(p: Plan) -> list[DesktopVerifyChoice]:
    """The plan's verify runs, each Docker Desktop's."""
    found = [run for run in p.verify if isinstance(run, DesktopVerifyChoice)]
    assert len(found) == len(p.verify), p.verify
    return found


def message(p: Plan, code: str) -> str:
    return "\n".join(f.message for f in p.preflight if f.code == code)


# ---------------------------------------------------------------------------------------------
# Where Docker Desktop may run.


def test_windows_server_is_refused_with_docker_ce_as_the_alternative() -> None:
    p = plan("s", desktop_spec(), load_facts("server2022"))
    assert codes(p) == {"desktop.server"}
    text = message(p, "desktop.server")
    assert "Docker Desktop is not supported on Windows Server 2022" in text
    assert "[DD-WIN; DD-FAQW]" in text and "engine.type: docker-ce" in text
    assert p.blocked


@pytest.mark.parametrize(
    "build, display, ok",
    [
        (19044, "21H2", False),
        (19045, "22H2", True),
        (22000, "21H2", False),
        (22621, "22H2", False),
        (22631, "23H2", True),
        (26100, "24H2", True),
    ],
)
def test_build_minimums_are_windows_10_22h2_and_windows_11_23h2(build: int, display: str, ok: bool) -> None:
    p = plan("w", desktop_spec(), facts_of(WS, os={"build": build, "display_version": display}))
    assert ("desktop.build" not in codes(p)) == ok, p.preflight
    if not ok:
        assert ("19045" if build < 22000 else "22631") in message(p, "desktop.build")


def test_home_cannot_have_windows_containers_and_says_what_to_do() -> None:
    p = plan("h", desktop_spec(), load_facts("workstation-win11-23h2-home"))
    assert "desktop.edition.home" in codes(p)
    text = message(p, "desktop.edition.home")
    assert "Windows Home or Education editions only allow you to run Linux containers" in text
    assert "windows_containers: false" in text and "Pro or Enterprise" in text
    # The generic "Home cannot run Windows containers or Hyper-V" rule is docker-ce's, not repeated here.
    assert "edition.home" not in codes(p)


def test_home_with_linux_containers_on_wsl2_is_a_warning_and_with_hyperv_an_error() -> None:
    home = load_facts("workstation-win11-23h2-home")
    wsl = plan("h", desktop(windows_containers=False), home)
    assert codes(wsl) == set() and codes(wsl, "warning") == {"desktop.edition.home"}
    assert not wsl.blocked
    hyperv = plan("h", desktop(windows_containers=False, backend="hyperv", wsl=None), home)
    assert "desktop.edition.home" in codes(hyperv)
    assert "use backend: wsl2" in message(hyperv, "desktop.edition.home")


def test_education_runs_linux_containers_only() -> None:
    education = facts_of(WS, os={"edition_id": "Education", "caption": "Microsoft Windows 11 Education"})
    assert "desktop.edition.education" in codes(plan("e", desktop_spec(), education))
    assert codes(plan("e", desktop(windows_containers=False), education)) == set()


def test_a_vm_is_a_warning_naming_docker_business_and_nested_virtualization() -> None:
    vm = facts_of(WS, hardware={"is_vm": True, "vm_platform": "VMware", "hypervisor_present": True})
    p = plan("v", desktop_spec(), vm)
    assert "desktop.vm" in codes(p, "warning")
    assert "Docker Business" in message(p, "desktop.vm") and "client.vm" not in codes(p, "warning")


# ---------------------------------------------------------------------------------------------
# Licence, pins, settings.


def test_accept_license_is_required_and_names_the_subscription_terms() -> None:
    p = plan("w", desktop(accept_license=False), load_facts(WS))
    assert codes(p) == {"desktop.license"}
    text = message(p, "desktop.license")
    for fragment in (
        "Docker Subscription Service Agreement",
        "more than 250 employees",
        "USD 10 million",
        "paid subscription",
        "engine.accept_license: true",
    ):
        assert fragment in text


def test_a_build_that_is_not_the_versions_build_is_an_error() -> None:
    assert "desktop.build_pin" in codes(plan("w", desktop(build=198353), load_facts(WS)))
    assert "desktop.build_pin" not in codes(plan("w", desktop(version="4.99.0", build=1), load_facts(WS)))


def test_daemon_settings_need_users_to_hold_them() -> None:
    p = plan("w", desktop(users=[]), load_facts(WS))
    assert "desktop.daemon_users" in codes(p)
    assert "windows-daemon.json" in message(p, "desktop.daemon_users")


def test_engine_switch_warning_for_versions_before_4_39() -> None:
    old = plan("w", desktop(version="4.38.0", build=1), load_facts(WS))
    assert "desktop.engine_switch" in codes(old, "warning")
    assert "desktop.engine_switch" not in codes(
        plan("w", desktop(version="4.84.0", build=234817), load_facts(WS)), "warning"
    )


# ---------------------------------------------------------------------------------------------
# LCOW on docker-ce.


def lcow_spec(version: str) -> HostSpec:
    return HostSpec.model_validate(
        {"features": ["Containers"], "engine": {"version": version, "sha256": "ab" * 32}, "verify": {"linux": True}}
    )


def test_linux_containers_on_docker_ce_are_lcow_removed_in_23() -> None:
    p = plan("s", lcow_spec("27.3.1"), load_facts("server2022"))
    assert codes(p) == {"lcow"}
    text = message(p, "lcow")
    assert "was removed in Docker Engine 23.0" in text and "[CLI-DEPR]" in text
    assert "Docker Desktop with the WSL 2 backend on a workstation" in text and "a Linux node" in text
    assert p.verify == ()


def test_lcow_on_an_old_engine_says_deprecated_then_removed() -> None:
    p = plan("s", lcow_spec("20.10.24"), load_facts("server2022"))
    assert "is deprecated since Docker Engine 20.10 and was removed in 23.0" in message(p, "lcow")


def test_linux_containers_on_docker_desktop_are_not_lcow() -> None:
    assert "lcow" not in codes(plan("w", desktop_spec(), load_facts(WS)))


# ---------------------------------------------------------------------------------------------
# Features per backend, before the installer.


@pytest.mark.parametrize(
    "backend, windows, expected",
    [
        ("wsl2", True, ["Containers", "Hyper-V", "VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"]),
        ("hyperv", True, ["Containers", "Hyper-V"]),
        ("wsl2", False, ["VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"]),
        ("hyperv", False, ["Hyper-V"]),
    ],
)
def test_features_per_backend(backend: str, windows: bool, expected: list[str]) -> None:
    extra: dict[str, Any] = {"wsl": None} if backend == "hyperv" else {}
    spec = desktop(backend=backend, windows_containers=windows, **extra)
    assert isinstance(spec.engine, DockerDesktopSpec)
    assert desktop_features(spec) == expected
    p = plan("w", spec, load_facts(WS))
    dism = {"Hyper-V": "Microsoft-Hyper-V"}
    assert [c.id for c in p.changes if c.type == "windows_feature"] == [f"feature/{dism.get(f, f)}" for f in expected]
    assert all(c.params.method == "dism" for c in p.changes if c.type == "windows_feature")  # type: ignore[attr-defined]
    install = next(c for c in p.changes if c.type == "docker_desktop")
    assert set(install.requires) >= {f"feature/{dism.get(f, f)}" for f in expected}


def test_fresh_workstation_plans_features_wsl_install_users_and_settings_in_order() -> None:
    p = plan("w", desktop_spec(), load_facts(WS))
    assert [c.id for c in p.changes] == [
        "feature/Containers",
        "feature/Microsoft-Hyper-V",
        "feature/VirtualMachinePlatform",
        "feature/Microsoft-Windows-Subsystem-Linux",
        "engine/wsl",
        "engine/docker-desktop",
        "desktop/docker-users",
        "desktop/config/dev",
    ]
    install = p.changes[5]
    assert install.requires[-1] == "engine/wsl"
    assert [d.path for d in install.diff] == ["desktop.version"]
    assert p.changes[6].requires[-1] == "engine/docker-desktop"
    assert p.pending is None  # not installed yet: nothing to wait for


# ---------------------------------------------------------------------------------------------
# The installer's command line.


def test_command_line_for_windows_containers() -> None:
    engine = desktop_spec().engine
    assert isinstance(engine, DockerDesktopSpec)
    assert install_command_line(engine) == "install --quiet --accept-license --backend=windows --always-run-service"


@pytest.mark.parametrize(
    "backend, windows, expected",
    [
        ("wsl2", False, ["install", "--quiet", "--accept-license", "--backend=wsl-2", "--no-windows-containers"]),
        (
            "hyperv",
            False,
            [
                "install",
                "--quiet",
                "--accept-license",
                "--backend=hyper-v",
                "--no-windows-containers",
                "--always-run-service",
            ],
        ),
        ("hyperv", True, ["install", "--quiet", "--accept-license", "--backend=windows", "--always-run-service"]),
    ],
)
def test_command_line_per_backend(backend: str, windows: bool, expected: list[str]) -> None:
    engine = desktop(backend=backend, windows_containers=windows, wsl=None).engine
    assert isinstance(engine, DockerDesktopSpec)
    assert install_arguments(engine) == expected


def test_command_line_quotes_a_folder_with_spaces_and_never_installs_per_user() -> None:
    engine = desktop(install_dir="D:\\Dev Tools\\Docker\\").engine  # a trailing backslash, doubled before the quote
    assert isinstance(engine, DockerDesktopSpec)
    line = install_command_line(engine)
    assert line.endswith('"--installation-dir=D:\\Dev Tools\\Docker\\\\"')
    assert split_command_line(line) == install_arguments(engine)  # CommandLineToArgvW reads it back
    assert "--user" not in line and "winget" not in line


# ---------------------------------------------------------------------------------------------
# Installed hosts: upgrade, service, users, settings.


def installed(**desktop_changes: Any) -> Facts:
    return facts_of(LOGGED_ON, desktop=desktop_changes)


def test_converged_logged_on_workstation_has_no_changes_but_is_due_a_verify() -> None:
    p = plan("w", desktop_spec(), load_facts(LOGGED_ON))
    assert p.changes == [] and p.pending is None and p.verify_due
    assert [(v.os, v.image, v.isolation) for v in runs(p)] == [
        ("linux", "busybox", None),
        ("windows", "mcr.microsoft.com/windows/nanoserver:ltsc2022", "process"),
    ]
    # Only the last run records what was verified.
    assert [v.record is not None for v in runs(p)] == [False, True]


def test_another_installed_version_is_upgraded_and_a_stopped_service_started() -> None:
    upgrade = plan("w", desktop(version="4.84.0", build=234817), load_facts(LOGGED_ON))
    change = next(c for c in upgrade.changes if c.id == "engine/docker-desktop")
    assert [(d.path, d.before, d.after) for d in change.diff] == [("desktop.version", "4.43.1", "4.84.0")]
    assert change.params.url.endswith("/234817/Docker%20Desktop%20Installer.exe")  # type: ignore[attr-defined]
    stopped = plan(
        "w", desktop_spec(), installed(service={"exists": True, "status": "Stopped", "start_type": "Manual"})
    )
    change = next(c for c in stopped.changes if c.id == "engine/docker-desktop")
    assert {(d.path, d.before, d.after) for d in change.diff} == {
        ("desktop.service.start_type", "Manual", "Automatic"),
        ("desktop.service.status", "Stopped", "Running"),
    }


def test_only_missing_users_are_added() -> None:
    spec = desktop(users=["dev", "ops"])
    facts = installed(
        users={
            "dev": load_facts(LOGGED_ON).desktop.users["dev"].model_dump(),  # type: ignore[union-attr]
            "ops": {
                "sid": "S-1-5-21-1-2-3-1002",
                "profile": None,
                "daemon_json": {"exists": False, "sha256": None, "content": None},
            },
        }
    )
    p = plan("w", spec, facts)
    users = next(c for c in p.changes if c.id == "desktop/docker-users")
    assert users.params.members == ["ops"]  # type: ignore[attr-defined]
    assert "ops never logged on" in (p.pending or "")


def test_unreadable_group_is_a_warning_and_an_unknown_account_an_error() -> None:
    p = plan("w", desktop_spec(), installed(group_members=None))
    assert "desktop.users" in codes(p, "warning") and not any(c.id == "desktop/docker-users" for c in p.changes)
    unknown = installed(
        users={"dev": {"sid": None, "profile": None, "daemon_json": {"exists": False, "sha256": None, "content": None}}}
    )
    assert "desktop.users" in codes(plan("w", desktop_spec(), unknown))


def test_settings_are_compared_key_by_key_in_the_users_windows_daemon_json() -> None:
    content = json.dumps({"log-level": "debug", "storage-opts": ["size=60G"], "debug": True})
    facts = installed(
        users={
            "dev": {
                "sid": "S-1-5-21-1-2-3-1001",
                "profile": r"C:\Users\dev",
                "daemon_json": {"exists": True, "sha256": "x", "content": content},
            }
        }
    )
    p = plan("w", desktop_spec(), facts)
    change = next(c for c in p.changes if c.id == "desktop/config/dev")
    assert change.params.path == r"C:\Users\dev\.docker\windows-daemon.json"  # type: ignore[attr-defined]
    assert [(d.path, d.before, d.after) for d in change.diff] == [
        ("desktop.daemon.dev.debug", True, None),
        ("desktop.daemon.dev.log-level", "debug", "info"),
    ]
    # Never the ProgramData file Desktop rewrites.
    assert not any(c.type == "daemon_config" for c in p.changes)


# ---------------------------------------------------------------------------------------------
# pending_logon and when to verify.


def test_pending_logon_says_what_the_user_has_to_do() -> None:
    nobody = plan(
        "w", desktop_spec(), installed(sessions=[], running_for=[], engines={"windows": False, "linux": False})
    )
    assert nobody.pending is not None
    assert "nobody is logged on" in nobody.pending and "dev logs on and starts Docker Desktop" in nobody.pending
    assert nobody.pending.endswith("then run apply again to finish and verify")
    idle = plan("w", desktop_spec(), installed(running_for=[], engines={"windows": False, "linux": False}))
    assert idle.pending is not None and "WS-0001\\dev is logged on but Docker Desktop is not running" in idle.pending
    assert "Access Denied" in idle.pending and "sign out and back in" in idle.pending
    starting = plan("w", desktop_spec(), installed(engines={"windows": False, "linux": False}))
    assert starting.pending is None  # Desktop runs: the verify starts the engine it tests


def test_nothing_to_verify_means_nothing_to_wait_for() -> None:
    spec = spec_with(desktop(users=["dev"]), daemon=None, verify={"when": "never"})
    p = plan("w", spec, installed(sessions=[], running_for=[], engines={"windows": False, "linux": False}))
    assert p.pending is None and p.verify == ()


def test_verify_is_due_until_the_record_matches_this_spec() -> None:
    spec = desktop_spec()
    p = plan("w", spec, load_facts(LOGGED_ON))
    record = runs(p)[-1].record
    assert p.verify_due and record == fingerprint(spec, runs(p))
    recorded = {
        **load_facts(LOGGED_ON).model_dump()["files"],
        RECORD: {"exists": True, "sha256": "x", "content": record},
    }
    assert not plan("w", spec, facts_of(LOGGED_ON, files=recorded)).verify_due
    assert plan("w", desktop(version="4.84.0", build=234817), facts_of(LOGGED_ON, files=recorded)).verify_due
    always = spec_with(spec, verify={**spec.verify.model_dump(), "when": "always"})
    assert not plan("w", always, load_facts(LOGGED_ON)).verify_due  # `always` verifies anyway


def test_without_windows_containers_the_linux_engine_is_verified_anyway() -> None:
    spec = spec_with(desktop(windows_containers=False), verify={"linux": False})
    p = plan("w", spec, load_facts(WS))
    assert [v.os for v in runs(p)] == ["linux"]


def test_windows_10_verifies_with_hyperv_isolation() -> None:
    win10 = facts_of(WS, os={"build": 19045, "display_version": "22H2", "caption": "Microsoft Windows 10 Pro"})
    p = plan("w", desktop_spec(), win10)
    assert [(v.image, v.isolation) for v in runs(p) if v.os == "windows"] == [
        ("mcr.microsoft.com/windows/nanoserver:1809", "hyperv")
    ]


# ---------------------------------------------------------------------------------------------
# WSL pin, facts request, JSON.


def test_wsl_pin_is_installed_when_it_differs_and_a_missing_pin_warns_on_old_wsl() -> None:
    p = plan(
        "w",
        desktop(wsl={"version": "2.1.5", "url": "https://example.invalid/wsl.msi", "sha256": "ef" * 32}),
        load_facts(LOGGED_ON),
    )
    change = next(c for c in p.changes if c.id == "engine/wsl")
    assert [(d.before, d.after) for d in change.diff] == [("2.5.10.0", "2.1.5.0")]
    unpinned = plan("w", desktop(wsl=None), load_facts(WS))
    assert "desktop.wsl" in codes(unpinned, "warning") and "2.1.5" in message(unpinned, "desktop.wsl")
    assert "desktop.wsl" not in codes(plan("w", desktop(wsl=None), load_facts(LOGGED_ON)), "warning")


def test_wsl_pin_below_docker_desktops_minimum_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="2.1.5 or later"):
        desktop(wsl={"version": "2.0.9", "url": "https://example.invalid/wsl.msi", "sha256": "ef" * 32})
    with pytest.raises(ValueError, match="backend: wsl2"):
        desktop(backend="hyperv")


def test_facts_request_for_desktop_probes_its_features_record_and_users() -> None:
    request = facts_request(desktop_spec())
    assert request.features == [
        "Containers",
        "Microsoft-Hyper-V",
        "Microsoft-Windows-Subsystem-Linux",
        "VirtualMachinePlatform",
    ]
    probe = request.extra["desktop"]
    assert RECORD in request.files and isinstance(probe, DesktopProbe) and probe.users == ["dev"]


def test_plan_json_of_a_desktop_host_lists_the_engines_and_the_wait() -> None:
    data = plan("w", desktop_spec(), installed(sessions=[], running_for=[], engines={"windows": False, "linux": False}))
    encoded = json.loads(json.dumps(data.to_json()))
    assert encoded["pending"].startswith("waiting for a user") and encoded["verify"] is None
    assert [v["os"] for v in encoded["desktop_verify"]] == ["linux", "windows"]
