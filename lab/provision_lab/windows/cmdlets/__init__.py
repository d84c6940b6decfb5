"""The machine's cmdlets, as the modules of its SKU provide them (auto-loaded, as on Windows)."""

from __future__ import annotations

from provision_lab.powershell.api import CommandSpec
from provision_lab.windows.cmdlets import features, items, services, system
from provision_lab.windows.machine import Machine

__all__ = ["commands_for"]

_CLIENT = (*items.COMMANDS, *services.COMMANDS, *features.CLIENT_COMMANDS, *system.COMMANDS)
_SERVER = (*_CLIENT, *features.SERVER_COMMANDS)


def commands_for(machine: Machine) -> tuple[CommandSpec, ...]:
    """Every SKU's cmdlets; Server adds the ServerManager module (product type 2 and 3)."""
    return _CLIENT if machine.os.product_type == 1 else _SERVER
