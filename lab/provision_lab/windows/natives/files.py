"""The executable files the lab's downloads and installers deliver, and what identifies them.

A lab executable is a file whose bytes declare which program and version it is
(:func:`provision_lab.windows.programs.image`, MACHINE's format): the machine finds it on disk like
any file (PATH, PATHEXT), hashes it, moves it and locks it, and builds the program registered for
that name (natives/__init__.py). A file that declares no registered program does not start.

The downloads are byte-for-byte stable (fixed zip timestamps, no compression), so their SHA-256
can be pinned in inventories.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from functools import cache

from provision_lab.windows import programs

__all__ = [
    "CONTAINERD_VERSIONS",
    "CRICTL_VERSIONS",
    "DESKTOP_RELEASES",
    "ENGINE_VERSIONS",
    "containerd_archive",
    "containerd_sha256",
    "containerd_url",
    "crictl_archive",
    "crictl_sha256",
    "crictl_url",
    "nerdctl_archive",
    "nerdctl_sha256",
    "nerdctl_url",
    "NERDCTL_VERSIONS",
    "WSL_RELEASES",
    "PROGRAMS",
    "desktop_installer",
    "desktop_sha256",
    "desktop_url",
    "download_catalog",
    "engine_archive",
    "engine_sha256",
    "engine_url",
    "identify",
    "wsl_msi",
    "wsl_sha256",
    "wsl_url",
]

ENGINE_VERSIONS: tuple[str, ...] = ("25.0.5", "26.1.4", "27.3.1", "27.4.1", "28.0.4")
"""Docker CE versions the lab can download, at Docker's static URL pattern (wf §4.2 [DD-BIN])."""

DESKTOP_RELEASES: dict[str, tuple[int, str]] = {
    # Desktop version -> (build [DD-RN; dd §1.5], the Docker Engine it bundles: the lab's assumption,
    # UNCONFIRMED, used for dockerd's version-dependent daemon.json checks and the CLI's API version).
    "4.43.1": (198352, "28.3.0"),
    "4.84.0": (234817, "29.1.0"),
}
WSL_RELEASES: tuple[str, ...] = ("2.1.5", "2.5.10")
CONTAINERD_VERSIONS: tuple[str, ...] = ("1.7.28", "2.0.7", "2.1.5", "2.2.1", "2.3.0")
"""containerd releases the lab serves (their tags' commits are in natives/containerd.py)."""
CRICTL_VERSIONS: tuple[str, ...] = ("1.34.0",)
"""cri-tools releases the lab serves."""
NERDCTL_VERSIONS: tuple[str, ...] = ("2.3.5",)
"""nerdctl releases the lab serves (the latest tag in cs's header)."""
CONTAINERD_BINARIES = ("containerd.exe", "ctr.exe", "containerd-shim-runhcs-v1.exe", "containerd-stress.exe")
"""``bin\\`` of the Windows release tarball (``Makefile.windows``: the binaries plus ``WINDOWS_SHIM``, cs §1.4).
The shim and containerd-stress declare programs the lab does not model: they do not start."""
"""WSL versions whose MSI the lab serves (2.1.5 is Docker Desktop's minimum [DD-WIN])."""


PROGRAMS = {
    # The program names lab executables declare (provision_lab.windows.programs.image) -> what they are.
    "dockerd": "dockerd.exe of Docker CE",
    "docker": "docker.exe of Docker CE",
    "docker-desktop-cli": "docker.exe of Docker Desktop (the CLI with the desktop plugin)",
    "docker-desktop-installer": "Docker Desktop Installer.exe",
    "docker-desktop": "Docker Desktop.exe",
    "com.docker.service": "Docker Desktop's privileged service",
    "wsl-package": "wsl.exe of the WSL package (Program Files\\WSL)",
    "hostname": "hostname.exe",
    "cmd": "cmd.exe",
    "whoami": "whoami.exe",
    "shutdown": "shutdown.exe",
    "tar": "tar.exe (bsdtar)",
    "msiexec": "msiexec.exe",
    "containerd": "containerd.exe of a containerd release",
    "ctr": "ctr.exe of a containerd release",
    "crictl": "crictl.exe of cri-tools",
    "nerdctl": "nerdctl.exe of a nerdctl release",
    "kubelet": "kubelet.exe of Kubernetes (a service depending on containerd)",
    "wsl": "the inbox wsl.exe",
}
"""Every program natives registers. ``wsl-msi`` (the WSL package) is a file msiexec reads, not a program."""


