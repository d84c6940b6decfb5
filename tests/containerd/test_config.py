"""config.toml by key (provisioner/containerd/config.py): rendering per containerd version, the drop-in
from 2.2, refusal of keys a version does not know, hosts.toml mirrors, and the key-level diff."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from provisioner.containerd.config import (
    IMAGES,
    RUNTIME,
    config_version,
    diff,
    document,
    hosts_files,
    key_problems,
    render,
)
from provisioner.spec import ContainerdSettings

HOME = r"C:\Program Files\containerd"
SETTINGS = ContainerdSettings.model_validate(
    {
        "sandbox_image": "mcr.microsoft.com/oss/kubernetes/pause:3.6",
        "cni": "kubernetes-sigs",
        "default_runtime": "runhcs-wcow-process",
        "registry": {"mirrors": {"docker.io": ["https://mirror.example.net"]}},
        "image_pull_progress_timeout": "10m0s",
    }
)


def test_1x_renders_schema_version_2_under_the_grpc_cri_plugin() -> None:
    rendered = render(SETTINGS, "1.7.28", HOME)
    assert rendered.path == HOME + r"\config.toml"
    doc = tomllib.loads(rendered.text)
    assert doc["version"] == 2
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    assert cri["cni"] == {"bin_dir": "c:/opt/cni/bin", "conf_dir": "c:/etc/cni/net.d"}
    assert cri["containerd"]["default_runtime_name"] == "runhcs-wcow-process"
    assert cri["registry"]["config_path"] == r"C:\ProgramData\containerd\certs.d"
    assert cri["image_pull_progress_timeout"] == "10m0s"
    assert key_problems(doc["plugins"], "1.7.28") == []


def test_2x_renders_schema_version_3_with_the_moved_keys_and_bin_dirs_from_2_1() -> None:
    doc = tomllib.loads(render(SETTINGS, "2.1.5", HOME).text)
    assert doc["version"] == 3
    assert doc["plugins"][IMAGES]["pinned_images"] == {"sandbox": "mcr.microsoft.com/oss/kubernetes/pause:3.6"}
    assert doc["plugins"][RUNTIME]["cni"] == {"bin_dirs": ["c:/opt/cni/bin"], "conf_dir": "c:/etc/cni/net.d"}
    assert tomllib.loads(render(SETTINGS, "2.0.7", HOME).text)["plugins"][RUNTIME]["cni"]["bin_dir"] == "c:/opt/cni/bin"
    assert config_version("2.3.0") == 4
    for version in ("2.0.7", "2.1.5", "2.2.1", "2.3.0"):
        assert key_problems(document(SETTINGS, version)["plugins"], version) == []


def test_from_2_2_provision_writes_a_drop_in_and_leaves_config_toml_alone() -> None:
    assert render(SETTINGS, "2.2.1", HOME).path == HOME + r"\conf.d\provision.toml"
    assert render(SETTINGS, "2.1.5", HOME + "\\").path == HOME + r"\config.toml"


def test_keys_a_version_does_not_know_are_refused_with_the_reason() -> None:
    problems = key_problems({RUNTIME: {"cni": {"bin_dirs": ["c:/x"]}}}, "2.0.7")
    assert problems == [
        f"plugins.{RUNTIME}.cni.bin_dirs: exists from containerd 2.1.0, not in 2.0.7 (containerd would ignore it)"
    ]
    moved = key_problems({"io.containerd.grpc.v1.cri": {"sandbox_image": "x"}}, "2.1.5")
    assert moved == [
        "plugins.io.containerd.grpc.v1.cri.sandbox_image: a containerd 1.x key; containerd 2.1.5 reads "
        f"plugins.{IMAGES}.pinned_images.sandbox"
    ]
    back = key_problems({IMAGES: {"pinned_images": {"sandbox": "x"}}}, "1.7.28")
    assert back[0].startswith(f"plugins.{IMAGES}: provision manages the CRI plugins only")
    typo = key_problems({IMAGES: {"max_concurent_downloads": 3}}, "2.1.5")
    assert typo[0].endswith("did you mean 'max_concurrent_downloads'?")
    assert key_problems({IMAGES: {"max_concurrent_downloads": "3"}}, "2.1.5") == [
        f"plugins.{IMAGES}.max_concurrent_downloads: expected an integer, got str"
    ]
    deprecated = key_problems({IMAGES: {"registry": {"mirrors": {}}}}, "2.1.5")
    assert "deprecated for removal" in deprecated[0]


def test_a_key_set_by_name_and_in_plugins_is_refused() -> None:
    both = ContainerdSettings(sandbox_image="a", plugins={IMAGES: {"pinned_images": {"sandbox": "b"}}})
    with pytest.raises(ValueError, match="set it once"):
        document(both, "2.1.5")
    merged = document(ContainerdSettings(sandbox_image="a", plugins={IMAGES: {"use_local_image_pull": True}}), "2.1.5")
    assert merged["plugins"][IMAGES] == {"pinned_images": {"sandbox": "a"}, "use_local_image_pull": True}


def test_settings_refuse_bad_values_at_load() -> None:
    with pytest.raises(ValidationError, match="Go duration"):
        ContainerdSettings(image_pull_progress_timeout="ten minutes")
    with pytest.raises(ValidationError, match="not a registry host"):
        ContainerdSettings.model_validate({"registry": {"mirrors": {"https://docker.io": ["https://m"]}}})
    with pytest.raises(ValidationError):
        ContainerdSettings.model_validate({"cni": "flannel"})
    with pytest.raises(ValidationError):
        ContainerdSettings.model_validate({"bogus": 1})


def test_hosts_toml_per_mirrored_registry_with_containerd_s_directory_names() -> None:
    settings = ContainerdSettings.model_validate(
        {"registry": {"mirrors": {"docker.io": ["https://m1", "https://m2"], "registry.local:5000": ["http://r"]}}}
    )
    files = hosts_files(settings)
    docker = tomllib.loads(files[r"C:\ProgramData\containerd\certs.d\docker.io\hosts.toml"])
    assert docker["server"] == "https://registry-1.docker.io"
    assert list(docker["host"]) == ["https://m1", "https://m2"]  # the order is the order tried
    assert docker["host"]["https://m1"]["capabilities"] == ["pull", "resolve"]
    local = tomllib.loads(files[r"C:\ProgramData\containerd\certs.d\registry.local_5000_\hosts.toml"])
    assert local["server"] == "https://registry.local:5000"


def test_the_diff_is_key_by_key_and_counts_keys_provision_does_not_set() -> None:
    wanted = document(SETTINGS, "2.1.5")
    text = render(SETTINGS, "2.1.5", HOME).text
    assert diff(text, wanted) == []
    drifted = (
        text.replace("10m0s", "5m0s")
        + '\n[plugins."io.containerd.cri.v1.images".registry.mirrors."docker.io"]\nendpoint = ["x"]\n'
    )
    changes = {change.path: (change.before, change.after) for change in diff(drifted, wanted)}
    assert changes == {
        f"plugins.{IMAGES}.image_pull_progress_timeout": ("5m0s", "10m0s"),
        f"plugins.{IMAGES}.registry.mirrors.docker.io.endpoint": (["x"], None),
    }
    assert [c.path for c in diff(None, wanted)] == ["file"]
    assert diff("version = [", wanted)[0].before.startswith("not TOML")
    # Text with a byte order mark (Notepad, PowerShell 5.1) is still the same keys.
    assert diff("\ufeff" + text, wanted) == []
