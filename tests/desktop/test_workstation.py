"""Docker Desktop on a developer workstation, end to end through the lab (issue 7).

A fresh Windows 11 23H2 Pro workstation converges as far as a remote session can take it and ends
``pending_logon`` (exit 2) with what the user has to do; after the developer logs on, a second apply
changes nothing else and verifies both engines (Windows containers and ``--platform linux busybox
uname -a`` on WSL 2); a third costs one FACTS script. Docker Desktop on a server, Windows containers
on Home, a missing accept_license, and Linux containers (LCOW) asked of docker-ce are plan errors that
change nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import yaml

from provision_lab import cli as lab_cli
from provision_lab.control import _handle, apply_drift
from provision_lab.windows.natives import MachineView, desktop
from provision_lab.windows.natives.desktop import DAEMON_JSON
from provisioner.resources.desktop_verify import RECORD

from .conftest import PASSWORD, DesktopLab

USER_DAEMON = r"C:\Users\dev\.docker\windows-daemon.json"
EXPECTED_DAEMON = '{\n  "log-level": "warn",\n  "storage-opts": [\n    "size=60G"\n  ]\n}\n'


def delta(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({key: after[key] - before[key] for key in after if after[key] != before[key]})


def without_runtime(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The parts of a host a verify may touch aside: images, engines, the verify record, Desktop's rewrite."""
    copy: dict[str, Any] = json.loads(json.dumps(snapshot))
    for path in (RECORD, DAEMON_JSON):
        copy["files"].pop(path, None)
    ws = copy.get("workstation") or {}
    for key in ("engines", "images", "containers", "log"):
        ws.pop(key, None)
    return copy


