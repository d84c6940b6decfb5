"""Pydantic models of the host spec, the reboot policy and the rollout policy.

Unknown keys are errors everywhere (DSC v3's ``deny_unknown_fields``), so a typo never passes
silently. The daemon.json key rules come from windows-facts.md section 5 [MOBY
daemon/config/config.go, config_windows.go, config_unix.go; CLI-DOCKERD; CLI-DEPR].
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from provisioner.containerd import config as containerd_config
from provisioner.containerd import versions as containerd_versions
from provisioner.errors import closest

__all__ = [
    "CLIENT_WARN_SECONDS",
    "ContainerdEngineSpec",
    "ContainerdSettings",
    "DAEMON_KEYS_REFUSED",
    "DAEMON_KEYS_WINDOWS",
    "DESKTOP_BUILDS",
    "DaemonSettings",
    "DockerDesktopSpec",
    "DownloadSpec",
    "EngineSpec",
    "FeatureName",
    "HostSpec",
    "RebootPolicy",
    "RolloutPolicy",
    "VerifySpec",
    "VirtualizationSpec",
    "WslPin",
]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogate(value: Any) -> None:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ValueError("a lone surrogate (half of a UTF-16 pair) has no UTF-8 form and cannot reach a host")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_surrogate(key)
            _no_surrogate(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_surrogate(item)


class StrictModel(BaseModel):
    """Base for every spec model: unknown keys are refused, values are not coerced silently.

    Every text must be encodable: YAML refuses lone surrogates, but a template can make one
    (``{{ "\\ud800" }}``), which then failed every host at its first UTF-8 encode.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        _no_surrogate(value)
        return value


# Flags registered on Windows, under their daemon.json names (list flags in the plural).
# windows-facts.md section 5 [CLI-DOCKERD; MOBY daemon/command/config.go, config_windows.go].
DAEMON_KEYS_WINDOWS: frozenset[str] = frozenset(
    [
        "authorization-plugins",
        "bridge",
        "containerd",
        "containerd-namespace",
        "containerd-plugins-namespace",
        "data-root",
        "debug",
        "default-network-opts",
        "default-runtime",
        "dns",
        "dns-opts",
        "dns-search",
        "exec-opts",
        "experimental",
        "features",
        "fixed-cidr",
        "group",
        "host-gateway-ip",
        "hosts",
        "insecure-registries",
        "labels",
        "log-driver",
        "log-format",
        "log-level",
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "mtu",
        "pidfile",
        "raw-logs",
        "registry-mirrors",
        "shutdown-timeout",
        "storage-opts",
        "swarm-default-advertise-addr",
        "tlscacert",
        "tlscert",
        "tlskey",
        "tlsverify",
        "exec-root",
        "log-opts",
        "default-stop-timeout",
        "metrics-addr",
        "network-control-plane-mtu",
        "node-generic-resources",
        "http-proxy",
        "https-proxy",
        "no-proxy",
        "cdi-spec-dirs",
        "cri-containerd",
    ]
)

_LINUX_ONLY = (
    "is registered only on Linux (daemon/config/config_unix.go); dockerd on Windows refuses "
    'the file with "the following directives don\'t match any configuration option" and does not start'
)
_REMOVED = "was removed from dockerd ({}); every current dockerd refuses it and does not start"

# Keys refused with the reason. windows-facts.md section 5 [MOBY config_unix.go; CLI-DEPR].
DAEMON_KEYS_REFUSED: dict[str, str] = {
    **{
        key: _LINUX_ONLY
        for key in [
            "storage-driver",
            "default-ulimits",
            "live-restore",
            "userns-remap",
            "iptables",
            "ip6tables",
            "ip-forward",
            "ip-forward-no-drop",
            "ip-masq",
            "icc",
            "ipv6",
            "bip",
            "bip6",
            "fixed-cidr-v6",
            "default-gateway",
            "default-gateway-v6",
            "ip",
            "userland-proxy",
            "userland-proxy-path",
            "cgroup-parent",
            "init",
            "init-path",
            "seccomp-profile",
            "selinux-enabled",
            "no-new-privileges",
            "default-shm-size",
            "default-ipc-mode",
            "default-cgroupns-mode",
            "default-address-pools",
            "runtimes",
            "add-runtime",
            "rootless",
            "cpu-rt-period",
            "cpu-rt-runtime",
            "allow-direct-routing",
            "bridge-accept-fwmark",
            "firewall-backend",
        ]
    },
    "storage-driver": "is Unix-only since Docker 17.07 (Windows has only the windowsfilter driver; "
    'size it with storage-opts ["size=40G"]); dockerd on Windows refuses it and does not start',
    "cluster-store": _REMOVED.format("v23.0"),
    "cluster-advertise": _REMOVED.format("v23.0"),
    "cluster-store-opts": _REMOVED.format("v23.0"),
    "graph": _REMOVED.format("v23.0; use data-root"),
    "disable-legacy-registry": _REMOVED.format("v19.03"),
}

