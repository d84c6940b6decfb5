"""The executable files the lab's downloads and installers deliver, and what identifies them.

A lab executable is a file whose bytes declare which program and version it is
(:func:`provision_lab.windows.programs.image`, MACHINE's format): the machine finds it on disk like
any file (PATH, PATHEXT), hashes it, moves it and locks it, and builds the program registered for
that name (natives/__init__.py). A file that declares no registered program does not start.

The downloads are byte-for-byte stable (fixed zip timestamps, no compression), so their SHA-256
can be pinned in inventories.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import cache

from provision_lab.windows import programs

__all__ = [
    "DESKTOP_RELEASES",
    "ENGINE_VERSIONS",
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


def download_catalog() -> dict[str, bytes]:
    """Every URL the lab's web serves a program at, with the bytes it serves (MACHINE's
    Invoke-WebRequest reads this; anything else is a 404)."""
    catalog = {engine_url(v): engine_archive(v) for v in ENGINE_VERSIONS}
    catalog.update({desktop_url(v): desktop_installer(v) for v in DESKTOP_RELEASES})
    catalog.update({wsl_url(v): wsl_msi(v) for v in WSL_RELEASES})
    return catalog