def identify(content: bytes) -> tuple[str, str] | None:
    """(program, version) a lab file declares, None for anything else."""
    return programs.identify(content)


# ------------------------------------------------------------------------------------------------
# Downloads


def engine_url(version: str) -> str:
    """``https://download.docker.com/win/static/stable/x86_64/docker-<version>.zip`` [DD-BIN; DL-DOCKER]."""
    return f"https://download.docker.com/win/static/stable/x86_64/docker-{version}.zip"


@cache
def engine_archive(version: str) -> bytes:
    """The lab's ``docker-<version>.zip``: a real zip with a top-level ``docker\\`` folder holding
    ``docker.exe`` and ``dockerd.exe`` (the layout of the real zip, wf §4.2)."""
    if version not in ENGINE_VERSIONS:
        raise KeyError(f"the lab has no Docker CE {version}; it has {', '.join(ENGINE_VERSIONS)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in ("docker.exe", "dockerd.exe"):
            info = zipfile.ZipInfo(f"docker/{name}", date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, programs.image(name.removesuffix(".exe"), version))
    return buffer.getvalue()


def engine_sha256(version: str) -> str:
    """SHA-256 (lowercase hex) of the lab's ``docker-<version>.zip``, for lab inventories."""
    return hashlib.sha256(engine_archive(version)).hexdigest()


def desktop_url(version: str) -> str:
    """``https://desktop.docker.com/win/main/amd64/<build>/Docker%20Desktop%20Installer.exe`` [DD-SC]."""
    return f"https://desktop.docker.com/win/main/amd64/{DESKTOP_RELEASES[version][0]}/Docker%20Desktop%20Installer.exe"


@cache
def desktop_installer(version: str) -> bytes:
    """The lab's ``Docker Desktop Installer.exe`` of a release."""
    if version not in DESKTOP_RELEASES:
        raise KeyError(f"the lab has no Docker Desktop {version}; it has {', '.join(DESKTOP_RELEASES)}")
    return programs.image("docker-desktop-installer", version, f"build {DESKTOP_RELEASES[version][0]}\n")


def desktop_sha256(version: str) -> str:
    return hashlib.sha256(desktop_installer(version)).hexdigest()


def wsl_url(version: str) -> str:
    """The WSL release MSI (community URL pattern, dd §6; UNCONFIRMED)."""
    return f"https://github.com/microsoft/WSL/releases/download/{version}/wsl.{version}.0.x64.msi"


@cache
def wsl_msi(version: str) -> bytes:
    if version not in WSL_RELEASES:
        raise KeyError(f"the lab has no WSL {version}; it has {', '.join(WSL_RELEASES)}")
    return programs.image("wsl-msi", version + ".0")


def wsl_sha256(version: str) -> str:
    return hashlib.sha256(wsl_msi(version)).hexdigest()


def containerd_url(version: str, arch: str = "amd64") -> str:
    """``https://github.com/containerd/containerd/releases/download/v<V>/containerd-<V>-windows-<arch>.tar.gz``
    (cs §1.6 [CTRD-MK] ``RELEASE=containerd-$(VERSION:v%=%)-${GOOS}-${GOARCH}``)."""
    return f"https://github.com/containerd/containerd/releases/download/v{version}/containerd-{version}-windows-{arch}.tar.gz"


def _tar_gz(members: dict[str, bytes]) -> bytes:
    """A gzip'd tar with fixed times (byte-for-byte stable, so its SHA-256 can be pinned)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_735_689_600, 0o755
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


@cache
def containerd_archive(version: str, arch: str = "amd64") -> bytes:
    """The lab's ``containerd-<V>-windows-<arch>.tar.gz``: ``bin/`` with the release's binaries."""
    if version not in CONTAINERD_VERSIONS:
        raise KeyError(f"the lab has no containerd {version}; it has {', '.join(CONTAINERD_VERSIONS)}")
    return _tar_gz({f"bin/{name}": programs.image(name.removesuffix(".exe"), version) for name in CONTAINERD_BINARIES})


def containerd_sha256(version: str, arch: str = "amd64") -> str:
    return hashlib.sha256(containerd_archive(version, arch)).hexdigest()


def crictl_url(version: str, arch: str = "amd64") -> str:
    """``https://github.com/kubernetes-sigs/cri-tools/releases/download/v<V>/crictl-v<V>-windows-<arch>.tar.gz`` [SWT-IC]."""
    return f"https://github.com/kubernetes-sigs/cri-tools/releases/download/v{version}/crictl-v{version}-windows-{arch}.tar.gz"


@cache
def crictl_archive(version: str, arch: str = "amd64") -> bytes:
    """The lab's crictl tarball: ``crictl.exe`` at its top level."""
    if version not in CRICTL_VERSIONS:
        raise KeyError(f"the lab has no crictl {version}; it has {', '.join(CRICTL_VERSIONS)}")
    return _tar_gz({"crictl.exe": programs.image("crictl", version)})


def crictl_sha256(version: str, arch: str = "amd64") -> str:
    return hashlib.sha256(crictl_archive(version, arch)).hexdigest()


def nerdctl_url(version: str, arch: str = "amd64") -> str:
    """``https://github.com/containerd/nerdctl/releases/download/v<V>/nerdctl-<V>-windows-<arch>.tar.gz`` (cs §1.6)."""
    return f"https://github.com/containerd/nerdctl/releases/download/v{version}/nerdctl-{version}-windows-{arch}.tar.gz"


@cache
def nerdctl_archive(version: str, arch: str = "amd64") -> bytes:
    """The lab's nerdctl tarball: ``nerdctl.exe`` at its top level."""
    if version not in NERDCTL_VERSIONS:
        raise KeyError(f"the lab has no nerdctl {version}; it has {', '.join(NERDCTL_VERSIONS)}")
    return _tar_gz({"nerdctl.exe": programs.image("nerdctl", version)})


def nerdctl_sha256(version: str, arch: str = "amd64") -> str:
    return hashlib.sha256(nerdctl_archive(version, arch)).hexdigest()


def download_catalog() -> dict[str, bytes]:
    """Every URL the lab's web serves a program at, with the bytes it serves (MACHINE's
    Invoke-WebRequest reads this; anything else is a 404)."""
    catalog = {engine_url(v): engine_archive(v) for v in ENGINE_VERSIONS}
    catalog.update({desktop_url(v): desktop_installer(v) for v in DESKTOP_RELEASES})
    catalog.update({wsl_url(v): wsl_msi(v) for v in WSL_RELEASES})
    for version in CONTAINERD_VERSIONS:
        for arch in ("amd64", "arm64"):
            url = containerd_url(version, arch)
            catalog[url] = containerd_archive(version, arch)
            # `sha256sum $(RELEASE).tar.gz > $(RELEASE).tar.gz.sha256sum` [CTRD-MK]: "<hex>  <name>\n".
            name = url.rsplit("/", 1)[1]
            catalog[url + ".sha256sum"] = f"{containerd_sha256(version, arch)}  {name}\n".encode()
    for version in CRICTL_VERSIONS:
        for arch in ("amd64", "arm64"):
            catalog[crictl_url(version, arch)] = crictl_archive(version, arch)
    for version in NERDCTL_VERSIONS:
        for arch in ("amd64", "arm64"):
            catalog[nerdctl_url(version, arch)] = nerdctl_archive(version, arch)
    return catalog
