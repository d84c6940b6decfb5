"""Running a lab: its directory, its password, in-process for one run or as a background daemon.

A lab inventory is an inventory whose ``all`` vars carry ``provision_lab`` (inventories/lab.yml).
Its hosts carry ``address`` and ``lab_profile``, so the inventory alone says which simulated hosts
to serve. Host state is saved in the lab directory when a lab stops and restored when one starts,
so a second ``provision apply`` sees the hosts the first one converged, whether the lab ran in
the background (``provision lab up``) or only for one run.

The lab password never appears in an inventory, a log or a process argument: it lives in
``<lab dir>/password`` (mode 0600) and reaches the tool through the environment variable the
inventory names (``PROVISION_LAB_PASSWORD``), which this module sets in-process when it is unset.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provision_lab.api import Faults
from provisioner.inventory import Inventory

if TYPE_CHECKING:
    from provision_lab.model import LabHostModel

__all__ = [
    "LAB_USER",
    "PASSWORD_ENV",
    "Lab",
    "LabSettings",
    "default_lab_dir",
    "lab_for_inventory",
    "lab_for_playbook",
    "lab_password",
    "running_daemon",
]

LAB_USER = "provision"
PASSWORD_ENV = "PROVISION_LAB_PASSWORD"
_STATE_FILE = "hosts.json"
_DAEMON_FILE = "daemon.json"


def default_lab_dir() -> Path:
    """``$PROVISION_LAB_DIR``, else ``~/.cache/provision/lab``."""
    return Path(os.environ.get("PROVISION_LAB_DIR", "~/.cache/provision/lab")).expanduser()


def lab_password(lab_dir: Path) -> str:
    """The lab's password: the environment's if set, else the one kept in the lab dir (made once)."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    path = lab_dir / "password"
    lab_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


@dataclass(frozen=True)
class LabHostSpec:
    """One host of a lab: what the inventory (or ``lab up``) says it is."""

    name: str
    address: str
    profile: str
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class LabSettings:
    """Lab-wide settings, from the inventory's ``provision_lab`` mapping."""

    reboot_seconds: float = 3.0
    seed: int | None = None
    http_port: int = 5985
    https_port: int = 5986
    ssh_port: int = 2222
    allow_unencrypted: bool = False
    """WinRM's AllowUnencrypted: Basic over plain HTTP (benchmarks compare it with NTLM)."""

    @classmethod
    def from_vars(cls, values: Any) -> LabSettings:
        values = values if isinstance(values, dict) else {}
        names = ("reboot_seconds", "seed", "http_port", "https_port", "ssh_port", "allow_unencrypted")
        return cls(**{k: values[k] for k in names if k in values})


def hosts_of(inventory: Inventory) -> list[LabHostSpec]:
    """The lab hosts an inventory describes (each needs ``address`` and ``lab_profile``)."""
    hosts = []
    for host in inventory.hosts.values():
        faults = host.vars.get("lab_faults") or {}
        hosts.append(
            LabHostSpec(
                host.name,
                str(host.vars.get("address", host.vars.get("ansible_host", ""))),
                str(host.vars.get("lab_profile", "server2022")),
                Faults(**faults),
            )
        )
    return hosts


def is_lab_inventory(inventory: Inventory) -> bool:
    return "provision_lab" in inventory.groups["all"].vars


