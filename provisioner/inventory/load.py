"""Inventory sources -> hosts with merged vars, exactly as ansible-core 2.19 merges them.

Sources: a YAML or INI file (told apart by content, as Ansible's plugins do: ``.yml``, ``.yaml``,
``.json`` or no extension is tried as YAML first, anything else and non-mapping YAML as INI), or a
directory of them (sorted, recursively; hidden files, ``group_vars``, ``host_vars`` and Ansible's
ignored extensions skipped). ``group_vars/`` and ``host_vars/`` beside the inventory source and
beside the playbook are read as Ansible's ``host_group_vars`` plugin reads them: ``NAME``,
``NAME.yml``, ``NAME.yaml`` or ``NAME.json`` (the first that exists), or a directory ``NAME/`` of
such files (sorted, recursively).

Precedence (ansible-core's VariableManager, lowest first): the inventory files' group vars of
every group of the host, ordered by depth (the longest path from ``all``, recomputed over the
whole graph), then ``ansible_group_priority``, then name; then ``group_vars/all`` (inventory,
then playbook), ``group_vars/GROUP`` in the same group order (inventory, then playbook); then the
inventory files' host vars, ``host_vars/HOST`` (inventory, then playbook); play vars win over all
of them (playbook.py). Loading is linear in the number of hosts: group membership is computed
once per group, and hosts with the same groups share one merge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.errors import InputError, KeyPath, LoadError, closest
from provisioner.inventory.ansible import IGNORED_ANSIBLE, KNOWN_ANSIBLE
from provisioner.inventory.hostnames import HostKeyError, expand_host_key
from provisioner.inventory.ini import parse_ini
from provisioner.inventory.model import Group, Host, Inventory, Origin
from provisioner.inventory.vault import Vault, VaultError, is_vault
from provisioner.loadutil import paused_gc
from provisioner.yamlsrc import Located, decode, load_yaml_text

__all__ = ["SECRET_KEYS", "load_inventory"]

_GROUP_KEYS = ("hosts", "vars", "children")
_VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")
_YAML_EXTENSIONS = ("", ".yml", ".yaml", ".json")
# ansible-core's INVENTORY_IGNORE_EXTS default (REJECT_EXTS + .orig, .cfg, .retry) and its
# always-ignored names, for inventory directories (lib/ansible/inventory/manager.py).
_IGNORED_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
_IGNORED_NAMES = ("host_vars", "group_vars", "vars_plugins")
SECRET_KEYS = frozenset(
    {
        "password",
        "ansible_password",
        "ansible_winrm_pass",
        "ansible_winrm_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_become_pass",
        "ansible_become_password",
        "ansible_private_key_passphrase",
        "ansible_ssh_private_key_passphrase",
    }
)
"""Variables that hold a password: masked in every output and never template variables."""


@dataclass
class _Definition:
    """One host definition in one source: its vars (ansible_port from ``host:port`` first)."""

    values: dict[str, Any]
    origins: dict[str, Origin]


@dataclass
class _Builder:
    """Ansible's InventoryData, reduced to what the merge needs; fed by the YAML and INI readers."""

    vault: Vault
    groups: dict[str, Group] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    definitions: dict[str, list[_Definition]] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    docs: list[Located] = field(default_factory=list)
    """The inventory source documents read, in order."""

    def group(self, name: str, origin: Origin) -> Group:
        found = self.groups.get(name)
        if found is None:
            found = self.groups[name] = Group(name, path=origin.path)
        return found

    def child(self, parent: str, child: str, origin: Origin) -> None:
        group = self.group(parent, origin)
        kid = self.group(child, origin)
        if parent == child:
            self.errors.append(origin.error(f"group {child!r} cannot be its own child"))
        elif child not in group.children:
            group.children.append(child)
            kid.parents.append(parent)

    def host(self, group: str, key: str, values: Any, origin: Origin) -> None:
        try:
            names, port = expand_host_key(key)
        except HostKeyError as exc:
            self.errors.append(origin.error(str(exc)))
            return
        if not isinstance(values, dict):
            self.errors.append(origin.error(f"expected a mapping of host variables, got {type(values).__name__}"))
            return
        container = self.group(group, origin)
        for name in names:
            if name not in self.hosts:
                self.hosts[name] = Host(name, path=origin.path, origin=origin)
                self.definitions[name] = []
                if port is not None:  # Ansible sets ansible_port when it first meets the host
                    self.definitions[name].append(_Definition({"ansible_port": port}, {"ansible_port": origin}))
            if name not in container.hosts:
                container.hosts.append(name)
            self.definitions[name].append(
                _Definition(values, {k: Origin(origin.doc, origin.path + (k,)) for k in values})
            )

    def var(self, group: str, key: str, value: Any, origin: Origin) -> None:
        target = self.group(group, origin)
        if key == "ansible_group_priority":
            try:
                target.priority = int(value)
            except (TypeError, ValueError):
                self.errors.append(origin.error(f"expected a whole number, got {_cut(value)!r}"))
            return
        target.vars[key] = value
        target.origins[key] = origin

    # --- readers -------------------------------------------------------------------------------

    def read_source(self, file: Path) -> None:
        """One inventory file: YAML when it reads as a YAML mapping, else INI (Ansible's plugin order)."""
        text = _read(file)
        if file.suffix == ".toml":
            self.errors.append(LoadError(file, None, None, (), "TOML inventories are not supported; use YAML or INI"))
            return
        yaml_error: InputError | None = None
        if file.suffix in _YAML_EXTENSIONS:
            try:
                doc = load_yaml_text(file, text)
            except InputError as exc:
                yaml_error, doc = exc, None
            if doc is not None and isinstance(doc.data, dict):
                self.docs.append(doc)
                self.read_yaml(doc)
                return
            if doc is not None and doc.data is None:
                return  # an empty file: no hosts (Ansible's ini plugin accepts it too)
            if doc is not None and file.suffix:
                # Valid YAML that is no mapping, in a .yml/.yaml/.json file: a YAML mistake, not INI.
                self.errors.append(doc.error((), f"expected a mapping of groups, got {_kind(doc.data)}"))
                return
        if yaml_error is not None and not _looks_like_ini(text):
            self.errors.extend(yaml_error.errors)
            return
        try:
            source = parse_ini(file, text)
        except InputError as exc:
            self.errors.extend(exc.errors)
            return
        self.docs.append(source.doc)
        for kind, args, path in source.statements:
            origin = Origin(source.doc, path)
            if kind == "group":
                self.group(args[0], origin)
            elif kind == "child":
                self.child(args[0], args[1], origin)
            elif kind == "host":
                self.host(args[0], args[1], args[2], origin)
            else:
                self.var(args[0], args[1], args[2], origin)

    def read_yaml(self, doc: Located) -> None:
        if "plugin" in doc.data and not isinstance(doc.data.get("plugin"), dict):
            self.errors.append(
                doc.error(
                    ("plugin",),
                    "an inventory plugin configuration; provision reads YAML and INI inventories only",
                    "run `ansible-inventory -i FILE --list -y > inventory.yml` and use its output",
                )
            )
            return
        for name, body in doc.data.items():
            self.read_group(doc, name, body, (name,))

    def read_group(self, doc: Located, name: str, body: Any, path: KeyPath) -> None:
        origin = Origin(doc, path)
        self.group(name, origin)
        if body is None:
            return
        if not isinstance(body, dict):
            self.errors.append(doc.error(path, f"expected a mapping of hosts, vars and children, got {_kind(body)}"))
            return
        for key in body:
            if key not in _GROUP_KEYS:
                guess = closest(key, _GROUP_KEYS)
                self.errors.append(
                    doc.error(
                        path + (key,),
                        f"unknown key in group {name}; expected hosts, vars or children",
                        f"did you mean '{guess}'?" if guess else None,
                    )
                )
        for key, what in (("vars", "variables"), ("hosts", "hosts"), ("children", "groups")):
            section = body.get(key)
            if isinstance(section, str) and key != "vars":
                section = {section: None}  # Ansible's yaml plugin takes `hosts: web1` as one host
            if section is None:
                continue
            if not isinstance(section, dict):
                self.errors.append(doc.error(path + (key,), f"expected a mapping of {what}, got {_kind(section)}"))
                continue
            for item, value in section.items():
                where = path + (key, item)
                if key == "vars":
                    self.var(name, item, value, Origin(doc, where))
                elif key == "hosts":
                    if where in doc.typed_keys:
                        self.errors.append(
                            doc.error(
                                where, f"host name {item} is written as a number; quote it (Ansible refuses it too)"
                            )
                        )
                        continue
                    self.host(name, item, {} if value is None else value, Origin(doc, where))
                else:
                    self.read_group(doc, item, value, where)
                    self.child(name, item, Origin(doc, where))

    def read_vars_file(self, file: Path) -> tuple[dict[str, Any], dict[str, Origin], bool]:
        """A group_vars/host_vars file: its mapping, the origin of each key, and whether it was vault-encrypted."""
        text = _read(file)
        encrypted = is_vault(text)
        if encrypted:
            try:
                text = self.vault.decrypt(text)
            except VaultError as exc:
                raise InputError([LoadError(file, None, None, (), f"vault-encrypted file: {exc}")]) from None
        doc = load_yaml_text(file, text)
        if doc.data is None:
            return {}, {}, encrypted
        if not isinstance(doc.data, dict):
            raise InputError([doc.error((), f"expected a mapping of variables, got {_kind(doc.data)}")])
        return doc.data, {k: Origin(doc, (k,)) for k in doc.data}, encrypted