_ISOLATION_OPT = re.compile(r"^isolation=(process|hyperv|default)$", re.IGNORECASE)


class VirtualizationSpec(StrictModel):
    """Preflight requirements checked before any change (windows-facts.md section 2)."""

    require_firmware_vt: bool = True
    """Refuse hosts whose CPU virtualization is off in the BIOS/UEFI (when no hypervisor runs)."""
    nested: Literal["auto", "required", "ignore"] = "auto"
    """In a VM that needs Hyper-V: auto = error when nested virtualization is surely not exposed,
    warning when unknown; required = error unless it is known to be exposed; ignore = no check."""
    min_memory_gb: float = Field(default=4.0, ge=0)
    """Hyper-V and container hosts need at least 4 GB [MS-HV-REQ; MS-NESTED]."""


FeatureName = Literal["Containers", "Hyper-V", "VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"]
"""Containers and Hyper-V for Windows containers; VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux
for WSL 2 (docker-desktop.md section 6 [WSL-DOCS install-manual.md; DD-TS])."""


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ValueError(f"expected 64 hexadecimal characters (a SHA-256), got {len(value)} characters")
    return value.lower()


def _http_url(value: str) -> str:
    if not re.match(r"^https?://", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


# Folders an install_dir must not be: the engine block replaces its folder whole on every upgrade (security
# review F1: ``install_dir: 'C:\Program Files'`` passed validate and would have been deleted on every host).
# Compared without the drive letter, so D:\Windows is refused as well as C:\Windows.
_SYSTEM_FOLDERS = {
    "windows": "%SystemRoot%",
    "program files": "%ProgramFiles%",
    "program files (x86)": "%ProgramFiles(x86)%",
    "programdata": "%ProgramData%",
    "users": "the profiles folder",
}
# Windows refuses <>"|/: and C0 controls in names; C1 controls and U+2028/U+2029 are line breaks to
# the record reader and to a log line, so they are refused too.
_NOT_IN_FOLDER = re.compile(r'[*?\[\];<>"|/:\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _install_dir(value: str) -> str:
    """An absolute local folder of the engine's own, without a trailing backslash (security review F1).

    Refused, each with its reason: a relative, UNC or device path; wildcard characters (``-Path``
    expands ``*?[]``); ``;`` (the folder is added to the machine Path, where ``;`` separates entries);
    characters Windows refuses in names; ``.``/``..``, empty segments, short (8.3) names and segments
    ending in a dot or space (Windows drops those, so ``C:\\Program Files.`` *is* ``C:\\Program Files``);
    a drive root, %SystemRoot% and anything in it, and %ProgramFiles%, %ProgramFiles(x86)%,
    %ProgramData% and C:\\Users themselves.
    """
    # As written (a Windows path in repr() doubles every backslash); repr() only for what cannot be shown.
    shown_value = f"'{value}'" if value.isprintable() else repr(value)
    if not re.match(r"^[A-Za-z]:\\", value):
        raise ValueError(f"{shown_value} is not an absolute local path (a drive letter, ':' and '\\', e.g. C:\\docker)")
    folder = value.rstrip("\\")
    bad = _NOT_IN_FOLDER.search(folder, 2)
    if bad:
        what = "a wildcard character" if bad.group() in "*?[]" else "a Path separator" if bad.group() == ";" else None
        shown = repr(bad.group())
        raise ValueError(
            f"{shown_value} holds {what or 'a character Windows refuses in a folder name, or a line break'} ({shown})"
        )
    segments = folder.split("\\")[1:]
    if not segments:
        raise ValueError(f"{shown_value} is a drive root; the engine needs a folder of its own, e.g. C:\\docker")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"{shown_value} has an empty, '.' or '..' segment; write the folder out in full")
        if segment.endswith((".", " ")):
            raise ValueError(f"{shown_value}: Windows drops a trailing dot or space from {segment!r}; remove it")
        if re.search(r"~\d", segment):
            raise ValueError(f"{shown_value}: {segment!r} looks like a short (8.3) name; write the long name")
    top = segments[0].lower()
    if top == "windows" or (len(segments) == 1 and top in _SYSTEM_FOLDERS):
        where = "inside %SystemRoot%" if len(segments) > 1 else f"{_SYSTEM_FOLDERS[top]} itself"
        raise ValueError(
            f"{shown_value} is {where}: the engine folder is replaced whole on every upgrade, so it must be a "
            r"folder of its own, e.g. C:\Program Files\docker"
        )
    return folder


InstallDir = Annotated[str, AfterValidator(_install_dir)]
"""A folder of the engine's own (see _install_dir), stored without a trailing backslash."""


Sha256 = Annotated[str, AfterValidator(_sha256)]
"""A SHA-256 in hex, stored in lower case."""
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class EngineSpec(StrictModel):
    """The container engine: Docker CE static binaries, pinned and SHA-256 verified."""

    type: Literal["docker-ce"] = "docker-ce"
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    """Docker CE version, e.g. 27.3.1 (download.docker.com/win/static/stable/x86_64/)."""
    url: HttpUrl | None = None
    """Download URL; default: https://download.docker.com/win/static/stable/x86_64/docker-<version>.zip."""
    sha256: Sha256
    """SHA-256 of the zip. Required: Docker publishes no checksums for these zips [DD-BIN, DL-DOCKER]."""
    install_dir: InstallDir = r"C:\Program Files\docker"
    """Where the zip's docker\\ folder lands (Docker's documented layout, under %ProgramFiles%). Provision
    replaces this folder whole on upgrade, so only a folder it created (its marker file is there) is ever
    replaced; validated at load (:func:`_install_dir`)."""
    service: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")] = "docker"
    """Windows service name of the engine (dockerd --register-service --service-name)."""

    @property
    def download_url(self) -> str:
        return self.url or f"https://download.docker.com/win/static/stable/x86_64/docker-{self.version}.zip"

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor, _ = self.version.split(".")
        return int(major), int(minor)


DESKTOP_BUILDS: dict[str, int] = {
    # Docker Desktop version -> installer build (the <build> of its download and checksums URLs):
    # docker-desktop.md section 1.5 [DD-RN; WINGET; stored release notes; docker/docs#25702].
    "4.43.1": 198352,
    "4.74.0": 227015,
    "4.84.0": 234817,
    "4.86.0": 236216,
}
"""Known pairs only: a build that disagrees with a known version is a plan error (a typo would pin
another release), an unknown version is taken as given."""

# Control and line-separator characters are refused too: the name is part of a block id, which the end
# marker carries on one comment line (review F12: "a\nb" passed validate and failed at render).
_NOT_IN_ACCOUNT = r"\\\"/\[\]:;|=,+*?<>\x00-\x1f\x7f-\x9f\u2028\u2029"
_ACCOUNT = rf"^(?:[^{_NOT_IN_ACCOUNT}]{{1,64}}\\)?[^{_NOT_IN_ACCOUNT}@]{{1,104}}$"


class WslPin(StrictModel):
    """The WSL package pinned beside Docker Desktop (docker-desktop.md section 6: WSL releases have broken
    Desktop [microsoft/WSL#13006; DD-RN 4.43], so pin it with the Desktop build).

    Installed from the MSI of https://github.com/microsoft/WSL/releases with ``msiexec /i ... /qn /norestart``
    when the Store is blocked [DD-WIN]; the release URL pattern and the MSI's silent switches are community
    knowledge (UNCONFIRMED in the research), so the URL and its SHA-256 are pinned here, not derived.
    """

    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+(?:\.\d+)?$")]
    """WSL version, e.g. 2.5.10; Docker Desktop needs 2.1.5 or later [DD-WIN]."""
    url: HttpUrl
    """The MSI, e.g. https://github.com/microsoft/WSL/releases/download/2.5.10/wsl.2.5.10.0.x64.msi (or a mirror)."""
    sha256: Sha256

    @field_validator("version")
    @classmethod
    def _minimum(cls, value: str) -> str:
        if tuple(int(part) for part in value.split(".")[:3]) < (2, 1, 5):
            raise ValueError(f"Docker Desktop needs WSL 2.1.5 or later [DD-WIN], not {value}")
        return value


class DockerDesktopSpec(StrictModel):
    """Docker Desktop on a Windows 10/11 developer workstation (docker-desktop.md).

    Always the all-users install (``Docker Desktop Installer.exe install``, never ``--user``: per-user
    mode has no Windows containers and no com.docker.service [DD-WIN-NEW; DD-PERM]) and never through
    winget (its manifests add ``--no-windows-containers`` for good [microsoft/winget-pkgs#420243]).
    The engine runs only in a logged-on user's session [docker/for-win#11396, #6670], so a host
    waiting for that ends ``pending_logon``. Docker removes installers older than six months from
    its CDN [DD-RN]: mirror the pinned one and set ``url``.
    """

    type: Literal["docker-desktop"]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    """Docker Desktop version, e.g. 4.43.1: what the installed product reports (its uninstall entry's
    DisplayVersion), compared to decide an install or an upgrade."""
    build: int = Field(gt=0)
    """Installer build of that version (release notes: 4.43.1 is 198352) [DD-RN]."""
    url: HttpUrl | None = None
    """Installer URL; default https://desktop.docker.com/win/main/amd64/<build>/Docker%20Desktop%20Installer.exe [DD-SC]."""
    sha256: Sha256
    """SHA-256 of the installer, from the build's checksums.txt (same folder as the installer) [DD-SC]."""
    backend: Literal["wsl2", "hyperv"] = "wsl2"
    """Where Linux containers run: the WSL 2 distro (Docker's default) or the DockerDesktopVM on Hyper-V [DD-WIN]."""
    windows_containers: bool = True
    """Windows containers (Pro/Enterprise only [DD-WIN]) as the engine Desktop starts with; false installs
    with --no-windows-containers [DD-PERM]."""
    users: list[Annotated[str, Field(pattern=_ACCOUNT)]] = Field(default_factory=list)
    """Developers added to the docker-users group (``NAME`` or ``DOMAIN\\NAME``); the installer adds only the
    account that runs it [docker/for-win#6080]. Membership applies at their next logon [DD-WIN]."""
    accept_license: bool = False
    """Must be true: the installer's --accept-license accepts the Docker Subscription Service Agreement for
    the user [DD-WIN]; large organisations need a paid subscription [DD-LIC]."""
    install_dir: str = r"C:\Program Files\Docker\Docker"
    """Installation folder (--installation-dir) [DD-WIN]."""
    install_timeout: float = Field(default=1800.0, gt=0)
    """Seconds the installer may run before the block gives up on it."""
    wsl: WslPin | None = None
    """Pin the WSL package (wsl2 backend only); None leaves WSL as Windows has it."""

    @field_validator("users")
    @classmethod
    def _unique_users(cls, users: list[str]) -> list[str]:
        if len({u.lower() for u in users}) != len(users):
            raise ValueError("each user may appear once (names compare without case)")
        return users

    @model_validator(mode="after")
    def _wsl_needs_wsl2(self) -> DockerDesktopSpec:
        if self.wsl is not None and self.backend != "wsl2":
            raise ValueError("wsl: pins the WSL package of the wsl2 backend; remove it or set backend: wsl2")
        return self

    @property
    def download_url(self) -> str:
        return self.url or f"https://desktop.docker.com/win/main/amd64/{self.build}/Docker%20Desktop%20Installer.exe"

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        major, minor, patch = self.version.split(".")
        return int(major), int(minor), int(patch)


# -- containerd (issue 15; the rules are in provisioner/containerd/, research/containerd-scaleout-history.md §1)


class ToolPin(StrictModel):
    """A client tool beside containerd, pinned: crictl (kubernetes-sigs/cri-tools; the verify's ``crictl
    info`` needs it) or nerdctl (containerd/nerdctl, whose releases publish SHA256SUMS)."""

    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    sha256: Sha256
    """SHA-256 of the release tarball."""
    url: HttpUrl | None = None
    """Default: the upstream release for the engine's arch (ContainerdEngineSpec.tool_url)."""


class ContainerdEngineSpec(StrictModel):
    """containerd for Kubernetes Windows nodes: the release tarball, pinned and SHA-256 verified."""

    type: Literal["containerd"]
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    """A containerd release, e.g. 2.1.5 (github.com/containerd/containerd/releases)."""
    sha256: Sha256
    """SHA-256 of the tarball: the first word of the release's ``.tar.gz.sha256sum`` file."""
    url: HttpUrl | None = None
    """Default: the upstream release for ``arch``; an internal mirror for air-gapped sites."""
    arch: Literal["amd64", "arm64"] = "amd64"
    install_dir: InstallDir = r"C:\Program Files\containerd"
    """containerd's own default folder: config.toml lives here, the binaries in its bin\\."""
    service: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")] = "containerd"
    log_file: Annotated[str, AfterValidator(_native_argument)] | None = r"C:\ProgramData\containerd\containerd.log"
    """--log-file: without it a containerd service keeps no log at all (section 1.4)."""
    log_level: Literal["trace", "debug", "info", "warn", "error", "fatal", "panic"] | None = "info"
    kubernetes_version: str | None = None
    """The cluster's Kubernetes version: the version is checked against containerd's support matrix."""
    crictl: ToolPin | None = None
    nerdctl: ToolPin | None = None

    @field_validator("kubernetes_version")
    @classmethod
    def _supported(cls, value: str | None, info: ValidationInfo) -> str | None:
        version = info.data.get("version")
        if value is None or version is None:
            return value
        for note in containerd_versions.kubernetes_notes(version, value):
            if note.level == "error":
                raise ValueError(note.message)
        return value

    @property
    def download_url(self) -> str:
        return self.url or (
            f"https://github.com/containerd/containerd/releases/download/v{self.version}/"
            f"containerd-{self.version}-windows-{self.arch}.tar.gz"
        )

    def tool_url(self, name: Literal["crictl", "nerdctl"], pin: ToolPin) -> str:
        """The pin's URL, else the upstream release tarball (research/containerd-scaleout-history.md 1.6)."""
        if pin.url is not None:
            return pin.url
        if name == "crictl":
            return (
                f"https://github.com/kubernetes-sigs/cri-tools/releases/download/v{pin.version}/"
                f"crictl-v{pin.version}-windows-{self.arch}.tar.gz"
            )
        return (
            f"https://github.com/containerd/nerdctl/releases/download/v{pin.version}/"
            f"nerdctl-{pin.version}-windows-{self.arch}.tar.gz"
        )


class CniPaths(StrictModel):
    bin_dir: Annotated[str, Field(min_length=1)]
    conf_dir: Annotated[str, Field(min_length=1)]


class RegistrySettings(StrictModel):
    """``registry.config_path`` and the mirrors written below it as hosts.toml files."""

    config_path: InstallDir = r"C:\ProgramData\containerd\certs.d"
    """nerdctl's Windows default (section 1.5); containerd documents none for Windows, so it is always set."""
    mirrors: dict[
        Annotated[str, AfterValidator(containerd_config.check_registry_host)],
        Annotated[list[Annotated[str, Field(pattern=r"^https?://[^\s\"]+$")]], Field(min_length=1)],
    ] = Field(default_factory=dict)
    """Registry host (``docker.io``, ``registry.example.com:5000``) -> mirror URLs, tried in order."""


class ContainerdSettings(StrictModel):
    """``containerd:``: config.toml keys by name for any containerd version (provisioner/containerd/config.py)."""

    sandbox_image: Annotated[str, AfterValidator(_image)] | None = None
    """The pause image; Kubernetes recommends Microsoft's signed mcr.microsoft.com/oss/kubernetes/pause:3.6
    for production (section 1.1 [K8S-WIN])."""
    cni: Literal["containerd", "kubernetes-sigs"] | CniPaths | None = None
    """A preset (containerd's own paths, or SIG Windows' c:/opt/cni/bin and c:/etc/cni/net.d) or both paths."""
    default_runtime: Literal["runhcs-wcow-process", "runhcs-wcow-hypervisor"] | None = None
    registry: RegistrySettings | None = None
    image_pull_progress_timeout: Annotated[str, AfterValidator(containerd_config.check_duration)] | None = None
    """containerd's default is 5 minutes, short for Windows images (section 1.5)."""
    max_concurrent_downloads: Annotated[int, Field(ge=1, le=64)] | None = None
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Further keys of the CRI plugins, by plugin URI, as in config.toml; checked against the engine's version."""

    @field_validator("cni", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        """One clear error for a preset name that is none (not one per member of the union)."""
        if isinstance(value, str) and value not in containerd_config.CNI_PRESETS:
            presets = " or ".join(sorted(containerd_config.CNI_PRESETS))
            raise ValueError(f"{value!r} is not a CNI preset: use {presets}, or give bin_dir and conf_dir")
        return value


def _engine_type(value: Any) -> str:
    """The engine's tag: its ``type``, ``docker-ce`` when left out (the type docker-ce specs were written without)."""
    if isinstance(value, dict):
        return str(value.get("type", "docker-ce"))
    return str(getattr(value, "type", "docker-ce"))


AnyEngine = Annotated[
    Annotated[EngineSpec, Tag("docker-ce")]
    | Annotated[DockerDesktopSpec, Tag("docker-desktop")]
    | Annotated[ContainerdEngineSpec, Tag("containerd")],
    Discriminator(_engine_type),
]
"""``engine:``: Docker CE (the default type), Docker Desktop or containerd, told apart by ``type``."""


def _daemon_key(key: str) -> str:
    if key in DAEMON_KEYS_REFUSED:
        raise ValueError(f"'{key}' {DAEMON_KEYS_REFUSED[key]}")
    if key not in DAEMON_KEYS_WINDOWS:
        guess = closest(key, DAEMON_KEYS_WINDOWS)
        raise ValueError(
            f"'{key}' is not a daemon.json key on Windows" + (f"; did you mean '{guess}'?" if guess else "")
        )
    return key


def _json_value(value: Any, where: str) -> None:
    """Refuse what has no exact JSON form: dockerd reads daemon.json as strict JSON (review F12)."""
    if isinstance(value, float) and not math.isfinite(value):
        # json.dumps would write NaN or Infinity, which is not JSON: dockerd refuses the file and does not start.
        raise ValueError(f"{where}: {value!r} is not a JSON number (dockerd would refuse daemon.json)")
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _json_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not text; JSON keys are strings (quote it)")
            _json_value(item, f"{where}.{key}")
        return
    kind = "a YAML timestamp" if isinstance(value, (date, datetime)) else f"a {type(value).__name__} value"
    raise ValueError(f"{where}: {kind} has no JSON form; quote it to pass it as text")


def _daemon_values(settings: dict[str, Any]) -> dict[str, Any]:
    for key, value in settings.items():
        _json_value(value, key)
    opts = settings.get("exec-opts", [])
    for opt in opts if isinstance(opts, list) else [opts]:
        if not isinstance(opt, str) or not _ISOLATION_OPT.match(opt):
            raise ValueError(
                f"exec-opts entry {opt!r}: on Windows only isolation=process|hyperv|default is accepted "
                "(dockerd refuses other options at start since v28.0)"
            )
    return settings


DaemonSettings = Annotated[dict[Annotated[str, AfterValidator(_daemon_key)], Any], AfterValidator(_daemon_values)]
"""daemon.json as a mapping; every key checked against the keys Windows dockerd registers."""


# An image reference as docker parses it: [domain[:port]/]path[:tag][@digest] (the grammar of
# github.com/distribution/reference, regexp.go). Nothing else can reach docker.exe as the image: a
# leading "-" would be read as an option, a quote or a space would split the argument (review F19).
_ALNUM = r"[a-z0-9]+"
_PATH = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)


def _image(value: str) -> str:
    if value == "auto":
        return value
    if value.startswith("-"):
        raise ValueError(f"an image cannot begin with '-': docker.exe would read {_cut(value)!r} as an option")
    if len(value) > 255 or not _IMAGE.fullmatch(value):
        raise ValueError(
            f"{_cut(value)!r} is not an image reference (e.g. mcr.microsoft.com/windows/nanoserver:ltsc2022): "
            "lower-case repository path, optional registry, :tag and @sha256 digest, no spaces or quotes"
        )
    return value


def _native_argument(value: str) -> str:
    """One argument for docker.exe, called from Windows PowerShell 5.1.

    5.1 builds the native command line by wrapping an argument that holds a space in double quotes,
    without escaping anything inside it (PowerShell/PowerShell#1995; the 7.3 fix,
    $PSNativeCommandArgumentPassing, does not exist in 5.1), so what docker.exe's MSVCRT parser reads
    differs from the value for exactly these cases.
    """
    if value == "":
        raise ValueError("an empty argument is dropped by Windows PowerShell 5.1 before docker.exe sees it")
    if '"' in value:
        raise ValueError(
            f"{_cut(value)!r}: Windows PowerShell 5.1 passes an embedded double quote to docker.exe "
            "unescaped, so the argument would be split or merged with the next"
        )
    if value.endswith("\\") and any(c.isspace() for c in value):
        raise ValueError(
            f"{_cut(value)!r}: Windows PowerShell 5.1 quotes an argument with a space, and a trailing "
            "backslash then escapes the closing quote"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"{_cut(value)!r}: control characters cannot be passed to docker.exe as they are")
    return value


def _cut(value: str, limit: int = 80) -> str:
    """A value quoted in a message, cut short: an error must not repeat megabytes of input."""
    return value if len(value) <= limit else value[:limit] + "..."


def _proxy_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # The URL is not repeated: it holds a password.
        raise ValueError(
            "a proxy URL must not hold credentials: put USER:PASSWORD in an environment variable and name it in "
            "proxy_credentials_env"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"expected http://host:port, got {_cut(value)!r}")
    return value


class DownloadSpec(StrictModel):
    """How the host fetches the engine zip, Docker Desktop's installer and the WSL package (windows-audit.md F13).

    Invoke-WebRequest in Windows PowerShell 5.1 uses the account's WinINET (Internet Explorer) proxy
    settings, not the machine's ``netsh winhttp`` proxy, so a remote session on a proxied host needs it
    named here (``-Proxy``, ``-ProxyCredential`` [PS-IWR]). The inventory variables ``download_proxy``
    and ``download_proxy_credentials_env`` set the same per host when the spec leaves them out.
    """

    proxy: Annotated[str, AfterValidator(_proxy_url)] | None = None
    """``http://host:port`` of the HTTP proxy for those downloads."""
    proxy_credentials_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = None
    """Name of the controller's environment variable that holds ``USER:PASSWORD`` for the proxy. The value
    is never in YAML: it is read at run time and reaches the host on the apply script's stdin, never in a
    script's text, a template, a log or a command line."""

    @model_validator(mode="after")
    def _credentials_need_proxy(self) -> DownloadSpec:
        if self.proxy_credentials_env is not None and self.proxy is None:
            raise ValueError("proxy_credentials_env needs proxy: the credentials are for that proxy")
        return self


class VerifySpec(StrictModel):
    """The hello-world proof: a container whose image and isolation fit the host's build."""

    image: Annotated[str, AfterValidator(_image)] = "auto"
    """auto = mcr.microsoft.com/windows/nanoserver:<tag for the host build>, or an image reference."""
    isolation: Literal["auto", "process", "hyperv"] = "auto"
    command: Annotated[list[Annotated[str, AfterValidator(_native_argument)]], Field(min_length=1)] | None = None
    """Command to run in the container; default: cmd /c echo <nonce>. Output must contain the nonce."""
    timeout: float = Field(default=600.0, gt=0)
    """Seconds for pull + run; a first pull of nanoserver takes minutes on a slow link."""
    when: Literal["changed", "always", "never"] = "changed"
    linux: bool = False
    """Also prove Linux containers: ``docker run --rm --platform linux busybox uname -a`` on Docker Desktop's
    Linux engine. Docker Desktop only: on docker-ce this is LCOW, removed in Engine 23.0 [CLI-DEPR]."""


class HostSpec(StrictModel):
    """What one host must look like."""

    def digest(self) -> str:
        """SHA-256 of this desired state (as JSON, keys sorted): two runs with the same digest asked
        for the same thing, so a difference between them is drift, not a plan change (the history's
        corrective/intentional split, the Celery executor's check that a worker loaded the same plan)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    virtualization: VirtualizationSpec = VirtualizationSpec()
    features: list[FeatureName] = Field(default_factory=lambda: list[FeatureName](["Containers"]))
    """Windows features to enable. Default [Containers]; with docker-desktop, default none: the features its
    backend needs are added anyway."""
    engine: AnyEngine | None = None
    daemon: DaemonSettings | None = None
    """Written to C:\\ProgramData\\docker\\config\\daemon.json (docker-ce), or to each engine.users
    member's %USERPROFILE%\\.docker\\windows-daemon.json (docker-desktop, which rewrites the ProgramData
    file itself); None leaves the file alone."""
    containerd: ContainerdSettings | None = None
    """containerd's config.toml keys (engine type containerd), rendered for the engine's version."""
    verify: VerifySpec = VerifySpec()
    downloads: DownloadSpec = DownloadSpec()

    @field_validator("containerd")
    @classmethod
    def _known_to_the_version(cls, value: ContainerdSettings | None, info: ValidationInfo) -> ContainerdSettings | None:
        """Keys the engine's version does not have are refused here: containerd would ignore them."""
        engine = info.data.get("engine")
        if value is None or not isinstance(engine, ContainerdEngineSpec):
            return value
        document = containerd_config.document(value, engine.version)
        problems = containerd_config.key_problems(document["plugins"], engine.version)
        if problems:
            raise ValueError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        return value

    @field_validator("features")
    @classmethod
    def _unique(cls, features: list[str]) -> list[str]:
        if len(set(features)) != len(features):
            raise ValueError("each feature may appear once")
        return features

    @model_validator(mode="before")
    @classmethod
    def _desktop_features_default(cls, data: Any) -> Any:
        """Docker Desktop brings its own feature list (per backend); [Containers] is docker-ce's default."""
        if (
            isinstance(data, dict)
            and "features" not in data
            and isinstance(data.get("engine"), dict)
            and data["engine"].get("type") == "docker-desktop"
        ):
            return {**data, "features": []}
        return data

    @model_validator(mode="after")
    def _verify_needs_engine(self) -> HostSpec:
        if self.verify.when != "never" and self.engine is None:
            raise ValueError("verify needs an engine: add `engine:` or set verify.when: never")
        if self.daemon is not None and self.engine is None:
            raise ValueError("daemon settings need an engine: add `engine:`")
        if self.containerd is not None and not isinstance(self.engine, ContainerdEngineSpec):
            raise ValueError("containerd settings need `engine: {type: containerd, ...}`")
        if self.daemon is not None and isinstance(self.engine, ContainerdEngineSpec):
            raise ValueError("daemon.json is Docker's: containerd reads config.toml, set it under `containerd:`")
        return self


