"""compat.py against windows-facts.md section 1: every row cites the research line it checks.

Builds: WS2016 14393, WS2019 17763, Win10 22H2 19045, WS2022 20348, Win11 23H2 22631,
WS 23H2 25398, WS2025 / Win11 24H2 26100 (windows-facts.md 1.1).
"""

from __future__ import annotations

import pytest

from provisioner.compat import (
    auto_image,
    choose_isolation,
    image_build,
    isolation_allowed,
)

WS2016, WS2019, WIN10, WS2022, WIN11_23H2, WS23H2, WS2025 = 14393, 17763, 19045, 20348, 22631, 25398, 26100
WIN11_24H2 = 26100
IMG = {"2025": 26100, "2022": 20348, "2019": 17763, "2016": 14393}
NANO = "mcr.microsoft.com/windows/nanoserver:"

# ---------------------------------------------------------------------------------------------
# The release builds are where behaviour changes (windows-facts.md 1.1, builds from hcsshim's
# osversion/windowsbuilds.go): one build below each and the build itself fall on either side, so a
# constant that is off by any amount moves an edge and fails here (the matrix below tests at the
# release builds only, which a constant set too low still passes).


@pytest.mark.parametrize(
    "below, at, source",
    [
        (None, NANO + "1809", "1.1 row WS2019 (RS5): 17763; nothing older is published [MS-LIFE]"),
        (NANO + "1809", NANO + "ltsc2022", "1.1 row WS2022: 20348"),
        (NANO + "ltsc2022", NANO + "ltsc2025", "1.1 row WS2025 / Win11 24H2: 26100 [MS-LIFE]"),
    ],
    ids=["17763", "20348", "26100"],
)
def test_auto_image_changes_at_the_release_builds(below: str | None, at: str, source: str) -> None:
    build = image_build(at)
    assert build is not None
    assert (auto_image(build - 1), auto_image(build)) == (below, at), source


def test_windows_11_process_isolation_starts_at_build_22000() -> None:
    """1.2: Windows 10 runs containers under Hyper-V only; Windows 11 (from 21H2, 22000 [HCS]) may
    run its own build process-isolated."""
    assert isolation_allowed(21999, 21999, "process", client=True) == (
        "Windows 10 runs Windows containers under Hyper-V isolation only"
    )
    assert isolation_allowed(22000, 22000, "process", client=True) is None


@pytest.mark.parametrize(
    "host, floor",
    [(WS23H2, WS2022), (WS2025, WS2022), (26200, WS2025)],
    ids=["WS 23H2", "WS2025", "after WS2025"],
)
def test_servers_run_images_from_the_ltsc_below_them_process_isolated(host: int, floor: int) -> None:
    """[HCS]: a host at or above 20348 runs, process-isolated, images from the newest LTSC build below
    it up to its own; one build older than that LTSC needs Hyper-V."""
    assert isolation_allowed(host, floor, "process", client=False) is None
    assert isolation_allowed(host, floor - 1, "process", client=False) is not None


# ---------------------------------------------------------------------------------------------
# image: auto -> Nano Server tag per host build (windows-facts.md 6, "Pick <tag> by host build").


@pytest.mark.parametrize(
    "host, expected, source",
    [
        (WS2016, None, "1.1 WS2016: the 2016 Nano Server image was SAC-only, last updated 2018-10-23; none left"),
        (WS2019, NANO + "1809", "6: 17763 -> 1809; 1.1: no nanoserver:ltsc2019 tag confirmed"),
        (WIN10, NANO + "1809", "1.2 Windows 10 row: WS2019 image hyperv only, WS2022 image refused"),
        (WS2022, NANO + "ltsc2022", "6: 20348-2609x -> ltsc2022"),
        (WIN11_23H2, NANO + "ltsc2022", "1.1 Win11 23H2 row: none; use ltsc2022"),
        (WS23H2, NANO + "ltsc2022", "1.1 WS 23H2 row: runs ltsc2022 images (container image portability)"),
        (WS2025, NANO + "ltsc2025", "6: >= 26100 -> ltsc2025; 1.1 WS2025 row"),
        (26200, NANO + "ltsc2025", "1.1 Win11 25H2 row (26200, UNCONFIRMED): no image of its own, ltsc2025 is newest"),
    ],
)
def test_auto_image(host: int, expected: str | None, source: str) -> None:
    assert auto_image(host) == expected, source


