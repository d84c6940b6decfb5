"""Inventory loading is linear (review F15): load and validate 5k, 20k and 50k hosts.

Each inventory nests groups three deep (all > region > site > rack) with vars at every level, the
shape of a real fleet; ``validate`` is what ``provision validate`` does (load, merge, connection
settings and spec for every host, without connecting).

    python bench/inventory_scale.py [HOSTS ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from provisioner.inventory import load_inventory
from provisioner.playbook import load_playbook

SHA = "ab" * 32


def inventory_text(hosts: int) -> str:
    lines = [
        "all:",
        "  vars: {connection: winrm, transport: ntlm, user: svc, password_env: PROVISION_PASSWORD,",
        f"         docker_version: '27.3.1', docker_sha256: '{SHA}'}}",
        "  children:",
        "    windows:",
        "      children:",
    ]
    per_rack = 50
    racks = max(1, hosts // per_rack)
    for rack in range(racks):
        lines.append(f"        rack{rack:05d}:")
        lines.append(f"          vars: {{site: site{rack % 40}}}")
        lines.append("          hosts:")
        for index in range(per_rack):
            number = rack * per_rack + index
            lines.append(
                f"            w{number:06d}: {{address: 10.{number // 65536}.{number // 256 % 256}.{number % 256}}}"
            )
    return "\n".join(lines) + "\n"


def measure(hosts: int, folder: Path) -> tuple[float, float, float]:
    inventory = folder / f"inv-{hosts}.yml"
    inventory.write_text(inventory_text(hosts))
    book = folder / f"site-{hosts}.yml"
    book.write_text(
        f"- name: fleet\n  hosts: windows\n  inventory: {inventory.name}\n"
        "  spec: {engine: {version: '{{ docker_version }}', sha256: '{{ docker_sha256 }}'}, "
        "daemon: {labels: ['site={{ site }}']}}\n"
    )
    started = time.perf_counter()
    loaded = load_inventory(inventory)
    loading = time.perf_counter() - started
    assert len(loaded.hosts) == hosts
    started, cpu = time.perf_counter(), time.process_time()
    validated = load_playbook(book)
    validation, validation_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(validated.targets) == hosts
    return loading, validation, validation_cpu


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [5_000, 20_000, 50_000]
    with tempfile.TemporaryDirectory() as scratch:
        # CPU seconds as well as wall: on a shared machine the wall time also measures the neighbours.
        print(f"{'hosts':>7}  {'load s':>7}  {'validate s':>10}  {'validate CPU s':>14}  {'CPU us/host':>11}")
        for hosts in sizes:
            loading, validation, cpu = measure(hosts, Path(scratch))
            print(f"{hosts:>7}  {loading:>7.2f}  {validation:>10.2f}  {cpu:>14.2f}  {cpu / hosts * 1e6:>11.0f}")


if __name__ == "__main__":
    main()
