"""dockerd.exe and docker.exe on a lab machine: identity by content, service registration, daemon.json
refusals, the named pipe, and Microsoft's build/isolation matrix (windows-facts.md §4-§6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provision_lab.powershell.api import NetException
from provision_lab.windows import programs
from provision_lab.windows.machine import ServiceStartError

from .conftest import ENGINE_DIR, SERVER_2016, WIN11_PRO, Box

DOCKERD = ENGINE_DIR + r"\dockerd.exe"
DOCKER = ENGINE_DIR + r"\docker.exe"
DAEMON_JSON = r"C:\ProgramData\docker\config\daemon.json"
NANO_2022 = "mcr.microsoft.com/windows/nanoserver:ltsc2022"


def running_engine(box: Box, version: str = "27.3.1") -> None:
    box.install_engine(version)
    assert box.run(DOCKERD, "--register-service").exit_code == 0
    service = box.machine.service("docker")
    assert service is not None
    box.machine.start_service(service)


def test_the_program_is_what_the_file_contains_not_its_name(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.install_engine("28.0.4")
    assert box.run(DOCKERD, "--version").stdout == "Docker version 28.0.4, build 6430e49\n"
    assert box.run(DOCKER, "--version").stdout == "Docker version 28.0.4, build b8034c0\n"
    # A renamed dockerd.exe is still dockerd; a text file named docker.exe does not start.
    box.view.write_file(r"C:\tools\engine.exe", box.view.read_file(DOCKERD) or b"")
    assert box.run(r"C:\tools\engine.exe", "--version").stdout.startswith("Docker version 28.0.4")
    box.view.write_file(r"C:\tools\docker.exe", b"not a program\r\n")
    with pytest.raises(NetException) as failed:
        box.run(r"C:\tools\docker.exe", "version")
    assert failed.value.type_name == "System.ComponentModel.Win32Exception"
    assert failed.value.message == programs.BAD_IMAGE


def test_register_service_keeps_the_flags_and_refuses_a_second_time_and_without_elevation(
    make_box: Callable[..., Box],
) -> None:
    box = make_box()
    box.install_engine()
    said = box.run(DOCKERD, "--register-service", "--service-name", "engine", "-H", "npipe:////./pipe/custom")
    assert said.exit_code == 0, said
    service = box.machine.service("engine")
    assert service is not None and service.display_name == "Docker Engine" and service.start_type == "Automatic"
    # ImagePath: this dockerd.exe, --run-service and every other flag given (wf §4.3).
    assert service.image_path == f'"{DOCKERD}" --run-service --service-name engine -H npipe:////./pipe/custom'
    again = box.run(DOCKERD, "--register-service", "--service-name", "engine")
    assert (again.exit_code, again.stderr) == (1, "The specified service already exists.\n")
    box.machine.add_account("dev")
    plain = box.session_for("dev")
    refused = box.run(DOCKERD, "--register-service", session=plain)
    assert (refused.exit_code, refused.stderr) == (1, "Access is denied.\n")
    assert box.machine.service("docker") is None
    assert box.run(DOCKERD, "--register-service", "--unregister-service").exit_code == 1
    assert box.run(DOCKERD, "--unregister-service", "--service-name", "engine").exit_code == 0
    assert box.machine.service("engine") is None
    gone = box.run(DOCKERD, "--unregister-service", "--service-name", "engine")
    assert gone.stderr == "The specified service does not exist as an installed service.\n"
    assert box.run(DOCKERD, "--bogus").exit_code == 125


def test_validate_prints_configuration_ok_on_stderr_or_dockerds_refusal(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.install_engine("28.0.4")
    staged = DAEMON_JSON + ".new"
    box.view.write_file(staged, b'{"hosts": ["npipe://"], "exec-opts": ["isolation=hyperv"]}')
    ok = box.run(DOCKERD, "--validate", "--config-file", staged)
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "", "configuration OK\n")
    box.view.write_file(staged, b'{"storage-driver": "windowsfilter", "iptables": false}')
    bad = box.run(DOCKERD, "--validate", "--config-file", staged)
    assert bad.exit_code == 1
    assert bad.stderr == (
        f"unable to configure the Docker daemon with file {staged}: the following directives don't match any "
        "configuration option: iptables, storage-driver\n"
    )
    box.view.write_file(staged, b'{"exec-opts": ["native.cgroupdriver=systemd"]}')
    assert (
        "option 'native.cgroupdriver' is only supported on linux"
        in box.run(DOCKERD, "--validate", "--config-file", staged).stderr
    )
    box.view.write_file(staged, b'{"debug": true,}')
    assert "invalid JSON: invalid character '}'" in box.run(DOCKERD, "--validate", "--config-file", staged).stderr
    missing = box.run(DOCKERD, "--validate", "--config-file", r"C:\nowhere.json")
    assert missing.exit_code == 1 and "The system cannot find the file specified." in missing.stderr


def test_the_service_reads_daemon_json_when_it_starts_and_the_pipe_lives_only_while_it_runs(
    make_box: Callable[..., Box],
) -> None:
    box = make_box()
    box.install_engine()
    assert box.run(DOCKERD, "--register-service").exit_code == 0
    service = box.machine.service("docker")
    assert service is not None
    down = box.run(DOCKER, "version", "--format", "{{.Server.Os}}")
    assert down.exit_code == 1 and down.stdout == ""  # the template fails on a nil Server; the error wins
    assert down.stderr == (
        "error during connect: this error may indicate that the docker daemon is not running: Get "
        '"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/version": open //./pipe/docker_engine: The system cannot '
        "find the file specified.\n"
    )
    box.view.write_file(DAEMON_JSON, b'{"bip": "10.0.0.1/24"}\n')
    with pytest.raises(ServiceStartError) as refused:
        box.machine.start_service(service)
    assert "the following directives don't match any configuration option: bip" in refused.value.reason
    assert service.status == "Stopped"
    box.view.write_file(DAEMON_JSON, b'\xef\xbb\xbf{"exec-opts": ["isolation=hyperv"]}\n')  # a BOM is fine from 23.0
    box.machine.start_service(service)
    assert box.run(DOCKER, "version", "--format", "{{.Server.Os}} {{.Server.Version}}").stdout == "windows 27.3.1\n"
    # While it runs, dockerd.exe holds its image open: the upgrade's delete fails (windows-audit.md F1).
    with pytest.raises(NetException):
        box.machine.fs.delete(DOCKERD)
    box.machine.stop_service(service)
    assert box.run(DOCKER, "version").exit_code == 1


def test_service_start_checks_the_containers_feature_and_the_build(make_box: Callable[..., Box]) -> None:
    box = make_box(enabled=())
    box.install_engine()
    box.run(DOCKERD, "--register-service")
    service = box.machine.service("docker")
    assert service is not None
    with pytest.raises(ServiceStartError) as refused:
        box.machine.start_service(service)
    assert refused.value.reason == "failed to load vmcompute.dll, ensure that the Containers feature is installed"
    old = make_box(SERVER_2016)
    old.install_engine()
    old.run(DOCKERD, "--register-service")
    old_service = old.machine.service("docker")
    assert old_service is not None
    with pytest.raises(ServiceStartError) as too_old:
        old.machine.start_service(old_service)
    assert "Windows build 17763 or higher is required" in too_old.value.reason


def test_a_flag_of_the_service_and_the_same_key_in_daemon_json_stop_the_daemon(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.install_engine()
    box.run(DOCKERD, "--register-service", "-H", "npipe:////./pipe/docker_engine")
    box.view.write_file(DAEMON_JSON, b'{"hosts": ["npipe:////./pipe/docker_engine"]}')
    service = box.machine.service("docker")
    assert service is not None
    with pytest.raises(ServiceStartError) as refused:
        box.machine.start_service(service)
    assert "specified both as a flag and in the configuration file: hosts: (from flag: [npipe:" in refused.value.reason


def test_pipe_access_needs_elevation_unless_daemon_json_names_a_group(make_box: Callable[..., Box]) -> None:
    box = make_box()
    box.machine.add_account("dev")
    box.machine.add_group("docker-admins")
    plain = box.session_for("dev")
    # No daemon: the hint depends on the client's elevation (moby client/request.go).
    box.install_engine()
    assert "must be run with elevated privileges to connect" in box.run(DOCKER, "version", session=plain).stderr
    assert "daemon is not running" in box.run(DOCKER, "version").stderr
    # Another pipe gets no hint at all.
    other = box.run(DOCKER, "-H", "npipe:////./pipe/elsewhere", "info")
    assert other.stderr == (
        'error during connect: Get "http://%2F%2F.%2Fpipe%2Felsewhere/v1.24/info": open //./pipe/elsewhere: '
        "The system cannot find the file specified.\n"
    )
    box.view.write_file(DAEMON_JSON, b'{"group": "docker-admins"}')
    running_engine(box)
    denied = box.run(DOCKER, "version", session=plain)
    assert denied.exit_code == 1
    assert "must be run with elevated privileges to connect" in denied.stderr and "Access is denied." in denied.stderr
    box.view.add_group_member("docker-admins", "dev")
    assert box.run(DOCKER, "version", "--format", "{{.Server.Os}}", session=plain).stdout == "windows\n"


@pytest.mark.parametrize(
    ("image", "isolation", "hypervisor", "code", "text"),
    [
        (NANO_2022, "process", False, 0, "hello"),
        (
            "mcr.microsoft.com/windows/nanoserver:1809",
            "process",
            False,
            125,
            "does not match the host operating system",
        ),
        ("mcr.microsoft.com/windows/nanoserver:1809", "hyperv", False, 125, "No hypervisor is present on this system"),
        ("mcr.microsoft.com/windows/nanoserver:1809", "hyperv", True, 0, "hello"),
        (
            "mcr.microsoft.com/windows/nanoserver:ltsc2025",
            "process",
            False,
            125,
            "no matching manifest for windows/amd64 10.0.20348",
        ),
        ("busybox", "process", False, 125, "no matching manifest for windows/amd64 10.0.20348"),
        ("mcr.microsoft.com/windows/nanoserver:nosuchtag", "process", False, 125, "manifest unknown"),
    ],
)
def test_docker_run_follows_the_build_and_isolation_matrix_on_server_2022(
    make_box: Callable[..., Box], image: str, isolation: str, hypervisor: bool, code: int, text: str
) -> None:
    box = make_box(hypervisor=hypervisor)
    running_engine(box)
    result = box.run(DOCKER, "run", "--rm", f"--isolation={isolation}", image, "cmd", "/c", "echo", "hello")
    assert result.exit_code == code, result
    assert text in (result.stdout + result.stderr)
    if code == 125 and "manifest" not in text:
        assert "See 'docker run --help'." not in result.stderr  # the container was created: no usage hint


def test_pulls_and_runs_take_modelled_time_and_a_pulled_image_is_not_pulled_again(make_box: Callable[..., Box]) -> None:
    box = make_box()
    running_engine(box)
    before = box.machine.now()
    first = box.run(DOCKER, "run", "--rm", "--isolation=process", NANO_2022, "cmd", "/c", "echo", "one")
    spent = (box.machine.now() - before).total_seconds()
    assert first.stdout == "one\n" and "Pull complete" in first.stderr and spent >= 40
    # In write order: the implicit pull (stderr) before the container's output (stdout), as 2>&1 shows them.
    assert [stream for stream, _ in first.chunks] == ["stderr"] * 5 + ["stdout"]
    second = box.run(DOCKER, "run", "--rm", "--isolation=process", NANO_2022, "cmd", "/c", "echo", "two")
    assert second.stdout == "two\n" and "Unable to find image" not in second.stderr
    pulled = box.run(DOCKER, "pull", NANO_2022)
    assert pulled.exit_code == 0 and "Image is up to date" in pulled.stdout


def test_windows_11_defaults_to_hyperv_and_runs_ltsc2022_in_process_isolation_in_preview(
    make_box: Callable[..., Box],
) -> None:
    box = make_box(WIN11_PRO)
    running_engine(box)
    assert box.run(DOCKER, "run", "--rm", "--isolation=process", NANO_2022, "cmd", "/c", "echo", "x").exit_code == 0
    default = box.run(DOCKER, "run", "--rm", NANO_2022, "cmd", "/c", "echo", "x")
    assert default.exit_code == 125 and "No hypervisor is present" in default.stderr


def test_unmodelled_docker_commands_and_container_commands_fail(make_box: Callable[..., Box]) -> None:
    box = make_box()
    running_engine(box)
    assert box.run(DOCKER, "compose", "up").stderr.startswith("docker: 'compose' is not a docker command.")
    assert box.run(DOCKER, "desktop", "engine", "use", "linux").exit_code == 1  # no desktop plugin in Docker CE
    inside = box.run(DOCKER, "run", "--rm", NANO_2022, "ping", "localhost")
    assert inside.exit_code == 1 and "'ping' is not recognized" in inside.stderr
    assert box.run(DOCKER, "run", "-it", NANO_2022, "cmd").stderr == "the input device is not a TTY\n"
    assert box.run(DOCKER, "version", "--format", "{{upper .Server.Os}}").exit_code == 1
    assert box.run(DOCKER, "info", "--format", "{{.OSType}}").stdout == "windows\n"


def test_version_info_and_context_say_what_answers_on_the_pipe(make_box: Callable[..., Box]) -> None:
    box = make_box()
    running_engine(box)
    version = box.run(DOCKER, "version").stdout
    assert version.startswith("Client:\n Version:           27.3.1\n")
    assert "Server: Docker Engine - Community\n" in version and "  OS/Arch:          windows/amd64\n" in version
    info = box.run(DOCKER, "info").stdout
    assert " Storage Driver: windowsfilter\n" in info and " Default Isolation: process\n" in info
    assert box.run(DOCKER, "info", "--format", "{{.ServerVersion}} {{.Isolation}}").stdout == "27.3.1 process\n"
    assert box.run(DOCKER, "context", "show").stdout == "default\n"
    assert box.run(DOCKER, "--context", "desktop-linux", "version").stderr == 'context "desktop-linux" does not exist\n'