class RebootPolicy(StrictModel):
    """When and how long to reboot (DESIGN 4.4)."""

    policy: Literal["never", "if_required"] = "if_required"
    timeout: float = Field(default=1200.0, gt=0)
    """Seconds to wait for the host to come back with a new boot id."""
    poll_interval: float = Field(default=1.0, gt=0)
    """Seconds before the first boot-id poll after a reboot; later polls back off (``poll_backoff``,
    ``poll_max``)."""
    poll_backoff: float = Field(default=1.5, ge=1)
    """Each boot-id poll waits this many times longer than the one before, up to ``poll_max``."""
    poll_max: float = Field(default=15.0, gt=0)
    """Seconds: the longest wait between two boot-id polls."""
    max_per_run: int = Field(default=3, ge=0)
    warn_seconds: int | None = Field(default=None, ge=0, le=315360000)
    """Seconds the signed-in users are warned before the restart (shutdown.exe /r /t, whose range this is);
    default 300 on client SKUs, where a developer is usually signed in, and 0 (Restart-Computer -Force at
    once) on servers; 0 turns the warning off (windows-audit.md F14)."""

    def warn_for(self, client: bool) -> int:
        """The warning for a host: warn_seconds, or its default for the host's SKU."""
        if self.warn_seconds is not None:
            return self.warn_seconds
        return CLIENT_WARN_SECONDS if client else 0


