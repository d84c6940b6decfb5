"""provision-lab: a simulated Windows fleet, for a first run, for the tests, and for rehearsing rollouts.

Each host listens on its own loopback address (127.77.x.y) and speaks WS-Management over HTTP and
HTTPS (Basic and NTLM with message encryption, through pyspnego as the acceptor, with a lab CA)
and SSH (paramiko's server mode). Unmodified pywinrm and paramiko clients talk to it as they would
to Windows; faults, quotas and timeouts are the real WS-Man faults (research/winrm-protocol.md).
What runs a script is the host model (DESIGN 6); the lab imports nothing of the provision tool.

The public API, importable from this package (loaded on first use, so ``provision-lab status``
does not pay for the protocol stack):

- :class:`LabServer` serves hosts; :func:`make_host` and :func:`build_fleet` make them from
  profiles; :class:`Faults` are injected per host; :class:`ExecResult` is one script's outcome.
- :class:`Lab` is a lab inventory's hosts with their state kept in a lab directory
  (:func:`default_lab_dir`, :func:`lab_password`, :func:`read_lab_inventory`).
- :func:`engine_sha256`, :func:`containerd_sha256`, :func:`crictl_sha256`, :func:`nerdctl_sha256`, :func:`desktop_sha256`, :func:`wsl_url` and :func:`wsl_sha256` name the
  lab's own download stand-ins, which an inventory pins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provision_lab.api import ExecResult, Faults
    from provision_lab.fleet import build_fleet, parse_profiles
    from provision_lab.profiles import make_host
    from provision_lab.runtime import Lab, LabSettings, default_lab_dir, lab_password, read_lab_inventory
    from provision_lab.server import LabServer
    from provision_lab.windows.natives import (
        containerd_sha256,
        crictl_sha256,
        desktop_sha256,
        engine_sha256,
        nerdctl_sha256,
        wsl_sha256,
        wsl_url,
    )

__all__ = [
    "ExecResult",
    "Faults",
    "Lab",
    "LabServer",
    "LabSettings",
    "build_fleet",
    "default_lab_dir",
    "desktop_sha256",
    "engine_sha256",
    "containerd_sha256",
    "crictl_sha256",
    "nerdctl_sha256",
    "lab_password",
    "make_host",
    "parse_profiles",
    "read_lab_inventory",
    "wsl_sha256",
    "wsl_url",
]

_HOME = {
    "ExecResult": "api",
    "Faults": "api",
    "Lab": "runtime",
    "LabServer": "server",
    "LabSettings": "runtime",
    "build_fleet": "fleet",
    "default_lab_dir": "runtime",
    "desktop_sha256": "windows.natives",
    "engine_sha256": "windows.natives",
    "containerd_sha256": "windows.natives",
    "crictl_sha256": "windows.natives",
    "nerdctl_sha256": "windows.natives",
    "lab_password": "runtime",
    "make_host": "profiles",
    "parse_profiles": "fleet",
    "read_lab_inventory": "runtime",
    "wsl_sha256": "windows.natives",
    "wsl_url": "windows.natives",
}
"""The module each public name lives in (the host model's names move as it is rebuilt; this keeps them here)."""


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'provision_lab' has no attribute {name!r}")
    return getattr(importlib.import_module(f"provision_lab.{_HOME[name]}"), name)
