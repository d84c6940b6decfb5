"""containerd's own version rules: its Kubernetes support matrix and its release lifecycle.

Both tables are containerd's ``RELEASES.md`` (containerd/containerd@301026e5, 2026-08-22;
research/containerd-scaleout-history.md §1.2 [CTRD-REL]). Pure functions, so a plan decides without a host.

How the matrix is read: each Kubernetes minor lists, per containerd minor, the lowest patch
recommended ("2.1.5+" is 2.1.5 or a later 2.1 patch). For a Kubernetes minor:

* a listed containerd minor below its patch is refused (the matrix names the patch that fixed it);
* a containerd minor older than a listed one but not itself listed has dropped out (1.7 for
  Kubernetes 1.36, 2.0 for 1.35): refused;
* a containerd minor newer than every listed one is not in the matrix yet: a warning;
* a Kubernetes minor the matrix does not list: a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["END_OF_LIFE", "KUBERNETES_MATRIX", "VersionNote", "kubernetes_notes", "lifecycle_notes", "parse"]

KUBERNETES_MATRIX: dict[tuple[int, int], tuple[tuple[int, int, int], ...]] = {
    # Kubernetes minor -> the lowest recommended containerd per minor, newest first [CTRD-REL].
    (1, 32): ((2, 1, 0), (2, 0, 1), (1, 7, 24), (1, 6, 36)),
    (1, 33): ((2, 1, 0), (2, 0, 4), (1, 7, 24), (1, 6, 36)),
    (1, 34): ((2, 1, 3), (2, 0, 6), (1, 7, 28), (1, 6, 39)),
    (1, 35): ((2, 2, 0), (2, 1, 5), (1, 7, 28)),
    (1, 36): ((2, 3, 0), (2, 2, 0)),
}

END_OF_LIFE: dict[tuple[int, int], tuple[date, str]] = {
    # containerd minor -> the last day of support, and how RELEASES.md words it [CTRD-REL].
    (1, 6): (date(2025, 8, 23), "August 23, 2025"),
    # "September 2026*": extended support by two maintainers, "focused on usage with Kubernetes 1.32,
    # 1.31, and 1.30 via GKE". No day is given; the last day of the month is taken.
    (1, 7): (date(2026, 9, 30), "September 2026"),
    # "March, 2027**": extended support "focused on usage with Kubernetes 1.33 via GKE".
    (2, 0): (date(2027, 3, 31), "March 2027"),
    (2, 1): (date(2026, 7, 3), "July 3, 2026"),
    (2, 2): (date(2026, 11, 6), "November 6, 2026"),
    (2, 3): (date(2028, 4, 30), "April 30, 2028"),
}
"""Minors not listed (2.4 and later) have no published end yet: no warning."""

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class VersionNote:
    """One verdict on a containerd version: errors refuse the host, warnings are reported."""

    level: Literal["error", "warning"]
    code: str
    message: str


def parse(version: str) -> tuple[int, int, int]:
    """``2.1.5`` -> (2, 1, 5); ValueError for anything else (a release tag without the ``v``)."""
    found = _VERSION.match(version)
    if found is None:
        raise ValueError(f"{version!r} is not a containerd release version (MAJOR.MINOR.PATCH, e.g. 2.1.5)")
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def _text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def kubernetes_notes(version: str, kubernetes: str) -> list[VersionNote]:
    """Verdicts for running containerd ``version`` under Kubernetes ``kubernetes`` (``1.35`` or ``1.35.2``)."""
    found = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", kubernetes)
    if found is None:
        raise ValueError(f"{kubernetes!r} is not a Kubernetes version (e.g. 1.35 or v1.35.2)")
    k8s = (int(found.group(1)), int(found.group(2)))
    ours = parse(version)
    listed = KUBERNETES_MATRIX.get(k8s)
    k8s_text = f"{k8s[0]}.{k8s[1]}"
    if listed is None:
        known = ", ".join(f"{a}.{b}" for a, b in KUBERNETES_MATRIX)
        return [
            VersionNote(
                "warning",
                "containerd.kubernetes_unlisted",
                f"Kubernetes {k8s_text} is not in containerd's support matrix (it lists {known}); "
                f"containerd {version} is not known to be recommended for it",
            )
        ]
    recommended = ", ".join(_text(v) + "+" for v in listed)
    for minimum in listed:
        if minimum[:2] == ours[:2]:
            if ours < minimum:
                return [
                    VersionNote(
                        "error",
                        "containerd.kubernetes_patch",
                        f"containerd {version} is below {_text(minimum)}, the lowest {minimum[0]}.{minimum[1]} "
                        f"release containerd recommends for Kubernetes {k8s_text} ({recommended})",
                    )
                ]
            return []
    if ours[:2] > listed[0][:2]:
        return [
            VersionNote(
                "warning",
                "containerd.kubernetes_newer",
                f"containerd {version} is newer than containerd's support matrix lists for Kubernetes {k8s_text} "
                f"({recommended})",
            )
        ]
    return [
        VersionNote(
            "error",
            "containerd.kubernetes_dropped",
            f"containerd {ours[0]}.{ours[1]} is not supported with Kubernetes {k8s_text}: containerd recommends "
            f"{recommended}",
        )
    ]


def lifecycle_notes(version: str, today: date) -> list[VersionNote]:
    """A warning when ``version``'s minor is past its end of life on ``today``."""
    minor = parse(version)[:2]
    end = END_OF_LIFE.get(minor)
    if end is None or today <= end[0]:
        if minor < min(END_OF_LIFE):
            return [
                VersionNote(
                    "warning",
                    "containerd.eol",
                    f"containerd {minor[0]}.{minor[1]} is long past its end of life; use a supported release",
                )
            ]
        return []
    supported = [f"{a}.{b}" for (a, b), (last, _) in sorted(END_OF_LIFE.items()) if last >= today]
    return [
        VersionNote(
            "warning",
            "containerd.eol",
            f"containerd {minor[0]}.{minor[1]} reached its end of life ({end[1]}): no more fixes; supported: "
            + (", ".join(supported) or "none listed"),
        )
    ]