@pytest.mark.parametrize("host", [WS2019, WIN10, WS2022, WIN11_23H2, WS23H2, WS2025, 26200])
def test_auto_image_is_never_newer_than_the_host(host: int) -> None:
    """1.3: "Docker refuses to even pull newer images, whatever the isolation" [MOBY]."""
    image = auto_image(host)
    assert image is not None
    built = image_build(image)
    assert built is not None and built <= host


# ---------------------------------------------------------------------------------------------
# image reference -> build (windows-facts.md 1.1 tags; MS-VC tag forms; HW hello-world variants).


@pytest.mark.parametrize(
    "image, build, source",
    [
        ("mcr.microsoft.com/windows/nanoserver:ltsc2022", 20348, "1.1 WS2022 row: nanoserver:ltsc2022"),
        ("mcr.microsoft.com/windows/servercore:ltsc2022", 20348, "1.1 WS2022 row: servercore:ltsc2022"),
        ("mcr.microsoft.com/windows/server:ltsc2025", 26100, "1.1 WS2025 row: server:ltsc2025"),
        ("mcr.microsoft.com/windows/servercore:ltsc2019", 17763, "1.1 WS2019 row: servercore:ltsc2019"),
        ("mcr.microsoft.com/windows/nanoserver:1809", 17763, "1.1 WS2019 row: nanoserver:1809"),
        ("mcr.microsoft.com/windows:1809", 17763, "1.1 WS2019 row: windows:1809"),
        ("mcr.microsoft.com/windows/servercore:ltsc2016", 14393, "1.1 WS2016 row: servercore:ltsc2016"),
        (
            "mcr.microsoft.com/windows/nanoserver:1809-KB4493509",
            17763,
            "1.1 WS2019 row: tag form 1809-KB4493509 [MS-VC]",
        ),
        (
            "mcr.microsoft.com/windows/nanoserver:10.0.17763.437",
            17763,
            "1.1 WS2019 row: tag form 10.0.17763.437 [MS-VC]",
        ),
        ("mcr.microsoft.com/windows/servercore:20H2", 19042, "1.1 20H2 row: :20H2 (SAC)"),
        ("mcr.microsoft.com/windows/nanoserver:LTSC2022", 20348, "tags are case-insensitive in the table"),
        ("mcr.microsoft.com/windows/nanoserver:ltsc2022@sha256:" + "0" * 64, 20348, "a digest does not hide the tag"),
        ("hello-world:nanoserver-ltsc2022", 20348, "6: hello-world variants nanoserver-ltsc2022 [HW]"),
        ("hello-world:nanoserver-ltsc2025", 26100, "6: hello-world variants nanoserver-ltsc2025 [HW]"),
        (
            "mcr.microsoft.com/windows/nanoserver",
            None,
            "1.1: 'latest' not published since 2019-04-16; no tag = unknown",
        ),
        ("hello-world", None, "6: hello-world's shared tags are multi-arch, no build in the name"),
        ("registry.example/app:ltsc2022", None, "a private image's tag is not a Windows build claim"),
    ],
)
def test_image_build(image: str, build: int | None, source: str) -> None:
    assert image_build(image) == build, source


# ---------------------------------------------------------------------------------------------
# The matrix, cell by cell (windows-facts.md 1.2 [MS-VC]): host row x image column x isolation.
# "both" = process and hyperv; "hyperv" = hyperv only; "no" = neither.

