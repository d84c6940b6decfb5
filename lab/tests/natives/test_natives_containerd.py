"""containerd.exe, ctr.exe and crictl.exe on a lab machine: the release tarball, service registration,
config.toml as each version reads it, the pipe, and the verify runs (containerd-scaleout-history.md §1.4-§1.7)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable

import pytest

from provision_lab.windows.machine import DEFAULT_CATALOG, OsInfo, ServiceStartError
from provision_lab.windows.natives import containerd_archive, containerd_url, crictl_archive
from provision_lab.windows.natives.files import nerdctl_archive

from .conftest import Box

HOME = r"C:\Program Files\containerd"
BIN = HOME + r"\bin"
CONFIG = HOME + r"\config.toml"
NANO_2022 = "mcr.microsoft.com/windows/nanoserver:ltsc2022"
NANO_2025 = "mcr.microsoft.com/windows/nanoserver:ltsc2025"
ENDPOINT = "npipe://./pipe/containerd-containerd"
SERVER_2025 = OsInfo("Microsoft Windows Server 2025 Datacenter", 26100, 2314, "24H2", "ServerDatacenter", 3, "Server")


def install(box: Box, version: str) -> None:
    """What ``tar.exe -xf <tarball> -C <install_dir>`` leaves (the tarball holds bin\\)."""
    box.view.write_file(r"C:\Temp\containerd.tar.gz", containerd_archive(version))
    extracted = box.run(r"C:\Windows\System32\tar.exe", "-xf", r"C:\Temp\containerd.tar.gz", "-C", HOME)
    assert extracted.exit_code == 0, extracted


def start(box: Box, *flags: str) -> None:
    assert box.run(BIN + r"\containerd.exe", "--register-service", *flags).exit_code == 0
    service = box.machine.service("containerd")
    assert service is not None
    box.machine.start_service(service)


@pytest.fixture
def tar_box(make_box: Callable[..., Box]) -> Callable[..., Box]:
    def make(os: OsInfo | None = None, **kwargs: object) -> Box:
        box = make_box(**({"os": os} if os else {}), **kwargs)
        box.view.write_file(r"C:\Windows\System32\tar.exe", b"MZ\x90\x00 lab-image program=tar version=3.3.2\n")
        return box

    return make


def test_the_release_tarball_its_sha256sum_file_and_what_tar_extracts(tar_box: Callable[..., Box]) -> None:
    url = containerd_url("2.1.5")
    assert (
        url == "https://github.com/containerd/containerd/releases/download/v2.1.5/containerd-2.1.5-windows-amd64.tar.gz"
    )
    archive = DEFAULT_CATALOG.get(url)
    assert archive == containerd_archive("2.1.5")
    sums = DEFAULT_CATALOG.get(url + ".sha256sum")
    assert sums == f"{hashlib.sha256(archive).hexdigest()}  containerd-2.1.5-windows-amd64.tar.gz\n".encode()
    assert containerd_archive("2.1.5") != containerd_archive("1.7.28")
    box = tar_box()
    install(box, "2.1.5")
    assert sorted(box.view.list_files(BIN)) == [
        "containerd-shim-runhcs-v1.exe",
        "containerd-stress.exe",
        "containerd.exe",
        "ctr.exe",
    ]
    said = box.run(BIN + r"\containerd.exe", "--version").stdout
    assert said == "containerd github.com/containerd/containerd/v2 v2.1.5 fcd43222d6b07379a4be9786bda52438f0dd16a1\n"
    install(box, "1.7.28")
    assert box.run(BIN + r"\containerd.exe", "-v").stdout.startswith(
        "containerd github.com/containerd/containerd v1.7.28 "
    )
    box.view.write_file(r"C:\Temp\crictl.tar.gz", crictl_archive("1.34.0"))
    assert box.run(r"C:\Windows\System32\tar.exe", "-xf", r"C:\Temp\crictl.tar.gz", "-C", HOME).exit_code == 0
    assert box.run(HOME + r"\crictl.exe", "--version").stdout == "crictl version v1.34.0\n"
    box.view.write_file(r"C:\Temp\nerdctl.tar.gz", nerdctl_archive("2.3.5"))
    assert box.run(r"C:\Windows\System32\tar.exe", "-xf", r"C:\Temp\nerdctl.tar.gz", "-C", HOME).exit_code == 0
    assert box.run(HOME + r"\nerdctl.exe", "--version").stdout == "nerdctl version 2.3.5\n"
    # nerdctl's containers need a CNI config the lab does not model: nothing else pretends to work.
    assert box.run(HOME + r"\nerdctl.exe", "run", "--rm", NANO_2022).exit_code == 1


def test_register_service_copies_every_other_flag_and_loads_the_config_first(tar_box: Callable[..., Box]) -> None:
    box = tar_box()
    install(box, "1.7.28")
    exe = BIN + r"\containerd.exe"
    # containerd 1.7 reads config version 2 at most; the registration fails before the SCM is touched.
    box.view.write_file(CONFIG, b"version = 3\n")
    refused = box.run(exe, "--register-service", "--config", CONFIG)
    assert (refused.exit_code, refused.stderr) == (
        1,
        f"containerd: failed to load TOML from {CONFIG}: unsupported config version `3`\n",
    )
    assert box.machine.service("containerd") is None
    box.view.write_file(CONFIG, b"version = 2\n")
    log = r"C:\ProgramData\containerd\containerd.log"
    assert (
        box.run(exe, "--register-service", "--config", CONFIG, "--log-file", log, "--log-level", "warn").exit_code == 0
    )
    service = box.machine.service("containerd")
    assert service is not None and service.display_name == "Containerd" and service.start_type == "Automatic"
    assert service.image_path == f'"{exe}" --run-service --config "{CONFIG}" --log-file {log} --log-level warn'
    again = box.run(exe, "--register-service")
    assert again.exit_code == 1 and again.stderr.endswith('level=fatal msg="The specified service already exists."\n')
    both = box.run(exe, "--register-service", "--unregister-service")
    assert "cannot be used together" in both.stderr
    box.machine.add_account("dev")
    plain = box.run(exe, "--unregister-service", session=box.session_for("dev"))
    assert plain.stderr.endswith('level=fatal msg="Access is denied."\n') and box.machine.service("containerd")
    assert box.run(exe, "--unregister-service").exit_code == 0 and box.machine.service("containerd") is None
    assert box.run(exe, "--bogus").stderr.endswith("containerd: flag provided but not defined: -bogus\n")


def test_version_2_is_migrated_by_2x_and_unknown_keys_are_ignored_not_refused(tar_box: Callable[..., Box]) -> None:
    box = tar_box()
    install(box, "2.1.5")
    box.view.write_file(
        CONFIG,
        b'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "mcr.microsoft.com/oss/kubernetes/pause:3.6"\n'
        b'[plugins."io.containerd.grpc.v1.cri".cni]\nbin_dir = "c:/opt/cni/bin"\nconf_dir = "c:/etc/cni/net.d"\n'
        b'[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "C:/ProgramData/containerd/certs.d"\n'
        b'[plugins."io.containerd.cri.v1.images"]\nno_such_key = true\n',
    )
    dumped = box.run(BIN + r"\containerd.exe", "config", "dump")
    assert dumped.exit_code == 0, dumped
    config = tomllib.loads(dumped.stdout)
    assert config["version"] == 3
    images = config["plugins"]["io.containerd.cri.v1.images"]
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    # Migration writes the v2 keys into the v3 plugins, beside what the file set there itself.
    assert images["pinned_images"]["sandbox"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    assert images["registry"]["config_path"] == "C:/ProgramData/containerd/certs.d"
    assert runtime["cni"]["bin_dirs"] == ["c:/opt/cni/bin"] and runtime["cni"]["conf_dir"] == "c:/etc/cni/net.d"
    assert "no_such_key" not in images  # ignored: the setting has no effect, and dump does not show it
    assert "Configuration migrated from version 2" in dumped.stderr
    assert 'msg="Ignoring unknown key in TOML for plugin"' in dumped.stderr and "key=no_such_key" in dumped.stderr
    # 2.0 has no bin_dirs (2.1.0 added it): the same key is unknown there.
    install(box, "2.0.7")
    box.view.write_file(
        CONFIG, b"version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\nbin_dirs = ['c:/opt/cni/bin']\n"
    )
    older = box.run(BIN + r"\containerd.exe", "config", "dump")
    assert 'key="cni bin_dirs"' in older.stderr
    assert "bin_dirs" not in tomllib.loads(older.stdout)["plugins"]["io.containerd.cri.v1.runtime"]["cni"]
    # A version beyond the binary's own is fatal; so is a value of the wrong type or broken TOML.
    box.view.write_file(CONFIG, b"version = 4\n")
    beyond = box.run(BIN + r"\containerd.exe", "config", "dump")
    assert beyond.stderr == (
        f"containerd: failed to load TOML from {CONFIG}: expected containerd config version equal to or less than "
        "`3`, got `4`\n"
    )
    box.view.write_file(
        CONFIG, b"version = 3\n[plugins.'io.containerd.cri.v1.images']\nmax_concurrent_downloads = 'three'\n"
    )
    assert box.run(BIN + r"\containerd.exe", "config", "dump").exit_code == 1
    box.view.write_file(CONFIG, b"version = 3\n[plugins\n")
    broken = box.run(BIN + r"\containerd.exe", "config", "dump")
    assert broken.exit_code == 1 and broken.stderr.startswith("containerd: failed to unmarshal TOML at row 2 column")


def test_from_2_2_the_default_config_imports_conf_d_and_a_drop_in_overrides_its_plugin(
    tar_box: Callable[..., Box],
) -> None:
    box = tar_box()
    install(box, "2.2.1")
    exe = BIN + r"\containerd.exe"
    default = box.run(exe, "config", "default").stdout
    assert tomllib.loads(default)["imports"] == [HOME + r"\conf.d\*.toml"]
    box.view.write_file(CONFIG, default.encode())
    box.view.write_file(
        HOME + r"\conf.d\provision.toml",
        b"version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\nsandbox = 'mcr.microsoft.com/oss/kubernetes/pause:3.6'\n",
    )
    merged = tomllib.loads(box.run(exe, "config", "dump").stdout)
    images = merged["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    assert images["snapshotter"] == "windows"  # the plugin's defaults stay under the drop-in's table
    install(box, "2.1.5")  # 2.1 writes no imports: its default config never reads conf.d
    assert "imports" not in tomllib.loads(box.run(exe, "config", "default").stdout)


def test_the_pipe_answers_while_the_service_runs_and_crictl_info_reports_the_cri_config(
    tar_box: Callable[..., Box],
) -> None:
    box = tar_box()
    install(box, "2.1.5")
    box.view.write_file(HOME + r"\crictl.exe", b"MZ\x90\x00 lab-image program=crictl version=1.34.0\n")
    crictl = HOME + r"\crictl.exe"
    down = box.run(crictl, "--runtime-endpoint", ENDPOINT, "info")
    assert down.exit_code == 1
    assert "validate CRI v1 runtime API for endpoint" in down.stderr
    assert "open //./pipe/containerd-containerd: The system cannot find the file specified." in down.stderr
    assert box.run(BIN + r"\ctr.exe", "images", "ls").stderr == (
        r"ctr: cannot access socket \\.\pipe\containerd-containerd: CreateFile \\.\pipe\containerd-containerd: "
        "The system cannot find the file specified.\n"
    )
    box.view.write_file(
        CONFIG, b"version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\nconf_dir = 'c:/etc/cni/net.d'\n"
    )
    start(box)
    info = json.loads(box.run(crictl, "-r", ENDPOINT, "info").stdout)
    conditions = {c["type"]: c for c in info["status"]["conditions"]}
    assert conditions["RuntimeReady"]["status"] is True
    assert conditions["NetworkReady"]["status"] is False  # no CNI config yet
    assert info["config"]["sandboxImage"] == "registry.k8s.io/pause:3.10"
    box.view.write_file(r"c:\etc\cni\net.d\10-calico.conflist", b"{}")
    ready = json.loads(box.run(crictl, "-r", ENDPOINT, "info").stdout)
    assert all(c["status"] for c in ready["status"]["conditions"])
    service = box.machine.service("containerd")
    assert service is not None
    box.machine.stop_service(service)
    assert box.run(crictl, "-r", ENDPOINT, "info").exit_code == 1
    # A config the version refuses stops the service from starting, with containerd's reason.
    box.view.write_file(CONFIG, b"version = 9\n")
    with pytest.raises(ServiceStartError) as failed:
        box.machine.start_service(service)
    assert "expected containerd config version equal to or less than `3`, got `9`" in failed.value.reason


def test_ctr_pulls_per_namespace_and_runs_by_the_hosts_build_and_isolation(
    tar_box: Callable[..., Box],
) -> None:
    box = tar_box()
    install(box, "2.1.5")
    start(box)
    ctr = BIN + r"\ctr.exe"
    assert box.run(ctr, "-n", "k8s.io", "images", "pull", NANO_2022).exit_code == 0
    # Pulled into k8s.io, not into the default namespace (containerd/containerd#6438).
    missing = box.run(ctr, "run", "--rm", NANO_2022, "t1", "cmd", "/c", "echo", "hi")
    assert missing.stderr == f'ctr: image "{NANO_2022}": not found\n'
    ran = box.run(ctr, "-n", "k8s.io", "run", "--rm", NANO_2022, "t1", "cmd", "/c", "echo", "n0nce")
    assert (ran.exit_code, ran.stdout) == (0, "n0nce\r\n")
    # A Server 2022 host cannot take an ltsc2025 image at all; Hyper-V isolation needs a hypervisor.
    assert box.run(ctr, "-n", "k8s.io", "images", "pull", NANO_2025).stderr == (
        "ctr: no match for platform in manifest: not found\n"
    )
    isolated = box.run(ctr, "-n", "k8s.io", "run", "--rm", "--isolated", NANO_2022, "t2", "cmd", "/c", "echo", "x")
    assert "No hypervisor is present on this system." in isolated.stderr and isolated.exit_code == 1
    assert box.run(ctr, "-n", "k8s.io", "run", NANO_2022).stderr == "ctr: container id must be provided\n"
    unknown = box.run(ctr, "-n", "k8s.io", "run", "--rm", NANO_2022, "t3", "powershell", "-c", "1")
    assert unknown.exit_code == 1  # nothing unmodelled succeeds inside a container


def test_server_2025_runs_ltsc2022_process_isolated_and_hyperv_with_a_hypervisor(
    tar_box: Callable[..., Box],
) -> None:
    box = tar_box(SERVER_2025, hypervisor=True, enabled=("Containers", "Microsoft-Hyper-V"))
    install(box, "2.3.0")
    start(box)
    ctr = BIN + r"\ctr.exe"
    assert box.run(ctr, "-n", "k8s.io", "images", "pull", NANO_2022).exit_code == 0
    assert box.run(ctr, "-n", "k8s.io", "run", "--rm", NANO_2022, "a", "cmd", "/c", "echo", "ok").stdout == "ok\r\n"
    isolated = box.run(ctr, "-n", "k8s.io", "run", "--rm", "--isolated", NANO_2022, "b", "cmd", "/c", "echo", "hv")
    assert isolated.stdout == "hv\r\n"
    # 2.3 writes config version 4 (version/version.go ConfigVersion).
    assert tomllib.loads(box.run(BIN + r"\containerd.exe", "config", "default").stdout)["version"] == 4
