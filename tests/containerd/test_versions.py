"""containerd's Kubernetes support matrix and lifecycle as pure rules (RELEASES.md [CTRD-REL],
research/containerd-scaleout-history.md §1.2)."""

from __future__ import annotations

from datetime import date

import pytest

from provisioner.containerd.versions import kubernetes_notes, lifecycle_notes, parse


def codes(version: str, kubernetes: str) -> list[tuple[str, str]]:
    return [(note.level, note.code) for note in kubernetes_notes(version, kubernetes)]


def test_a_listed_minor_at_or_above_its_patch_is_recommended() -> None:
    assert codes("2.2.0", "1.35") == []
    assert codes("2.1.5", "1.35.2") == []
    assert codes("1.7.28", "v1.34") == []
    assert codes("2.0.6", "1.34") == []


def test_a_listed_minor_below_its_patch_is_refused_with_the_patch_named() -> None:
    notes = kubernetes_notes("2.1.4", "1.35")
    assert [(n.level, n.code) for n in notes] == [("error", "containerd.kubernetes_patch")]
    assert "below 2.1.5" in notes[0].message and "Kubernetes 1.35" in notes[0].message
    assert codes("1.7.27", "1.34") == [("error", "containerd.kubernetes_patch")]


def test_a_minor_that_dropped_out_is_refused_and_a_newer_one_only_warned() -> None:
    # 1.7 is not in the 1.36 row, 2.0 is not in the 1.35 row: both dropped out.
    assert codes("1.7.30", "1.36") == [("error", "containerd.kubernetes_dropped")]
    assert codes("2.0.7", "1.35") == [("error", "containerd.kubernetes_dropped")]
    # 2.3 is newer than anything the 1.33 row lists: not known to be tested, a warning.
    assert codes("2.3.0", "1.33") == [("warning", "containerd.kubernetes_newer")]
    assert codes("2.2.1", "1.29") == [("warning", "containerd.kubernetes_unlisted")]


def test_end_of_life_is_a_warning_from_the_day_after_and_names_what_is_supported() -> None:
    assert lifecycle_notes("2.2.1", date(2026, 11, 6)) == []
    past = lifecycle_notes("2.2.1", date(2026, 11, 7))
    assert [(n.level, n.code) for n in past] == [("warning", "containerd.eol")]
    assert "November 6, 2026" in past[0].message and "2.0" in past[0].message and "2.3" in past[0].message
    # 1.7's "September 2026" ends with the month.
    assert lifecycle_notes("1.7.28", date(2026, 9, 30)) == []
    assert lifecycle_notes("1.7.28", date(2026, 10, 1))[0].code == "containerd.eol"
    assert lifecycle_notes("1.5.18", date(2024, 1, 1))[0].code == "containerd.eol"
    assert lifecycle_notes("2.4.0", date(2030, 1, 1)) == []  # no published end yet


def test_versions_are_release_numbers() -> None:
    assert parse("2.1.5") == (2, 1, 5)
    for bad in ("v2.1.5", "2.1", "2.1.5-rc.1"):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(ValueError):
        kubernetes_notes("2.1.5", "latest")