MATRIX = [
    # host,        client, image,  cell,     source row
    (WS2025, False, "2025", "both", "1.2 row WS2025 / WS2025 img: process ✅ hyperv ✅"),
    (WS2025, False, "2022", "both", "1.2 row WS2025 / WS2022 img: process ✅ hyperv ✅ (ltsc2022 process OK)"),
    (WS2025, False, "2019", "hyperv", "1.2 row WS2025 / WS2019 img: hyperv only"),
    (WS2025, False, "2016", "hyperv", "1.2 row WS2025 / WS2016 img: hyperv only"),
    (WS2022, False, "2025", "no", "1.2 row WS2022 / WS2025 img: ❌"),
    (WS2022, False, "2022", "both", "1.2 row WS2022 / WS2022 img: process ✅ hyperv ✅"),
    (WS2022, False, "2019", "hyperv", "1.2 row WS2022 / WS2019 img: hyperv only"),
    (WS2022, False, "2016", "hyperv", "1.2 row WS2022 / WS2016 img: hyperv only"),
    (WS2019, False, "2025", "no", "1.2 row WS2019 / WS2025 img: ❌"),
    (WS2019, False, "2022", "no", "1.2 row WS2019 / WS2022 img: ❌"),
    (WS2019, False, "2019", "both", "1.2 row WS2019 / WS2019 img: process ✅ hyperv ✅"),
    (WS2019, False, "2016", "hyperv", "1.2 row WS2019 / WS2016 img: hyperv only"),
    (WS2016, False, "2025", "no", "1.2 row WS2016 / WS2025 img: ❌"),
    (WS2016, False, "2022", "no", "1.2 row WS2016 / WS2022 img: ❌"),
    (WS2016, False, "2019", "no", "1.2 row WS2016 / WS2019 img: ❌"),
    (WS2016, False, "2016", "both", "1.2 row WS2016 / WS2016 img: process ✅ hyperv ✅"),
    (WIN11_24H2, True, "2025", "both", "1.2 row Windows 11 / WS2025 img: both ✅, only from 24H2 (26100)"),
    (WIN11_23H2, True, "2025", "no", "1.2 row Windows 11 / WS2025 img: not before 24H2; image newer than 22631"),
    (WIN11_23H2, True, "2022", "both", "1.2 row Windows 11 / WS2022 img: process ✅ hyperv ✅"),
    (22000, True, "2022", "both", "1.2 row Windows 11 / WS2022 img (21H2, 22000)"),
    (WIN11_24H2, True, "2022", "both", "1.2 row Windows 11 / WS2022 img (24H2)"),
    (WIN11_23H2, True, "2019", "hyperv", "1.2 row Windows 11 / WS2019 img: hyperv only"),
    (WIN11_23H2, True, "2016", "hyperv", "1.2 row Windows 11 / WS2016 img: hyperv only"),
    (WIN10, True, "2025", "no", "1.2 row Windows 10 / WS2025 img: ❌"),
    (WIN10, True, "2022", "no", "1.2 row Windows 10 / WS2022 img: ❌ (1.3: Win10 19045 cannot pull ltsc2022)"),
    (WIN10, True, "2019", "hyperv", "1.2 row Windows 10 / WS2019 img: hyperv only"),
    (WIN10, True, "2016", "hyperv", "1.2 row Windows 10 / WS2016 img: hyperv only"),
    (
        WS2019,
        True,
        "2019",
        "hyperv",
        "1.3 conflict: Win10 1809 (17763) + WS2019 image; the current [MS-VC] Windows 10 row says hyperv only",
    ),
    (WS23H2, False, "2022", "both", "1.1 row WS 23H2: runs ltsc2022 images; 1.3 [HCS] 20348..host"),
    (WS23H2, False, "2019", "hyperv", "1.3 [HCS]: below the newest LTSC under the host, process is refused"),
]


@pytest.mark.parametrize("host, client, image, cell, source", MATRIX, ids=[row[4][:60] for row in MATRIX])
def test_matrix(host: int, client: bool, image: str, cell: str, source: str) -> None:
    process = isolation_allowed(host, IMG[image], "process", client=client)
    hyperv = isolation_allowed(host, IMG[image], "hyperv", client=client)
    assert (process is None) == (cell == "both"), f"{source}: process -> {process!r}"
    assert (hyperv is None) == (cell in ("both", "hyperv")), f"{source}: hyperv -> {hyperv!r}"


@pytest.mark.parametrize(
    "host, client, image",
    [
        (WS2019, False, "2022"),
        (WS2022, False, "2025"),
        (WIN10, True, "2022"),
        (WIN11_23H2, True, "2025"),
    ],
)
def test_newer_image_is_refused_even_under_hyperv_and_says_why(host: int, client: bool, image: str) -> None:
    """1.3: Hyper-V isolation runs only images <= host; docker refuses even to pull a newer one
    ("no matching manifest for windows/amd64 10.0.<build>") [MOBY; MS-VC]."""
    reason = isolation_allowed(host, IMG[image], "hyperv", client=client)
    assert reason is not None
    assert "newer" in reason
    assert f"10.0.{host}" in reason
    assert str(IMG[image]) in reason