class Lab:
    """Lab hosts served by a LabServer, with their state saved to and restored from the lab dir."""

    def __init__(self, hosts: list[LabHostSpec], settings: LabSettings, lab_dir: Path) -> None:
        # Imported here: the protocol stack (paramiko, pyspnego, cryptography, tree-sitter) costs a
        # third of a second of start-up that runs against real hosts never need.
        from provision_lab.profiles import make_host
        from provision_lab.server import LabServer

        self.lab_dir = lab_dir
        self.settings = settings
        saved = self._load_states()
        self.models: dict[str, LabHostModel] = {}
        for index, spec in enumerate(hosts):
            model = make_host(
                spec.profile,
                spec.name,
                spec.address,
                index=index,
                reboot_seconds=settings.reboot_seconds,
                faults=spec.faults,
            )
            state = saved.get(spec.name)
            if state is not None and state.get("profile") == spec.profile and state.get("address") == spec.address:
                model.restore_state(state["state"])
            self.models[spec.name] = model
        self.profiles = {spec.name: spec.profile for spec in hosts}
        self.server = LabServer(
            list(self.models.values()),
            user=LAB_USER,
            password=lab_password(lab_dir),
            lab_dir=lab_dir,
            http_port=settings.http_port,
            https_port=settings.https_port,
            ssh_port=settings.ssh_port,
            seed=settings.seed,
            allow_unencrypted=settings.allow_unencrypted,
        )

    @classmethod
    def of_inventory(cls, inventory: Inventory, lab_dir: Path, only: Collection[str] | None = None) -> Lab:
        """The lab a lab inventory describes (its hosts, or ``only`` those, and ``provision_lab``)."""
        hosts = [h for h in hosts_of(inventory) if only is None or h.name in only]
        return cls(hosts, LabSettings.from_vars(inventory.groups["all"].vars.get("provision_lab")), lab_dir)

    def _load_states(self) -> dict[str, Any]:
        path = self.lab_dir / _STATE_FILE
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}  # a damaged state file only costs the hosts their history
        return data if isinstance(data, dict) else {}

    def save(self) -> None:
        # Hosts this lab did not serve keep their saved state: a playbook starts only the hosts it targets
        # (lab_for_playbook), so site.yml's hosts and a workstation playbook's share one lab directory.
        states = {
            **self._load_states(),
            **{
                name: {"profile": self.profiles[name], "address": model.address, "state": model.export_state()}
                for name, model in self.models.items()
            },
        }
        staging = self.lab_dir / (_STATE_FILE + ".tmp")
        staging.write_text(json.dumps(states))
        os.replace(staging, self.lab_dir / _STATE_FILE)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.save()


def running_daemon(lab_dir: Path) -> dict[str, Any] | None:
    """The background lab's record (pid, socket, inventory) when its process is alive."""
    path = lab_dir / _DAEMON_FILE
    try:
        record = json.loads(path.read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


@contextlib.contextmanager
def lab_for_inventory(
    inventory: Inventory,
    announce: Callable[[str], None],
    lab_dir: Path | None = None,
    only: Collection[str] | None = None,
) -> Iterator[Lab | None]:
    """Make sure a lab inventory's hosts answer for the duration of the block.

    Nothing happens for other inventories. If a background lab runs, it is used; otherwise a lab
    is started in this process for the run, and says so. ``only`` limits it to those hosts.
    """
    if not is_lab_inventory(inventory):
        yield None
        return
    lab_dir = lab_dir or default_lab_dir()
    os.environ.setdefault(PASSWORD_ENV, lab_password(lab_dir))
    if running_daemon(lab_dir):
        yield None
        return
    lab = Lab.of_inventory(inventory, lab_dir, only)
    lab.start()
    announce(
        f"lab: no lab was running; started {len(lab.models)} simulated hosts in this process for the run "
        f"(state kept in {lab_dir}; `provision lab up` keeps one running)"
    )
    try:
        yield lab
    finally:
        lab.stop()


@contextlib.contextmanager
def lab_for_playbook(book: Any, announce: Callable[[str], None], lab_dir: Path | None = None) -> Iterator[None]:
    """:func:`lab_for_inventory` for every lab inventory a playbook's plays use, with the hosts they target."""
    with contextlib.ExitStack() as stack:
        seen: set[Path] = set()
        for play in book.plays:
            if play.inventory.file not in seen:
                seen.add(play.inventory.file)
                targeted = {t.name for t in book.targets if t.play.inventory.file == play.inventory.file}
                stack.enter_context(lab_for_inventory(play.inventory, announce, lab_dir, only=targeted))
        yield
