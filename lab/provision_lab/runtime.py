"""Running a lab: its directory, its password, its inventory, and the hosts it serves.

A lab inventory is the inventory ``provision-lab up`` writes (inventories/lab.yml): its ``all``
vars carry ``provision_lab`` (the lab's settings) and its hosts ``address``, ``lab_profile`` and
optionally ``lab_faults``, so the file alone says which simulated hosts to serve. The lab reads it
with its own small reader (it imports nothing of the provision tool). Host state is saved in the
lab directory when a lab stops and restored when one starts, so a second ``provision apply`` sees
the hosts the first one converged.

The lab password never appears in an inventory, a log or a process argument: it lives in
``<lab dir>/password`` (mode 0600), or comes from ``PROVISION_LAB_PASSWORD`` when that is set,
and reaches a client through the environment variable the inventory names
(``export PROVISION_LAB_PASSWORD="$(provision-lab password)"``).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from provision_lab.api import Faults

if TYPE_CHECKING:
    from provision_lab.windows.host import WindowsHost

__all__ = [
    "LAB_USER",
    "PASSWORD_ENV",
    "Lab",
    "LabHostSpec",
    "LabInventoryError",
    "LabSettings",
    "default_lab_dir",
    "lab_password",
    "read_lab_inventory",
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
    """The lab's password: the environment's if set, else the one kept in the lab dir (made once).

    An empty ``PROVISION_LAB_PASSWORD`` is refused rather than replaced by the file's password: a
    client would send the empty value and meet 401 everywhere (security-review.md F16).
    """
    if PASSWORD_ENV in os.environ:
        if not os.environ[PASSWORD_ENV]:
            raise LabInventoryError(f"{PASSWORD_ENV} is set but empty; unset it or give the lab a password")
        return os.environ[PASSWORD_ENV]
    path = lab_dir / "password"
    lab_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


class LabInventoryError(Exception):
    """A lab inventory (or lab setting) that cannot be served, with the file and key in words."""


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
    save_seconds: float = 30.0
    """How often a background lab saves host state, so a killed lab loses at most that much (F16)."""

    @classmethod
    def from_vars(cls, values: Any) -> LabSettings:
        values = values if isinstance(values, dict) else {}
        names = ("reboot_seconds", "seed", "http_port", "https_port", "ssh_port", "allow_unencrypted", "save_seconds")
        return cls(**{k: values[k] for k in names if k in values})


@dataclass(frozen=True)
class LabInventory:
    """What a lab inventory says: the lab's settings and its hosts, in file order."""

    settings: LabSettings
    hosts: list[LabHostSpec]


def read_lab_inventory(path: Path) -> LabInventory:
    """Read a lab inventory (YAML, Ansible's layout: ``all``, ``vars``, ``children``, ``hosts``).

    Host variables are inherited from the groups above a host, as Ansible does, so ``lab_profile``
    may be set for a whole group. Raises :class:`LabInventoryError` naming the file and key.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabInventoryError(f"{path}: cannot read the lab inventory: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise LabInventoryError(f"{path}{where}: not YAML: {getattr(exc, 'problem', exc)}") from None
    root = document.get("all") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise LabInventoryError(f"{path}: all: a lab inventory is a mapping with an 'all' group")
    top_vars = root.get("vars") or {}
    settings = top_vars.get("provision_lab") if isinstance(top_vars, dict) else None
    if not isinstance(settings, dict):
        raise LabInventoryError(f"{path}: all.vars.provision_lab: missing; this is not a lab inventory")
    hosts: dict[str, LabHostSpec] = {}
    for name, values, where in _walk_hosts(root, {}, "all"):
        if name in hosts:
            continue  # a host listed in two groups is one host
        faults = values.get("lab_faults") or {}
        if not isinstance(faults, dict):
            raise LabInventoryError(f"{path}: {where}.lab_faults: a mapping of fault names to values")
        try:
            host_faults = Faults(**faults)
        except TypeError as exc:
            raise LabInventoryError(f"{path}: {where}.lab_faults: {exc}") from None
        address = values.get("address", values.get("ansible_host"))
        if not address:
            raise LabInventoryError(f"{path}: {where}.address: a lab host needs an address (127.77.x.y)")
        hosts[name] = LabHostSpec(name, str(address), str(values.get("lab_profile", "server2022")), host_faults)
    return LabInventory(LabSettings.from_vars(settings), list(hosts.values()))


def _walk_hosts(
    group: Mapping[str, Any], inherited: Mapping[str, Any], where: str
) -> Iterator[tuple[str, dict[str, Any], str]]:
    group_vars = group.get("vars") or {}
    merged = {**inherited, **(group_vars if isinstance(group_vars, dict) else {})}
    hosts = group.get("hosts") or {}
    for name, host_vars in hosts.items() if isinstance(hosts, dict) else ():
        yield str(name), {**merged, **(host_vars if isinstance(host_vars, dict) else {})}, f"{where}.hosts.{name}"
    children = group.get("children") or {}
    for child, body in children.items() if isinstance(children, dict) else ():
        yield from _walk_hosts(body if isinstance(body, dict) else {}, merged, f"{where}.children.{child}")


class Lab:
    """Lab hosts served by a LabServer, with their state saved to and restored from the lab dir."""

    def __init__(self, hosts: list[LabHostSpec], settings: LabSettings, lab_dir: Path) -> None:
        # Imported here: the protocol stack (paramiko, pyspnego, cryptography, tree-sitter) costs a
        # third of a second that `provision-lab status` and `drift` do not need.
        from provision_lab.profiles import make_host
        from provision_lab.server import LabServer

        self.lab_dir = lab_dir
        self.settings = settings
        self._save_lock = threading.Lock()
        saved = self._load_states()
        self.models: dict[str, WindowsHost] = {}
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
    def of_inventory(cls, inventory_file: Path, lab_dir: Path, only: Collection[str] | None = None) -> Lab:
        """The lab a lab inventory file describes (its hosts, or ``only`` those, and ``provision_lab``)."""
        inventory = read_lab_inventory(inventory_file)
        hosts = [h for h in inventory.hosts if only is None or h.name in only]
        return cls(hosts, inventory.settings, lab_dir)

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
        """Write every host's state to the lab directory (atomically; callable from any thread)."""
        with self._save_lock:
            self._save()

    def _save(self) -> None:
        # Hosts this lab did not serve keep their saved state: a lab may serve only some hosts of an
        # inventory (Lab.of_inventory's ``only``), so two labs on one directory keep each other's hosts.
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