def test_fresh_workstation_ends_pending_logon_then_a_logon_lets_a_second_apply_verify_both_engines(
    desktop_lab: Callable[..., DesktopLab], transport: str
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    playbook = lab.setup(transport)

    first = lab.cli("apply", playbook, report=True)

    # Everything a remote session can do is done; the engine waits for a user (DESIGN 4.5: exit 2).
    assert first.code == 2, first.out + first.err
    host = first.report_host("ws1")
    assert host["status"] == "pending_logon", host
    assert host["error"] is None and host["verify"] is None and host["reboots"] == 1
    assert "nobody is logged on" in host["message"] and "dev logs on and starts Docker Desktop" in host["message"]
    assert "then run apply again" in host["message"]
    assert "ws1: pending_logon" in first.out and "to do: waiting for a user" in first.out
    changed = {r["id"] for r in host["resources"] if r["status"] == "changed"}
    assert changed == {
        "feature/Containers",
        "feature/Microsoft-Hyper-V",
        "feature/VirtualMachinePlatform",
        "feature/Microsoft-Windows-Subsystem-Linux",
        "engine/wsl",
        "engine/docker-desktop",
        "desktop/docker-users",
        "desktop/config/dev",
    }, changed
    assert PASSWORD not in first.out + first.err + json.dumps(first.report)
    state = lab.snapshot("ws1")
    assert set(state["features"].values()) == {"Enabled"}
    ws = state["workstation"]
    assert ws["desktop"]["version"] == "4.43.1" and ws["desktop"]["default_engine"] == "windows"
    assert ws["service"] == {"status": "Running", "start_type": "Automatic"}
    assert sorted(ws["groups"]["docker-users"]) == ["WS1\\dev", "WS1\\provision"]
    assert ws["wsl_version"] == "2.5.10.0"
    assert ws["sessions"] == {} and ws["running_for"] is None
    assert state["files"][USER_DAEMON]["content"] == EXPECTED_DAEMON
    assert DAEMON_JSON not in state["files"]  # Desktop has not started, so it has not written its copy
    # The installer ran with the documented unattended command line, never per-user mode.
    installs = [
        json.loads(line.split(" ", 1)[1])
        for script in lab.scripts["ws1"]
        for line in script.splitlines()
        if line.startswith("#@provision-begin ") and '"type":"docker_desktop"' in line
    ]
    # (sent twice: skipped the first time while the features waited for their reboot)
    assert [m["params"]["command_line"] for m in installs] == [
        "install --quiet --accept-license --backend=windows --always-run-service"
    ] * 2
    assert installs[0]["requires"][-1] == "engine/wsl"  # the pinned WSL goes in first

    # The developer logs on and starts Docker Desktop (provision lab drift ws1 --logon dev).
    said = apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")
    assert "WS1\\dev logged on" in said and "windows engine running" in said
    # Desktop rewrote the ProgramData daemon.json from the user's settings as its Windows engine started.
    assert lab.snapshot("ws1")["files"][DAEMON_JSON]["content"] == EXPECTED_DAEMON
    before_second = lab.snapshot("ws1")

    second = lab.cli("apply", playbook, report=True)

    assert second.code == 0, second.out + second.err
    host = second.report_host("ws1")
    assert host["status"] == "ok" and host["reboots"] == 0, host
    assert [r for r in host["resources"] if r["status"] != "ok"] == []
    verify = host["verify"]
    assert verify["ok"] is True and verify["message"] == ""
    assert [(e["os"], e["image"], e["isolation"], e["ok"]) for e in verify["engines"]] == [
        ("linux", "busybox", "linux", True),
        ("windows", "mcr.microsoft.com/windows/nanoserver:ltsc2022", "process", True),
    ]
    linux = verify["engines"][0]
    assert linux["output"].splitlines()[-1].startswith("Linux ") and "microsoft-standard-WSL2" in linux["output"]
    assert linux["switched"] is True and verify["engines"][1]["switched"] is True
    assert "verify busybox on the linux engine (linux): ok" in second.out
    after_second = lab.snapshot("ws1")
    # Nothing else changed: features, Desktop, groups, WSL, settings, sessions are as they were.
    assert without_runtime(after_second) == without_runtime(before_second)
    assert after_second["workstation"]["engines"] == {"windows": True, "linux": False}  # back on Windows
    assert RECORD in after_second["files"]

    # Third apply: in state and verified; one FACTS script and nothing else.
    before = lab.counters("ws1")
    third = lab.run(playbook)
    result = third.host("ws1")
    assert third.code == 0 and result.status == "ok" and result.verify is None, result.message
    spent = delta(lab.counters("ws1"), before)
    assert spent["scripts"] == 1 and spent["block.facts"] == 1, spent


def test_check_says_pending_logon_until_the_user_logs_on_and_a_logoff_or_reboot_brings_it_back(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    playbook = lab.setup()
    assert lab.run(playbook).host("ws1").status == "pending_logon"

    check = lab.cli("check", playbook, report=True)
    assert check.code == 2 and check.report_host("ws1")["status"] == "pending_logon", check.out
    assert check.report_host("ws1")["resources"] == []

    apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")
    assert lab.run(playbook).host("ws1").status == "ok"
    assert lab.cli("check", playbook).code == 0

    # Signing out quits Desktop [docker/for-win#12014]: the engine is down again, and check says so.
    apply_drift(lab.hosts["ws1"], None, None, None, logoff="dev")
    again = lab.run(playbook, "check").host("ws1")
    assert again.status == "pending_logon" and "nobody is logged on" in again.message


def test_logged_on_user_without_desktop_running_is_told_to_start_it(desktop_lab: Callable[..., DesktopLab]) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    # The developer is logged on before Desktop is installed; the install's reboot signs them out.
    apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")
    playbook = lab.setup()
    assert lab.run(playbook).host("ws1").status == "pending_logon"
    apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")
    desktop.quit_app(MachineView(lab.hosts["ws1"].machine), "ws1")  # Desktop quit from the tray
    result = lab.run(playbook).host("ws1")
    assert result.status == "pending_logon"
    assert "WS1\\dev is logged on but Docker Desktop is not running" in result.message
    assert "Access Denied" in result.message


def test_desktop_rewrites_programdata_daemon_json_and_the_tray_switch_keeps_both_engines(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    playbook = lab.setup()
    lab.run(playbook)
    model = lab.hosts["ws1"]
    apply_drift(model, None, None, None, logon="dev")
    # An admin edits the ProgramData file by hand: Desktop puts its own back at the next engine start.
    model.set_daemon_key("debug", "true")
    assert '"debug": true' in lab.snapshot("ws1")["files"][DAEMON_JSON]["content"]
    said = apply_drift(model, None, None, None, switch_engine="linux")
    assert said.endswith("linux engine running")
    assert lab.snapshot("ws1")["workstation"]["engines"] == {
        "windows": True,
        "linux": True,
    }  # the GUI switch keeps both
    apply_drift(model, None, None, None, logoff="dev")
    apply_drift(model, None, None, None, logon="dev")
    assert lab.snapshot("ws1")["files"][DAEMON_JSON]["content"] == EXPECTED_DAEMON
    # The verify's `docker desktop engine use` stops the other engine; it ends on Windows.
    result = lab.run(playbook).host("ws1")
    assert result.status == "ok" and result.verify is not None and result.verify["ok"], result.message
    assert lab.snapshot("ws1")["workstation"]["engines"] == {"windows": True, "linux": False}


def test_a_settings_key_dockerd_refuses_keeps_the_windows_engine_down_and_verify_says_why(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    playbook = lab.setup()
    lab.run(playbook)
    model = lab.hosts["ws1"]
    # The user pastes a Linux-only key into Settings > Docker Engine (the tool validates its own keys at load).
    MachineView(model.machine).write_file(USER_DAEMON, b'{"iptables": false}\n')
    said = apply_drift(model, None, None, None, logon="dev")
    assert "windows engine failed" in said and "don't match any configuration option: iptables" in said
    result = lab.run(playbook).host("ws1")
    # The plan puts the settings back; the verify switches engines, which restarts Windows with them.
    assert result.status == "changed", result.message
    assert [r.id for r in result.resources if r.status == "changed"] == ["desktop/config/dev"]
    assert result.verify is not None and result.verify["ok"] is True


def test_home_edition_with_linux_containers_only_converges_on_wsl2(desktop_lab: Callable[..., DesktopLab]) -> None:
    lab = desktop_lab({"home1": "workstation-win11-23h2-home"})
    playbook = lab.setup(spec={"engine": {"windows_containers": False}})
    first = lab.run(playbook)
    result = first.host("home1")
    assert first.code == 2 and result.status == "pending_logon", result.message
    assert {r.id for r in result.resources} >= {"feature/VirtualMachinePlatform", "engine/docker-desktop"}
    assert "feature/Containers" not in {r.id for r in result.resources}
    assert {p["code"] for p in result.preflight} == {"desktop.edition.home"}  # the support warning
    installs = [
        line
        for script in lab.scripts["home1"]
        for line in script.splitlines()
        if line.startswith("#@provision-begin ") and '"type":"docker_desktop"' in line
    ]
    assert '"command_line":"install --quiet --accept-license --backend=wsl-2 --no-windows-containers"' in installs[0]
    apply_drift(lab.hosts["home1"], None, None, None, logon="dev")
    second = lab.run(playbook).host("home1")
    assert second.status == "ok", second.message
    assert second.verify is not None and [e["os"] for e in second.verify["engines"]] == ["linux"]


def test_plan_errors_change_nothing_and_say_why(desktop_lab: Callable[..., DesktopLab]) -> None:
    lab = desktop_lab(
        {
            "srv1": "server2022",
            "home1": "workstation-win11-23h2-home",
            "nolic": "workstation-win11-23h2-pro",
            "lcow": "server2022",
        }
    )
    # accept_license comes from a variable: false for nolic only.
    inventory = lab.inventory(host_vars={"nolic": {"license": False}})
    desktop_book = lab.playbook(
        inventory,
        name="desktop.yml",
        hosts="srv1:home1:nolic",
        spec={"engine": {"accept_license": "{{ license | default(true) }}"}},
    )
    lcow_play = {
        "name": "docker-ce asked for Linux containers",
        "hosts": "lcow",
        "inventory": str(inventory),
        "spec": {
            "features": ["Containers"],
            "engine": {"type": "docker-ce", "version": "{{ docker_version }}", "sha256": "{{ docker_sha256 }}"},
            "verify": {"linux": True},
        },
    }
    lcow_book = lab.dir / "lcow.yml"
    lcow_book.write_text(yaml.safe_dump([lcow_play], sort_keys=False))
    before = {name: lab.snapshot(name) for name in lab.hosts}
    counters = {name: lab.counters(name) for name in lab.hosts}

    outcome = lab.cli("apply", desktop_book, report=True)
    lcow = lab.cli("apply", lcow_book, report=True)

    assert outcome.code == 3 and lcow.code == 3
    assert outcome.report is not None and lcow.report is not None
    hosts = [*outcome.report["hosts"], *lcow.report["hosts"]]
    messages = {h["name"]: h["message"] for h in hosts}
    assert {h["name"]: h["status"] for h in hosts} == dict.fromkeys(["srv1", "home1", "nolic", "lcow"], "failed")
    assert "Docker Desktop is not supported on Windows Server 2022" in messages["srv1"]
    assert "use engine.type: docker-ce" in messages["srv1"]
    assert "Home (Core) cannot run Windows containers" in messages["home1"]
    assert "windows_containers: false" in messages["home1"] and "Pro or Enterprise" in messages["home1"]
    assert "Docker Subscription Service Agreement" in messages["nolic"]
    assert "more than 250 employees" in messages["nolic"] and "paid subscription" in messages["nolic"]
    assert "LCOW" in messages["lcow"] and "removed in Docker Engine 23.0" in messages["lcow"]
    assert "Docker Desktop with the WSL 2 backend on a workstation" in messages["lcow"]
    assert "a Linux node" in messages["lcow"]
    codes = {h["name"]: {p["code"] for p in h["preflight"] if p["level"] == "error"} for h in hosts}
    assert codes["srv1"] == {"desktop.server"} and codes["nolic"] == {"desktop.license"}
    assert "desktop.edition.home" in codes["home1"] and codes["lcow"] == {"lcow"}
    for name in lab.hosts:  # one FACTS script each, and nothing changed
        assert lab.snapshot(name) == before[name], name
        assert delta(lab.counters(name), counters[name])["scripts"] == 1, name


def test_lab_drift_logon_reaches_the_host_through_the_control_socket_handler(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    args = lab_cli.parser().parse_args(["drift", "ws1", "--logon", "dev"])
    assert (args.logon, args.logoff, args.switch_engine) == ("dev", None, None)
    fake_lab = SimpleNamespace(models=lab.hosts, profiles={})
    answer = _handle(fake_lab, {"command": "drift", "host": "ws1", "logon": "dev"}, None)  # type: ignore[arg-type]
    assert answer == {"message": "ws1: WS1\\dev logged on (Docker Desktop is not installed)"}
    assert "error" in _handle(fake_lab, {"command": "drift", "host": "ws1", "logon": "mallory"}, None)  # type: ignore[arg-type]
    assert lab.snapshot("ws1")["workstation"]["sessions"] == {"WS1\\dev": []}
