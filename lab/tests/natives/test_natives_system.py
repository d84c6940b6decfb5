"""The programs Windows ships: hostname, cmd /c, whoami, tar (bsdtar), msiexec's exit codes, wsl.exe."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.windows.natives import engine_archive, wsl_msi

from .conftest import WIN11_PRO, Box


def test_hostname_cmd_and_whoami_answer_as_windows_does(make_box: Callable[..., Box]) -> None:
    box = make_box(name="web01")
    assert box.run("hostname").stdout == "WEB01\r\n"
    assert box.run("hostname", "other").exit_code == 1
    assert box.run("cmd.exe", "/c", "echo", "hello", "world").stdout == "hello world\r\n"
    assert box.run("cmd", "/c", "exit", "/b", "3").exit_code == 3
    unknown = box.run("cmd", "/c", "frobnicate")
    assert (
        unknown.exit_code == 1 and "'frobnicate' is not recognized as an internal or external command" in unknown.stderr
    )
    assert box.run("whoami").stdout == "web01\\provision\r\n"
    assert box.run("whoami", "/groups").exit_code == 1


def test_tar_extracts_a_zip_onto_the_machine_and_lists_it(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.view.write_file(r"C:\Windows\Temp\docker.zip", engine_archive("27.4.1"))
    listed = box.run("tar", "-tf", r"C:\Windows\Temp\docker.zip")
    assert listed.stdout.split() == ["docker/docker.exe", "docker/dockerd.exe"]
    assert box.run("tar", "-xf", r"C:\Windows\Temp\docker.zip", "-C", r"C:\Program Files").exit_code == 0
    dockerd = box.run(r"C:\Program Files\docker\dockerd.exe", "--version")
    assert dockerd.stdout.startswith("Docker version 27.4.1, build ")
    assert box.run("tar", "-xq", "x").exit_code == 1
    assert "Failed to open" in box.run("tar", "-xf", r"C:\missing.zip").stderr


def test_msiexec_exit_codes_follow_windows_installer(make_box: Callable[..., Box]) -> None:
    box = make_box(WIN11_PRO)
    msi = r"C:\Windows\Temp\wsl.msi"
    assert box.run("msiexec", "/i", msi, "/qn").exit_code == 1619  # the package cannot be opened
    box.view.write_file(msi, b"not a package")
    assert box.run("msiexec", "/i", msi, "/qn").exit_code == 1620  # not a valid package
    assert box.run("msiexec", "/frob").exit_code == 1639  # invalid command line
    box.view.write_file(msi, wsl_msi("2.1.5"))
    box.machine.add_account("dev")
    assert box.run("msiexec", "/i", msi, "/qn", session=box.session_for("dev")).exit_code == 1603
    assert box.run("msiexec", "/i", msi, "/qn", "/norestart").exit_code == 0


def test_wsl_writes_utf16_unless_wsl_utf8_and_the_inbox_launcher_has_no_version(make_box: Callable[..., Box]) -> None:
    box = make_box(WIN11_PRO)
    inbox = box.run("wsl", "--version")
    assert inbox.exit_code == -1 and inbox.stdout.startswith("I\x00n\x00v\x00")
    box.view.write_file(r"C:\Windows\Temp\wsl.msi", wsl_msi("2.5.10"))
    box.run("msiexec", "/i", r"C:\Windows\Temp\wsl.msi", "/qn")
    package = r"C:\Program Files\WSL\wsl.exe"
    assert box.run(package, "--version").stdout.startswith("W\x00S\x00L\x00 \x00v\x00")
    box.session.environment()["WSL_UTF8"] = "1"
    assert box.run(package, "--version").stdout.startswith("WSL version: 2.5.10.0\r\n")
    assert "already installed" in box.run(package, "--update").stdout


def test_server_2016_has_no_tar_or_wsl(make_box: Callable[..., Box]) -> None:
    from .conftest import SERVER_2016

    box = make_box(SERVER_2016)
    assert box.session.find_program("tar") is None and box.session.find_program("wsl") is None
    assert box.session.find_program("hostname") is not None
