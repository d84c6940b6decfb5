"""Windows build <-> container image tag <-> isolation rules.

Every rule cites windows-facts.md section 1: the current Microsoft matrix [MS-VC, ms.date
2025-01-23], its 2021 version [MS-VC-2021], hcsshim's compatibility function [HCS
osversion/platform_compat_windows.go] and moby's pull filter [MOBY pull_v2_windows.go].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Build",
    "Isolation",
    "IsolationChoice",
    "auto_image",
    "choose_isolation",
    "cross_version_warning",
    "image_build",
    "isolation_allowed",
]

Isolation = Literal["process", "hyperv"]


class Build:
    """Build numbers of the releases that matter for containers [HCS osversion/windowsbuilds.go]."""

    RS5_WS2019 = 17763
    WIN10_22H2 = 19045
    WS2022 = 20348
    WIN11_21H2 = 22000
    WIN11_23H2 = 22631
    WS2025 = 26100
    LTSC = (WS2022, WS2025)
    """LTSC image builds that newer hosts may run process-isolated [HCS]."""


# Tag of mcr.microsoft.com/windows/* images -> image build [MS-VC; MS-LIFE; HCS].
_TAG_BUILDS: dict[str, int] = {
    "ltsc2016": 14393,
    "1607": 14393,
    "1709": 16299,
    "1803": 17134,
    "ltsc2019": 17763,
    "1809": 17763,
    "1903": 18362,
    "1909": 18363,
    "2004": 19041,
    "20h2": 19042,
    "ltsc2022": 20348,
    "ltsc2025": 26100,
}
_WINDOWS_REPOS = re.compile(
    r"^(?:mcr\.microsoft\.com/)?(?:windows/(?:nanoserver|servercore|server)|windows|microsoft/nanoserver"
    r"|microsoft/windowsservercore)(?::(?P<tag>[^@]+))?(?:@.*)?$",
    re.IGNORECASE,
)
# docker-library hello-world: Windows variants nanoserver-ltsc2022 and -ltsc2025 only [HW].
_HELLO_WORLD = re.compile(r"^(?:docker\.io/)?(?:library/)?hello-world:nanoserver-(?P<tag>ltsc20\d\d)$", re.IGNORECASE)
_VERSION_TAG = re.compile(r"^10\.0\.(?P<build>\d{5})(?:\.\d+)?$")


def image_build(image: str) -> int | None:
    """The Windows build an image reference targets, or None when the tag does not say.

    Tags carry the build: ``ltsc2022`` -> 20348, ``1809`` -> 17763, ``10.0.17763.437`` -> 17763,
    and KB-suffixed forms such as ``1809-KB4493509`` [MS-VC]. ``latest`` has not been published
    since 2019-04-16, so a tagless reference is unknown, not "newest" [MS-VC].
    """
    match = _WINDOWS_REPOS.match(image) or _HELLO_WORLD.match(image)
    if not match or not match.group("tag"):
        return None
    tag = match.group("tag").lower()
    version = _VERSION_TAG.match(tag)
    if version:
        return int(version.group("build"))
    return _TAG_BUILDS.get(tag.split("-")[0])


def auto_image(host_build: int) -> str | None:
    """The Nano Server image for a host build, or None when none can run there.

    17763 -> 1809 (no ``nanoserver:ltsc2019`` tag was ever confirmed); 19041..26099 -> the newest
    tag not newer than the host (Windows 10 gets 1809 under Hyper-V; WS2022, Windows 11 and
    WS 23H2 get ltsc2022); >= 26100 -> ltsc2025 (windows-facts.md section 6, inference from 1).
    Below 17763 there is no Nano Server image still published [MS-LIFE].
    """
    if host_build >= Build.WS2025:
        tag = "ltsc2025"
    elif host_build >= Build.WS2022:
        tag = "ltsc2022"
    elif host_build >= Build.RS5_WS2019:
        tag = "1809"
    else:
        return None
    return f"mcr.microsoft.com/windows/nanoserver:{tag}"


def isolation_allowed(host_build: int, image: int, isolation: Isolation, *, client: bool) -> str | None:
    """None when ``image`` runs on the host with ``isolation``; otherwise the reason it cannot.

    - An image newer than the host is unsupported under either isolation, and docker refuses
      even to pull it: "no matching manifest for windows/amd64 10.0.<build>" [MOBY; MS-VC].
    - Hyper-V isolation runs any image not newer than the host [MS-VC; MS-VC-2021].
    - Process isolation needs equal builds [MS-VC], except: WS2022 images on Windows 11 [MS-VC,
      "available in preview"], and on hosts at or above 20348 an image between the newest LTSC
      build below the host and the host [HCS], which is how WS2025 and WS 23H2 run ltsc2022
      images. Windows 10 never gets process isolation in the current matrix [MS-VC] (the older
      "matching build, --isolation=process" note [MS-ISO] no longer holds: no 1904x images exist).
    """
    if image > host_build:
        return (
            f"the image targets build {image}, newer than the host's {host_build}; Windows cannot run a newer "
            f"image under any isolation and docker refuses to pull it (no matching manifest for "
            f"windows/amd64 10.0.{host_build})"
        )
    if isolation == "hyperv":
        return None
    if client and host_build < Build.WIN11_21H2:
        return "Windows 10 runs Windows containers under Hyper-V isolation only"
    if image == host_build:
        return None
    if client:
        if image == Build.WS2022 or (image == Build.WS2025 and host_build >= Build.WS2025):
            return None
        return f"Windows 11 runs build {image} images under Hyper-V isolation only"
    if host_build >= Build.WS2022:
        floor = max((b for b in Build.LTSC if b < host_build), default=Build.WS2022)
        if floor <= image <= host_build:
            return None
    return f"process isolation needs the image build ({image}) to match the host build ({host_build})"


@dataclass(frozen=True)
class IsolationChoice:
    """The isolation picked for a verify run, or why none fits."""

    isolation: Isolation | None
    reason: str


def choose_isolation(host_build: int, image: int | None, *, client: bool, hyperv_available: bool) -> IsolationChoice:
    """``isolation: auto``: process where allowed, else Hyper-V where allowed, else an error.

    With an image whose build is unknown, the engine's own default applies: process on Server,
    Hyper-V on client SKUs [CLI-DOCKERD; MOBY setDefaultIsolation].
    """
    if image is None:
        default: Isolation = "hyperv" if client and hyperv_available else "process"
        return IsolationChoice(default, "the image tag does not name a Windows build; using the engine default")
    process_problem = isolation_allowed(host_build, image, "process", client=client)
    if process_problem is None:
        return IsolationChoice("process", "image and host builds allow process isolation")
    hyperv_problem = isolation_allowed(host_build, image, "hyperv", client=client)
    if hyperv_problem is not None:
        return IsolationChoice(None, hyperv_problem)
    if not hyperv_available:
        return IsolationChoice(
            None,
            f"{process_problem}, and Hyper-V isolation needs the Hyper-V feature: add Hyper-V to spec.features "
            f"or use an image built for {host_build}",
        )
    return IsolationChoice("hyperv", f"{process_problem}; Hyper-V isolation runs it")


def cross_version_warning(
    host_build: int, image: int | None, isolation: Isolation, *, client: bool, cpu_manufacturer: str
) -> str | None:
    """Why a cross-version process-isolated run on Windows 11 with an AMD CPU may not prove much, or None.

    Microsoft calls an older image under process isolation on Windows 11 "a preview of cross version
    support", with a known failure: processes fail with -2147023829 in TLS scenarios on AMD CPUs
    ("For a production scenario, please use matching versions") [microsoft/Windows-Containers#197;
    windows-audit.md F15]. ``cmd /c echo`` passes there anyway, so the verify cannot show it.
    """
    if not (client and host_build >= Build.WIN11_21H2 and isolation == "process"):
        return None
    if image is None or image == host_build or cpu_manufacturer != "AuthenticAMD":
        return None
    return (
        f"process isolation of a build {image} image on Windows 11 (build {host_build}) is a preview of cross-version "
        "support, and on AMD CPUs processes in it fail with -2147023829 in TLS scenarios "
        "[microsoft/Windows-Containers#197]; the verify's echo passes anyway: set verify.isolation: hyperv, or "
        "run containers with --isolation=hyperv on this host"
    )
