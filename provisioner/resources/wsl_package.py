"""wsl_package: the WSL package pinned beside Docker Desktop's wsl2 backend.

Docker Desktop needs WSL 2.1.5 or later [DD-WIN], and WSL releases have broken it (2.5.7
[microsoft/WSL#13006]; the 4.43 notes advise a downgrade to 2.5.7 for host networking [DD-RN]),
so a site can pin the WSL version with the Desktop build (docker-desktop.md 6, inference). The
pinned MSI from https://github.com/microsoft/WSL/releases (what [DD-WIN] points to when the Store
is blocked) is checksum-verified and installed with ``msiexec /i <msi> /qn /norestart``; the
release URL pattern and the MSI's switches are community knowledge (UNCONFIRMED), hence pinned
in the spec. Exit 0 is success, 3010 and 1641 success with a reboot (Windows Installer's codes,
which Chocolatey also accepts [CHOCO]). It runs after the features' reboot and before the Desktop
installer (docker-desktop.md 7.2).

The installed version is read from the file version of ``C:\\Program Files\\WSL\\wsl.exe`` (the
package's wsl.exe; the System32 alias fails outside interactive sessions [microsoft/WSL#9231]):
that reading is UNCONFIRMED, so a mismatch after an install is reported, not retried forever
(the engine's "did not converge" check stops a second identical apply).
"""

from __future__ import annotations

from provisioner.facts import Facts
from provisioner.resources.base import DEFAULT_TIMEOUT, BlockParams, Change, DiffEntry, Finding, RecordData, Resource
from provisioner.resources.docker_desktop import REBOOT_CODES, WSL_EXE, desktop_facts, docker_desktop
from provisioner.spec import HostSpec

__all__ = ["MSIEXEC", "RESOURCE", "TYPE", "WslData", "WslParams", "changes", "preflight", "product_version"]

TYPE = "wsl_package"
MSIEXEC = r"C:\Windows\System32\msiexec.exe"


def product_version(version: str) -> str:
    """The four-part file version of wsl.exe for a release: 2.5.10 -> 2.5.10.0."""
    parts = version.split(".")
    return ".".join(parts + ["0"] * (4 - len(parts)))


class WslParams(BlockParams):
    version: str
    product_version: str
    url: str
    sha256: str
    wsl_exe: str
    msiexec: str
    timeout: float
    success_codes: list[int]
    reboot_codes: list[int]
    proxy: str | None = None
    """spec.downloads.proxy (windows-audit.md F13)."""


class WslData(RecordData):
    before: str | None
    """wsl.exe's file version before the block; None without the WSL package."""
    exit_code: int | None = None
    """msiexec's exit code, when it ran."""
    after: str | None


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Without a pin, a WSL older than 2.1.5 (or only the inbox one) is a warning: Desktop will not start its
    Linux engine on it [DD-WIN]."""
    engine = docker_desktop(spec)
    if engine.backend != "wsl2" or engine.wsl is not None:
        return []
    found = desktop_facts(facts).wsl_version
    if found is not None and tuple(int(p) for p in found.split(".")[:3]) >= (2, 1, 5):
        return []
    return [
        Finding(
            "warning",
            "desktop.wsl",
            f"Docker Desktop's wsl2 backend needs WSL 2.1.5 or later [DD-WIN]; this host has "
            f"{found or 'no WSL package'}: pin engine.wsl (version, url, sha256) or run `wsl --update`",
        )
    ]


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = docker_desktop(spec)
    if engine.wsl is None:
        return []
    pin = engine.wsl
    found = desktop_facts(facts).wsl_version
    if found == product_version(pin.version):
        return []
    params = WslParams(
        version=pin.version,
        product_version=product_version(pin.version),
        url=pin.url,
        sha256=pin.sha256,
        wsl_exe=WSL_EXE,
        msiexec=MSIEXEC,
        timeout=engine.install_timeout,
        success_codes=[0],
        reboot_codes=list(REBOOT_CODES),
        proxy=spec.downloads.proxy,
    )
    return [
        Change(
            id="engine/wsl",
            type=TYPE,
            params=params,
            diff=[DiffEntry("desktop.wsl_version", found, product_version(pin.version))],
        )
    ]


def _timeout(params: WslParams) -> float:
    """msiexec's own limit, plus the download around it."""
    return params.timeout + DEFAULT_TIMEOUT


RESOURCE = Resource(
    name=TYPE,
    params=WslParams,
    data=WslData,
    changes=changes,
    preflight=preflight,
    # After the features' reboot, before Desktop's installer (docker-desktop.md 7.2).
    requires=("windows_feature",),
    may_reboot=True,  # msiexec 3010/1641
    timeout=_timeout,
)
