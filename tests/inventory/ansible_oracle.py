"""The oracle: ansible-core's own code resolving inventories, patterns and connection options.

Run as a script with the test venv's Python (ansible-core is a test-only dependency): it reads a
JSON list of cases on stdin and prints, per case, what Ansible resolves: each host's connection
settings (from the winrm and ssh connection plugins' option resolution, without connecting) and
the hosts of each pattern (InventoryManager.list_hosts, what ``ansible PATTERN --list-hosts`` prints).
"""

from __future__ import annotations

import json
import sys


def _transport(conn: object) -> str:
    from ansible.plugins.connection import winrm

    names: list[str] = conn._winrm_transport  # type: ignore[attr-defined]
    for name in names:
        if name == "kerberos" and not winrm.HAVE_KERBEROS:
            continue  # Ansible moves on to the next transport of the list
        return {"ssl": "basic", "plaintext": "basic"}.get(name, name)
    return "none"


def resolve(case: dict[str, object]) -> dict[str, object]:
    from ansible import constants as C
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    if case.get("playbook_dir"):
        loader.set_basedir(str(case["playbook_dir"]))
    inventory = InventoryManager(loader=loader, sources=[str(case["inventory"])])
    manager = VariableManager(loader=loader, inventory=inventory)
    hosts: dict[str, object] = {}
    for host in inventory.get_hosts():
        variables = manager.get_vars(host=host, include_hostvars=True)
        variables.update(case.get("play_vars") or {})
        templar = Templar(loader=loader, variables=variables)
        name = templar.template(variables.get("ansible_connection", "ssh"))
        name = {"smart": "ssh"}.get(name, name)
        entry: dict[str, object] = {"connection": name.rsplit(".", 1)[-1]}
        if entry["connection"] in ("winrm", "ssh"):
            conn = connection_loader.get(name, PlayContext())
            if conn is None:
                raise SystemExit(f"{case['name']}: {host.name}: no connection plugin {name!r}")
            options = {}
            for key in C.config.get_plugin_vars("connection", conn._load_name):
                if key in variables:
                    options[key] = templar.template(variables[key])
            options["inventory_hostname"] = host.name
            if getattr(conn, "allow_extras", False):  # as TaskExecutor._set_connection_options does
                prefix = f"ansible_{conn.extras_prefix}_"
                extras = {
                    k: templar.template(v) for k, v in variables.items() if k.startswith(prefix) and k not in options
                }
                options["_extras"] = extras
            conn.set_options(var_options=options)
            if entry["connection"] == "winrm":
                conn._build_winrm_kwargs()
                kwargs = conn._winrm_kwargs
                entry |= {
                    "address": conn._winrm_host,
                    "port": int(conn._winrm_port),
                    "user": conn._winrm_user,
                    "scheme": conn._winrm_scheme,
                    "transport": _transport(conn),
                    "cert_validation": "ignore" if kwargs.get("server_cert_validation") == "ignore" else "validate",
                    "ca_bundle": kwargs.get("ca_trust_path"),
                    "password_set": conn._winrm_pass is not None,
                }
            else:
                entry |= {
                    "address": conn.get_option("host"),
                    "port": int(conn.get_option("port") or 22),
                    "user": conn.get_option("remote_user"),
                    "key_file": conn.get_option("private_key_file"),
                    "password_set": conn.get_option("password") is not None,
                }
        hosts[host.name] = entry
    patterns = {}
    for pattern in case.get("patterns", []):  # type: ignore[attr-defined]
        inventory.clear_pattern_cache()
        patterns[pattern] = [str(h) for h in inventory.list_hosts(pattern)]
    return {"hosts": hosts, "patterns": patterns}


def main() -> None:
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()  # as the ansible CLIs do: FQCNs such as ansible.builtin.winrm resolve
    cases = json.load(sys.stdin)
    print(json.dumps({case["name"]: resolve(case) for case in cases}))


if __name__ == "__main__":
    main()
