"""Fleets of lab hosts: names, addresses, profile mixes and faults as data."""

from __future__ import annotations

from collections import Counter

import pytest

from provision_lab.api import Faults
from provision_lab.fleet import MIXED_WEIGHTS, address_for, build_fleet, parse_faults
from provision_lab.profiles import PROFILES


def test_hosts_are_named_and_addressed_by_index() -> None:
    hosts = build_fleet(5, "server2022:3,win11-23h2-pro:1", 1, reboot_seconds=0.1)
    assert [h.name for h in hosts] == ["lab-0001", "lab-0002", "lab-0003", "lab-0004", "lab-0005"]
    assert [h.address for h in hosts] == [f"127.77.0.{i}" for i in range(1, 6)]
    assert [h.snapshot()["os"]["build"] for h in hosts] == [20348, 20348, 20348, 22631, 20348]
    assert len({h.snapshot()["boot_id"] for h in hosts}) == 5
    assert all(h.reboot_seconds == 0.1 for h in hosts)


def test_addresses_stay_off_dot_zero_and_dot_255() -> None:
    assert (address_for(1), address_for(254), address_for(255), address_for(1000)) == (
        "127.77.0.1",
        "127.77.0.254",
        "127.77.1.1",
        "127.77.3.238",
    )
    with pytest.raises(ValueError):
        address_for(0)


def test_the_mixed_fleet_is_seeded() -> None:
    first = [h.snapshot()["os"]["caption"] for h in build_fleet(200, "mixed", 7, reboot_seconds=0.1)]
    again = [h.snapshot()["os"]["caption"] for h in build_fleet(200, "mixed", 7, reboot_seconds=0.1)]
    other = [h.snapshot()["os"]["caption"] for h in build_fleet(200, "mixed", 8, reboot_seconds=0.1)]
    assert first == again != other
    assert Counter(first).most_common(1)[0][0] == "Microsoft Windows Server 2022 Datacenter"
    assert len(set(first)) >= 5 and set(MIXED_WEIGHTS) == set(PROFILES)


def test_converged_profiles_can_be_part_of_a_fleet() -> None:
    hosts = build_fleet(2, "server2022-converged", 1, reboot_seconds=0.1)
    assert all(h.snapshot()["services"]["docker"]["status"] == "Running" for h in hosts)


def test_faults_apply_by_host_profile_and_glob() -> None:
    hosts = build_fleet(
        6,
        "server2022:4,win11-23h2-pro:2",
        1,
        reboot_seconds=0.1,
        faults_spec="lab-0003=http_500_rate:0.3;lab-0005=unreachable;"
        "win11-23h2-pro=latency_ms:50,reset_rate:0.1;lab-000[12]=download_failure",
    )
    faults = {h.name: h.faults for h in hosts}
    assert faults["lab-0003"] == Faults(http_500_rate=0.3)
    assert faults["lab-0005"] == Faults(unreachable=True, latency_ms=50, reset_rate=0.1)
    assert faults["lab-0006"] == Faults(latency_ms=50, reset_rate=0.1)
    assert faults["lab-0001"] == faults["lab-0002"] == Faults(download_failure=True)
    assert faults["lab-0004"] == Faults()
    assert faults["lab-0001"] is not faults["lab-0002"]


def test_faults_can_be_given_as_data() -> None:
    (host,) = build_fleet(
        1,
        "server2019",
        1,
        reboot_seconds=0.1,
        faults_spec={"lab-0001": {"reboot_seconds": 2, "reboot_never_returns": "false"}},
    )
    assert host.faults == Faults(reboot_seconds=2.0)


@pytest.mark.parametrize(
    "profiles, faults, message",
    [
        ("server2099", None, "unknown lab profile"),
        ("server2022:0", None, "at least 1"),
        ("server2022", "lab-0001=gremlins", "unknown fault"),
        ("server2022", "lab-0001=http_500_rate:2", "out of range"),
        ("server2022", "lab-0001=unreachable:maybe", "is a flag"),
        ("server2022", "lab-0009=unreachable", "match no host"),
        ("server2022", "unreachable", "expected target="),
    ],
)
def test_bad_specs_are_refused_with_the_reason(profiles: str, faults: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_fleet(2, profiles, 1, reboot_seconds=0.1, faults_spec=faults)


def test_parse_faults_keeps_the_order_given() -> None:
    assert parse_faults("*=latency_ms:5;lab-0001=latency_ms:9") == [
        ("*", {"latency_ms": 5.0}),
        ("lab-0001", {"latency_ms": 9.0}),
    ]
    (host,) = build_fleet(1, "server2022", 1, reboot_seconds=0.1, faults_spec="*=latency_ms:5;lab-0001=latency_ms:9")
    assert host.faults.latency_ms == 9.0
