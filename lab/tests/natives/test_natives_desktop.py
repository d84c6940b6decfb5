"""Docker Desktop on a lab workstation: the installer, sessions, docker-users at logon, the two
engines by pipe, engine switching, the rewritten daemon.json, and the WSL package (docker-desktop.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provision_lab.windows.natives import desktop, desktop_installer, wsl_msi

from .conftest import WIN11_PRO, Box

FEATURES = ("Containers", "Microsoft-Hyper-V", "VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux")
INSTALLER = r"C:\Windows\Temp\DockerDesktopInstaller.exe"
DOCKER = r"C:\Program Files\Docker\Docker\resources\bin\docker.exe"
WINDOWS_PIPE = "npipe:////./pipe/dockerDesktopWindowsEngine"
LINUX_PIPE = "npipe:////./pipe/dockerDesktopLinuxEngine"
UNATTENDED = ("install", "--quiet", "--accept-license", "--backend=windows", "--always-run-service")


def workstation(make_box: Callable[..., Box]) -> Box:
    box = make_box(WIN11_PRO, features=FEATURES, enabled=FEATURES, hypervisor=True, name="WS1")
    box.machine.add_account("dev")
    box.view.write_file(INSTALLER, desktop_installer("4.43.1"))
    return box


def engine_os(box: Box, pipe: str) -> str:
    answer = box.run(DOCKER, "-H", pipe, "version", "--format", "{{.Server.Os}}")
    return answer.stdout.strip() if answer.exit_code == 0 else answer.stderr


def test_installer_needs_install_first_elevation_and_says_3_when_up_to_date(make_box: Callable[..., Box]) -> None:
    box = workstation(make_box)
    assert box.run(INSTALLER, "--quiet", "install").exit_code == -5  # flags before `install`: Unknown command
    assert box.run(INSTALLER, *UNATTENDED, session=box.session_for("dev")).exit_code == -5  # UAC relaunch fails
    assert box.machine.service("com.docker.service") is None
    before = box.machine.now()
    assert box.run(INSTALLER, *UNATTENDED).exit_code == 0
    assert (box.machine.now() - before).total_seconds() >= 60  # an install takes minutes, not nothing
    entry = box.machine.registry.value(
        r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Docker Desktop", "DisplayVersion"
    )
    assert entry is not None and entry.data == "4.43.1"
    service = box.machine.service("com.docker.service")
    assert service is not None and (service.status, service.start_type) == ("Running", "Automatic")
    assert box.view.group_members("docker-users") == ["WS1\\provision"]
    assert box.run(INSTALLER, *UNATTENDED).exit_code == 3
    # Nobody is logged on: Desktop has not started, so no engine answers.
    assert "The system cannot find the file specified." in engine_os(box, WINDOWS_PIPE)


def test_a_logon_starts_desktop_only_with_docker_users_in_the_token_then_both_engines_by_pipe(
    make_box: Callable[..., Box],
) -> None:
    box = workstation(make_box)
    box.run(INSTALLER, *UNATTENDED)
    said = desktop.logon(box.view, "ws1", "dev")
    assert said == "ws1: WS1\\dev logged on; Docker Desktop - Access Denied (not in docker-users at logon)"
    box.view.add_group_member("docker-users", "dev")  # counts from the next logon only
    snap = desktop.snapshot(box.view)
    assert snap is not None and snap["running_for"] is None and snap["sessions"] == {"WS1\\dev": []}
    desktop.logoff(box.view, "ws1", "dev")
    said = desktop.logon(box.view, "ws1", "dev")
    assert said.endswith("Docker Desktop started, windows engine running"), said
    assert engine_os(box, WINDOWS_PIPE) == "windows"
    # Desktop wrote the ProgramData daemon.json from the user's settings (its default here).
    assert box.view.read_file(desktop.DAEMON_JSON) == desktop.DEFAULT_SETTINGS
    # The explorer.exe and Docker Desktop.exe owners are the user's.
    owners = {p.name: p.owner for p in box.machine.processes.values()}
    assert owners["explorer.exe"] == owners["Docker Desktop.exe"] == "WS1\\dev"
    # engine use linux: WSL 2 needs the WSL package (2.1.5+), which is not installed yet.
    refused = box.run(DOCKER, "desktop", "engine", "use", "linux")
    assert refused.exit_code == 1 and "requires WSL 2.1.5 or later" in refused.stderr
    msi = r"C:\Windows\Temp\wsl.msi"
    box.view.write_file(msi, wsl_msi("2.5.10"))
    assert box.run("msiexec", "/i", msi, "/qn", "/norestart").exit_code == 0
    assert box.machine.file_version(desktop.WSL_EXE) == "2.5.10.0"
    assert box.run(DOCKER, "desktop", "engine", "use", "linux").exit_code == 0
    assert engine_os(box, LINUX_PIPE) == "linux"
    assert "cannot find the file" in engine_os(box, WINDOWS_PIPE)  # engine use stops the other one
    uname = box.run(DOCKER, "-H", LINUX_PIPE, "run", "--rm", "busybox", "uname", "-a")
    assert uname.exit_code == 0 and "microsoft-standard-WSL2" in uname.stdout
    # The tray switch leaves the other engine running.
    assert desktop.switch_engine(box.view, "ws1", "windows") == "ws1: windows engine running"
    assert desktop.snapshot(box.view)["engines"] == {"windows": True, "linux": True}  # type: ignore[index]
    # Quitting from the tray ends both engines; the session stays, and the next logon starts it again.
    assert desktop.quit_app(box.view, "ws1") == "ws1: Docker Desktop quit for WS1\\dev"
    snap = desktop.snapshot(box.view)
    assert snap is not None and snap["running_for"] is None and list(snap["sessions"]) == ["WS1\\dev"]
    assert "cannot find the file" in engine_os(box, WINDOWS_PIPE)
    assert desktop.logon(box.view, "ws1", "dev").endswith("windows engine running")
    # A logoff quits Desktop; the pipes are gone with its process.
    desktop.logoff(box.view, "ws1", "dev")
    assert "cannot find the file" in engine_os(box, LINUX_PIPE)
    with pytest.raises(ValueError, match="log a user on first"):
        desktop.switch_engine(box.view, "ws1", "linux")


def test_a_settings_key_dockerd_refuses_keeps_the_windows_engine_down(make_box: Callable[..., Box]) -> None:
    box = workstation(make_box)
    box.run(INSTALLER, *UNATTENDED)
    box.view.add_group_member("docker-users", "dev")
    profile = box.view.ensure_profile("dev")
    box.view.write_file(profile + "\\" + desktop.USER_SETTINGS, b'{"iptables": false}\n')
    said = desktop.logon(box.view, "ws1", "dev")
    assert "windows engine failed" in said and "don't match any configuration option: iptables" in said
    assert "cannot find the file" in engine_os(box, WINDOWS_PIPE)


def test_a_reboot_ends_every_session_and_desktop_with_it(make_box: Callable[..., Box]) -> None:
    box = workstation(make_box)
    box.run(INSTALLER, *UNATTENDED)
    desktop.logon(box.view, "ws1", "provision")  # an administrator needs no docker-users membership
    assert engine_os(box, WINDOWS_PIPE) == "windows"
    box.machine.boot(box.machine.now())
    snap = desktop.snapshot(box.view)
    assert snap is not None and snap["sessions"] == {} and snap["running_for"] is None
    assert snap["service"] == {"status": "Running", "start_type": "Automatic"}  # Automatic: back at boot
    assert "cannot find the file" in engine_os(box, WINDOWS_PIPE)


def test_no_windows_containers_disables_the_windows_engine_for_good(make_box: Callable[..., Box]) -> None:
    box = workstation(make_box)
    box.run(INSTALLER, "install", "--quiet", "--accept-license", "--backend=wsl-2", "--no-windows-containers")
    box.view.write_file(r"C:\Windows\Temp\wsl.msi", wsl_msi("2.1.5"))
    box.run("msiexec", "/i", r"C:\Windows\Temp\wsl.msi", "/qn")
    said = desktop.logon(box.view, "ws1", "dev")  # WSL 2 only: no docker-users needed
    assert said.endswith("linux engine running"), said
    use = box.run(DOCKER, "desktop", "engine", "use", "windows")
    assert (use.exit_code, use.stderr) == (1, 'unable to set engine to "windows": engine is disabled\n')
    service = box.machine.service("com.docker.service")
    assert service is not None and service.start_type == "Manual" and service.status == "Stopped"


def test_a_slow_host_makes_the_install_outlast_a_timeout(make_box: Callable[..., Box]) -> None:
    box = workstation(make_box)
    box.machine.faults.slow_installs = 20.0
    before = box.machine.now()
    assert box.run(INSTALLER, *UNATTENDED).exit_code == 0
    # 150 s x 20: longer than docker_desktop.ps1.j2's 1,800 s WaitForExit (windows-audit.md F3).
    assert (box.machine.now() - before).total_seconds() >= 3000


def test_wsl2_runs_on_the_virtual_machine_platform_without_hyper_v_but_not_without_virtualization(
    make_box: Callable[..., Box],
) -> None:
    for vt, expected in ((True, "linux engine running"), (False, "WSL 2 is not available")):
        box = make_box(
            WIN11_PRO, features=FEATURES, enabled=("VirtualMachinePlatform",), hypervisor=False, name="HOME1"
        )
        box.machine.hardware.vt_firmware_enabled = vt
        box.machine.add_account("dev")
        box.view.write_file(INSTALLER, desktop_installer("4.43.1"))
        box.run(INSTALLER, "install", "--quiet", "--accept-license", "--backend=wsl-2", "--no-windows-containers")
        box.view.write_file(r"C:\Windows\Temp\wsl.msi", wsl_msi("2.5.10"))
        box.run("msiexec", "/i", r"C:\Windows\Temp\wsl.msi", "/qn")
        assert expected in desktop.logon(box.view, "home1", "dev")