CLIENT_WARN_SECONDS = 300
"""reboot.warn_seconds on client SKUs when it is left out: five minutes to save one's work."""

SerialEntry = Annotated[int, Field(gt=0)] | Annotated[str, Field(pattern=r"^\d+(\.\d+)?%$")]


class RolloutPolicy(StrictModel):
    """Batches and failure thresholds (DESIGN 4.7)."""

    forks: int = Field(default=50, gt=0)
    serial: SerialEntry | list[SerialEntry] | None = None
    max_fail_percentage: float | None = Field(default=None, ge=0, le=100)

    @field_validator("serial")
    @classmethod
    def _batches(cls, value: int | str | list[int | str] | None) -> int | str | list[int | str] | None:
        # Refused at load, not at the first batch: `serial: []` and "9...9%" crashed apply (review F10).
        entries = value if isinstance(value, list) else [] if value is None else [value]
        if isinstance(value, list) and not value:
            raise ValueError("serial needs at least one batch size (or leave it out: all hosts at once)")
        for entry in entries:
            if isinstance(entry, str) and not 0 < float(entry[:-1]) <= 100:
                raise ValueError(f"a serial percentage must be above 0% and at most 100%, got {entry[:20]!r}")
        return value

    any_errors_fatal: bool = False
    host_timeout: float = Field(default=3600.0, gt=0)