def _kind(value: Any) -> str:
    return {str: "text", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _cut(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _read(file: Path) -> str:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError([LoadError(file, None, None, (), "file not found")]) from None
    except OSError as exc:
        raise InputError([LoadError(file, None, None, (), f"cannot read: {exc.strerror}")]) from None
    return decode(file, raw)


def _looks_like_ini(text: str) -> bool:
    """Whether text that failed as YAML reads better as INI: a ``[section]`` or ``key=value`` line."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        return line.startswith("[") or "=" in line or ":" not in line
    return False


def _source_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    files: list[Path] = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name in _IGNORED_NAMES or entry.name.endswith(_IGNORED_EXTS):
            continue
        files += _source_files(entry)
    return files


def _vars_files(base: Path, subdir: str, name: str) -> list[Path]:
    """ansible-core's DataLoader.find_vars_files: the first of NAME, NAME.yml, ... that exists."""
    if name.startswith(os.sep):
        return []
    folder = base / subdir
    if not folder.is_dir():
        return []
    for extension in _VARS_EXTENSIONS:
        candidate = folder / f"{name}{extension}"
        if candidate.is_dir():
            return _dir_vars_files(candidate)
        if candidate.is_file():
            return [candidate]
    return []


def _dir_vars_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found += _dir_vars_files(entry)
        elif entry.is_file() and entry.suffix in _VARS_EXTENSIONS:
            found.append(entry)
    return found


def _depths(groups: dict[str, Group], errors: list[LoadError]) -> None:
    """Depth = the longest path from ``all`` (ansible-core keeps it so as groups are nested); cycles are errors."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    order: list[str] = []
    for start in groups:
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, index = stack.pop()
            if index == 0:
                if state.get(name) == 2:
                    continue
                state[name] = 1
            kids = groups[name].children
            if index < len(kids):
                stack.append((name, index + 1))
                kid = kids[index]
                if state.get(kid) == 1:
                    group = groups[kid]
                    errors.append(
                        LoadError(
                            None, None, None, group.path, f"groups {name!r} and {kid!r} contain each other (a loop)"
                        )
                    )
                elif state.get(kid) != 2:
                    stack.append((kid, 0))
            else:
                state[name] = 2
                order.append(name)
    for name in reversed(order):  # parents before children
        group = groups[name]
        for kid in group.children:
            groups[kid].depth = max(groups[kid].depth, group.depth + 1)


def _members(groups: dict[str, Group]) -> dict[str, list[str]]:
    """Per group, its hosts and those of the groups below it: level by level, in the order written.

    ansible-core walks the levels of a set of groups, so below the first level its order depends on
    Python's set iteration; provision keeps the written order there (a documented difference)."""
    result: dict[str, list[str]] = {}
    for name in groups:
        ordered: list[str] = [name, *groups[name].children]
        seen = set(ordered)
        level = list(groups[name].children)
        while level:
            following: list[str] = []
            for group in level:
                for kid in groups[group].children:
                    if kid not in seen:
                        seen.add(kid)
                        ordered.append(kid)
                        following.append(kid)
            level = following
        hosts: list[str] = []
        taken: set[str] = set()
        for group in ordered:
            for host in groups[group].hosts:
                if host not in taken:
                    taken.add(host)
                    hosts.append(host)
        result[name] = hosts
    return result


def _ansible_warnings(file: Path, hosts: dict[str, Host]) -> list[str]:
    """One line per Ansible variable provision does not act on: never silently dropped."""
    seen: set[str] = set()
    for host in hosts.values():
        seen.update(key for key in host.vars if key.startswith("ansible_"))
    lines = []
    for key in sorted(seen):
        if key in IGNORED_ANSIBLE:
            lines.append(f"{file}: {key} is an Ansible variable provision ignores")
        elif key not in KNOWN_ANSIBLE:
            lines.append(f"{file}: {key} is not an Ansible connection variable provision knows; it is ignored")
    return lines


def _merge(
    layers: list[tuple[dict[str, Any], dict[str, Origin], bool]],
    values: dict[str, Any],
    origins: dict[str, Origin],
    ranks: dict[str, int],
    secret: set[str],
    start: int = 0,
) -> tuple[dict[str, Any], dict[str, Origin], dict[str, int], set[str]]:
    """Apply ``layers`` (vars, origins, from a vault-encrypted file) in order: later ones win."""
    for rank, (data, where, encrypted) in enumerate(layers, start=start):
        values.update(data)
        origins.update(where)
        ranks.update(dict.fromkeys(data, rank))
        if encrypted:
            secret |= data.keys()
        else:
            secret -= data.keys()
    return values, origins, ranks, secret


def load_inventory(
    file: Path,
    *,
    playbook_dir: Path | None = None,
    vault: Vault | None = None,
) -> Inventory:
    """Load and merge an inventory file or directory; every error names file, line, column and key path."""
    with paused_gc():
        return _load(file, playbook_dir, vault)


def _load(file: Path, playbook_dir: Path | None, vault: Vault | None) -> Inventory:
    builder = _Builder(vault or Vault.from_options())
    if not file.exists():
        raise InputError([LoadError(file, None, None, (), "file not found")])
    for source in _source_files(file):
        try:
            builder.read_source(source)
        except InputError as exc:
            builder.errors.extend(exc.errors)
    if builder.errors:
        raise InputError(builder.errors)
    doc = Located(file, None)
    groups, hosts = builder.groups, builder.hosts
    if not hosts:
        raise InputError([LoadError(file, None, None, (), "the inventory defines no hosts")])
    _complete_tree(builder, Origin(doc, ()))
    if builder.errors:
        raise InputError(builder.errors)
    ancestors, direct = _memberships(groups, hosts)
    base_dirs = [file if file.is_dir() else file.parent]
    if playbook_dir is not None and playbook_dir.resolve() not in {d.resolve() for d in base_dirs}:
        base_dirs.append(playbook_dir)
    _merge_host_vars(builder, ancestors, direct, _VarsFiles(builder, base_dirs))
    if builder.errors:
        raise InputError(builder.errors)
    if len(builder.docs) == 1:
        doc = builder.docs[0]  # one file: its positions serve errors that name no other place
    return Inventory(file, doc, hosts, groups, _ansible_warnings(file, hosts), _members(groups), builder.vault)


def _complete_tree(builder: _Builder, origin: Origin) -> None:
    """Ansible's implicit groups: ``all`` and ``ungrouped``, every top-level group a child of ``all``;
    then each group's depth (errors for a cycle)."""
    groups = builder.groups
    builder.group("all", origin)
    builder.group("ungrouped", origin)
    if "ungrouped" not in groups["all"].children:
        builder.child("all", "ungrouped", origin)
    for name, group in list(groups.items()):
        if name != "all" and not group.parents:
            builder.child("all", name, origin)
    _depths(groups, builder.errors)


def _memberships(
    groups: dict[str, Group], hosts: dict[str, Host]
) -> tuple[dict[str, frozenset[str]], dict[str, set[str]]]:
    """Each group's ancestors (itself included) and each host's direct groups, with ``ungrouped``
    holding exactly the hosts in no other group. Each group's ancestors once, then each host's
    groups from its direct groups: linear in hosts."""
    ancestors: dict[str, frozenset[str]] = {}
    for name in sorted(groups, key=lambda g: groups[g].depth):
        found = {name}
        for parent in groups[name].parents:
            found |= ancestors[parent]
        ancestors[name] = frozenset(found)
    direct: dict[str, set[str]] = {name: set() for name in hosts}
    for group in groups.values():
        for host_name in group.hosts:
            direct[host_name].add(group.name)
    ungrouped = groups["ungrouped"]
    for host_name, names in direct.items():
        if names <= {"all", "ungrouped"} and host_name not in ungrouped.hosts:
            ungrouped.hosts.append(host_name)
            names.add("ungrouped")
        elif names - {"all", "ungrouped"} and "ungrouped" in names:
            ungrouped.hosts.remove(host_name)
            names.discard("ungrouped")
    return ancestors, direct


_Layer = tuple[dict[str, Any], dict[str, Origin], bool]
"""One source of variables: values, their origins, whether it came from a vault-encrypted file."""


class _VarsFiles:
    """``group_vars/`` and ``host_vars/`` files beside the inventory and the playbook, each read once."""

    def __init__(self, builder: _Builder, base_dirs: list[Path]) -> None:
        self.builder, self.base_dirs = builder, base_dirs
        self.cache: dict[tuple[Path, str, str], list[_Layer]] = {}

    def __call__(self, subdir: str, names: list[str]) -> list[_Layer]:
        """Vars files of ``names`` in ansible-core's order: inventory side for every name, then playbook side."""
        loaded = []
        for base in self.base_dirs:
            for name in names:
                key = (base, subdir, name)
                if key not in self.cache:
                    self.cache[key] = []
                    for vars_file in _vars_files(base, subdir, name):
                        try:
                            self.cache[key].append(self.builder.read_vars_file(vars_file))
                        except InputError as exc:
                            self.builder.errors.extend(exc.errors)
                loaded += self.cache[key]
        return loaded


def _merge_host_vars(
    builder: _Builder,
    ancestors: dict[str, frozenset[str]],
    direct: dict[str, set[str]],
    vars_of: _VarsFiles,
) -> None:
    """Each host's groups, variables, origins, precedence ranks and secret keys: its groups' vars
    (merged once per distinct set of groups), then its own definitions and host_vars files."""
    groups = builder.groups
    merged: dict[frozenset[str], tuple[list[str], dict[str, Any], dict[str, Origin], dict[str, int], set[str]]] = {}
    for host in builder.hosts.values():
        member_of = frozenset().union(*(ancestors[g] for g in direct[host.name] | {"all"}))
        shared = merged.get(member_of)
        if shared is None:
            order = sorted(member_of, key=lambda g: (groups[g].depth, groups[g].priority, g))
            layers: list[_Layer] = [(groups[name].vars, groups[name].origins, False) for name in order]
            layers += vars_of("group_vars", ["all"]) + vars_of("group_vars", [g for g in order if g != "all"])
            shared = merged[member_of] = (order, *_merge(layers, {}, {}, {}, set()))
        order, values, origins, ranks, secret = shared
        host.groups = order
        host_layers: list[_Layer] = [(d.values, d.origins, False) for d in builder.definitions[host.name]]
        host_layers += vars_of("host_vars", [host.name])
        host.vars, host.origins, host.ranks, host_secret = _merge(
            host_layers, dict(values), dict(origins), dict(ranks), set(secret), start=len(order) + 1000
        )
        host.secret = frozenset(host_secret | (SECRET_KEYS & host.vars.keys()))
