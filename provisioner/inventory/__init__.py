"""Inventories: Ansible's YAML and INI formats, group_vars/host_vars, vault, patterns and connection variables.

``load_inventory`` reads a file or directory as ansible-core 2.19 reads it (load.py, ini.py,
hostnames.py, vault.py); ``Inventory.connection`` turns a host's merged variables into
ConnectionSettings under provision's names or Ansible's (ansible.py); ``select_hosts`` evaluates
Ansible host patterns (patterns.py). ``provision inventory --list`` prints what they resolve.
"""

from provisioner.inventory.ansible import ANSIBLE_ALIASES, Resolved, describe_connection, normal_connection
from provisioner.inventory.load import SECRET_KEYS, load_inventory
from provisioner.inventory.model import Group, Host, Inventory, Origin
from provisioner.inventory.patterns import select_hosts, split_pattern
from provisioner.inventory.vault import Vault, VaultError

__all__ = [
    "ANSIBLE_ALIASES",
    "SECRET_KEYS",
    "Group",
    "Host",
    "Inventory",
    "Origin",
    "Resolved",
    "Vault",
    "VaultError",
    "describe_connection",
    "load_inventory",
    "normal_connection",
    "select_hosts",
    "split_pattern",
]
