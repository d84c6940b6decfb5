"""Build a lab fleet: N hosts from a profile mix, on 127.77.x.y, with faults given as data.

Profiles spec (``profiles_spec``):

- ``"server2022"``: every host has that profile;
- ``"server2022:3,win11-23h2-pro:1"``: counts, repeated in that order until ``count`` hosts exist
  (so the counts are proportions when ``count`` differs from their sum);
- ``"mixed"``: a seeded weighted draw over :data:`MIXED_WEIGHTS`, mostly Server 2022 with some of
  every awkward case.

Faults spec (``faults_spec``), a string or a mapping:

- ``"lab-0003=http_500_rate:0.3;lab-0005=unreachable;vm-no-nested=latency_ms:50,reset_rate:0.1"``:
  ``;``-separated entries ``target=fault[,fault...]``; a target is a host name, a profile name or
  a glob over host names (``lab-00*``, ``*``); a fault is ``name:value`` or a bare ``name`` for a
  flag (``unreachable``, ``bad_credentials``, ``reboot_never_returns``, ``download_failure``);
- ``{"lab-0003": {"http_500_rate": 0.3}, "win10-home": {"latency_ms": 20}}``: the same as data.

Every entry that matches a host applies to it, in the order given.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import random
from collections.abc import Mapping
from typing import Any

from provision_lab.api import Faults
from provision_lab.profiles import make_host, profile_names
from provision_lab.windows.host import WindowsHost

__all__ = ["MIXED_WEIGHTS", "address_for", "build_fleet", "host_name", "parse_faults", "parse_profiles"]

MIXED_WEIGHTS: Mapping[str, float] = {
    "server2022": 50,
    "server2025": 15,
    "server2019": 12,
    "server2016": 2,
    "win11-23h2-pro": 5,
    "win10-22h2-pro": 3,
    "vm-nested": 6,
    "vm-no-nested": 3,
    "bios-vt-off": 2,
    "low-memory": 2,
    "win10-home": 2,
    # Cloud and hypervisor guests recognised only by their SMBIOS strings (profiles.PLATFORMS).
    "azure-nested": 1,
    "vmware-nested": 1,
    "virtualbox-vm": 1,
    "kvm-nested": 1,
    "ec2-nitro": 1,
    "gce-nested": 1,
    "nutanix-vm": 1,
    "openstack-nested": 1,
    "parallels-vm": 1,
    "unlisted-hypervisor-nested": 1,
    "server2022-vbs": 1,
    "win11-23h2-pro-amd": 1,
}
"""The ``mixed`` fleet: relative weights of each profile."""

_FAULT_FIELDS = {f.name: f.type for f in dataclasses.fields(Faults)}


def host_name(index: int) -> str:
    """``lab-0001`` for index 1."""
    return f"lab-{index:04d}"


def address_for(index: int) -> str:
    """127.77.x.y for host ``index`` (1-based): y runs 1..254, so no address ends in .0 or .255,
    and the first host is 127.77.0.1, never 127.0.0.1."""
    if not 1 <= index <= 254 * 256:
        raise ValueError(f"a lab fleet holds 1 to {254 * 256} hosts, not {index}")
    return f"127.77.{(index - 1) // 254}.{(index - 1) % 254 + 1}"


def parse_profiles(spec: str, count: int, seed: int) -> list[str]:
    """The profile of each of ``count`` hosts (see the module docstring)."""
    spec = spec.strip()
    known = set(profile_names())
    if spec == "mixed":
        names, weights = list(MIXED_WEIGHTS), list(MIXED_WEIGHTS.values())
        return random.Random(seed).choices(names, weights=weights, k=count)
    cycle: list[str] = []
    for part in spec.split(","):
        name, _, number = part.strip().partition(":")
        if name not in known:
            raise ValueError(f"unknown lab profile {name!r}; known: mixed, {', '.join(sorted(known))}")
        try:
            times = int(number) if number else 1
        except ValueError:
            raise ValueError(f"{part.strip()!r}: the count after ':' must be a whole number") from None
        if times < 1:
            raise ValueError(f"{part.strip()!r}: the count must be at least 1")
        cycle += [name] * times
    return [cycle[i % len(cycle)] for i in range(count)]


def _fault_value(name: str, raw: Any) -> Any:
    kind = _FAULT_FIELDS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(_FAULT_FIELDS)}")
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"fault {name} is a flag: give true or false, not {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"fault {name} needs a number, not {raw!r}") from None
    if value < 0 or (name.endswith("_rate") and value > 1):
        raise ValueError(f"fault {name}={raw!r} is out of range")
    return value


def parse_faults(spec: str | Mapping[str, Mapping[str, Any]] | None) -> list[tuple[str, dict[str, Any]]]:
    """Fault entries as (target, {fault: value}), validated against :class:`Faults`' fields."""
    if spec is None:
        return []
    entries: list[tuple[str, dict[str, Any]]] = []
    if isinstance(spec, str):
        for entry in filter(None, (e.strip() for e in spec.split(";"))):
            target, equals, faults = entry.partition("=")
            if not equals or not target.strip():
                raise ValueError(f"fault entry {entry!r}: expected target=fault[:value][,fault...]")
            values: dict[str, Any] = {}
            for fault in filter(None, (f.strip() for f in faults.split(","))):
                name, colon, raw = fault.partition(":")
                values[name.strip()] = _fault_value(name.strip(), raw.strip() if colon else True)
            entries.append((target.strip(), values))
        return entries
    for target, given in spec.items():
        entries.append((target, {name: _fault_value(name, raw) for name, raw in given.items()}))
    return entries


def build_fleet(
    count: int,
    profiles_spec: str,
    seed: int,
    *,
    reboot_seconds: float,
    faults_spec: str | Mapping[str, Mapping[str, Any]] | None = None,
) -> list[WindowsHost]:
    """``count`` lab hosts named ``lab-0001``... on 127.77.x.y, profiles and faults from the specs.

    Deterministic for a given ``seed``. A fault target that matches no host is an error (a typo
    would otherwise silently leave the fleet without the fault).
    """
    if count < 1:
        raise ValueError("a lab fleet needs at least one host")
    profiles = parse_profiles(profiles_spec, count, seed)
    faults = parse_faults(faults_spec)
    hosts = []
    matched: set[str] = set()
    for index, profile in enumerate(profiles, start=1):
        name = host_name(index)
        host_faults = Faults()
        for target, values in faults:
            if target == profile or fnmatch.fnmatchcase(name, target):
                matched.add(target)
                for field_name, value in values.items():
                    setattr(host_faults, field_name, value)
        hosts.append(
            make_host(profile, name, address_for(index), index=index, reboot_seconds=reboot_seconds, faults=host_faults)
        )
    unmatched = [target for target, _ in faults if target not in matched]
    if unmatched:
        raise ValueError(f"fault targets match no host of this fleet: {', '.join(unmatched)}")
    return hosts