def test_windows10_process_refusal_names_hyperv() -> None:
    """1.2 Windows 10 row: hyperv only; the reason must say what does work."""
    reason = isolation_allowed(WIN10, IMG["2019"], "process", client=True)
    assert reason is not None and "Hyper-V" in reason


def test_process_mismatch_reason_names_both_builds() -> None:
    """1.3: process isolation is blocked when host and image builds differ [MS-VC]."""
    reason = isolation_allowed(WS2022, IMG["2019"], "process", client=False)
    assert reason is not None
    assert "17763" in reason and "20348" in reason


# ---------------------------------------------------------------------------------------------
# isolation: auto (windows-facts.md 1.3 "Default isolation" and the matrix above).


@pytest.mark.parametrize(
    "host, client, image, hyperv, expected, source",
    [
        (WS2022, False, "2022", False, "process", "1.2 WS2022/WS2022: process ✅ (preferred, no Hyper-V needed)"),
        (WS2022, False, "2022", True, "process", "process is preferred even when Hyper-V is there"),
        (WS2025, False, "2022", False, "process", "1.2 WS2025/WS2022: process ✅"),
        (WS2022, False, "2019", True, "hyperv", "1.2 WS2022/WS2019: hyperv only -> falls back to hyperv"),
        (WIN10, True, "2019", True, "hyperv", "1.2 Windows 10/WS2019: hyperv only"),
        (WIN11_23H2, True, "2022", True, "process", "1.2 Windows 11/WS2022: process ✅"),
        (WIN11_23H2, True, "2019", True, "hyperv", "1.2 Windows 11/WS2019: hyperv only"),
    ],
)
def test_choose_isolation(host: int, client: bool, image: str, hyperv: bool, expected: str, source: str) -> None:
    choice = choose_isolation(host, IMG[image], client=client, hyperv_available=hyperv)
    assert choice.isolation == expected, f"{source}: {choice.reason}"


@pytest.mark.parametrize(
    "host, client, image, source",
    [
        (WS2022, False, "2019", "1.2 WS2022/WS2019: hyperv only, and Hyper-V is not available"),
        (WIN10, True, "2019", "1.2 Windows 10/WS2019: hyperv only, and Hyper-V is not available"),
        (WIN11_23H2, True, "2016", "1.2 Windows 11/WS2016: hyperv only, and Hyper-V is not available"),
    ],
)
def test_auto_without_hyperv_is_an_error_that_says_why_and_what_to_change(
    host: int, client: bool, image: str, source: str
) -> None:
    """1.3: Hyper-V isolation needs the Hyper-V role [MS-REQ]; without it, no silent fallback."""
    choice = choose_isolation(host, IMG[image], client=client, hyperv_available=False)
    assert choice.isolation is None, source
    assert "Hyper-V" in choice.reason  # why
    assert "spec.features" in choice.reason  # what to change
    assert str(host) in choice.reason  # or use an image built for the host


def test_auto_with_newer_image_is_an_error_even_with_hyperv() -> None:
    """1.3: never a newer image, whatever the isolation."""
    choice = choose_isolation(WS2019, IMG["2022"], client=False, hyperv_available=True)
    assert choice.isolation is None
    assert "newer" in choice.reason


@pytest.mark.parametrize(
    "client, hyperv, expected, source",
    [
        (False, False, "process", "1.3 Default isolation: Server -> process [CLI-DOCKERD; MOBY setDefaultIsolation]"),
        (False, True, "process", "1.3 Default isolation: Windows Server -> process"),
        (True, True, "hyperv", "1.3 Default isolation: Windows client (10/11) -> hyperv"),
    ],
)
def test_unknown_image_build_uses_the_engine_default(client: bool, hyperv: bool, expected: str, source: str) -> None:
    choice = choose_isolation(WS2022 if not client else WIN11_23H2, None, client=client, hyperv_available=hyperv)
    assert choice.isolation == expected, source
