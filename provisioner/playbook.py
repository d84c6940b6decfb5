"""Playbooks -> plays -> per-host targets with a validated HostSpec.

A playbook is a list of plays (``name``, ``hosts``, ``inventory``, ``vars``, ``rollout``,
``reboot``, ``spec``). Values may use Jinja2 ``{{ var }}`` resolved per host from the merged
inventory vars and the play's vars (play vars win, as in Ansible, for connection variables too),
with StrictUndefined, so an undefined variable is a load error naming the place, never an empty
string. Ansible's magic variables (``inventory_hostname``, ``inventory_hostname_short``,
``group_names``, ``groups``, ``hostvars``) are defined, in inventory values as in the spec.

Secrets stay out of templates (review F6): passwords and vault values are no template variables,
and ``env('NAME')`` / ``lookup('env', 'NAME')`` read only variables named ``PROVISION_*``, never
one named by any ``password_env``. ``!unsafe`` values are used as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from provisioner.errors import InputError, KeyPath, LoadError, closest
from provisioner.inventory import Host, Inventory, Origin, Vault, load_inventory, select_hosts
from provisioner.loadutil import paused_gc, validation_errors
from provisioner.schema import PlaySchema
from provisioner.spec import DownloadSpec, HostSpec, RebootPolicy, RolloutPolicy, VerifySpec
from provisioner.transport.settings import ConnectionSettings
from provisioner.yamlsrc import Located, Unsafe, VaultText, load_yaml

__all__ = [
    "ENV_PREFIX",
    "Play",
    "Playbook",
    "Target",
    "Templater",
    "facts_targets",
    "host_variables",
    "load_playbook",
    "password_envs",
    "secret_names",
]

PLAY_KEYS = tuple(PlaySchema.model_fields)
"""The keys a play may have: the fields of the schema's play model, so the loader and the shipped JSON
Schema cannot disagree on them (the loader validates each key's value with its own model)."""


class _Refused(Exception):
    """A template asked for something it may not have (an environment variable, a lookup plugin, gigabytes)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with ``*`` and ``**`` bounded: ``{{ 'a' * 10**9 }}`` or ``{{ 9 ** 9 ** 9 }}`` in an
    inventory is an error naming the place, not gigabytes of memory or minutes of CPU (review F10)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 256:
            raise _Refused(f"{left} ** {right} is too large")
        if operator == "*":
            for items, times in ((left, right), (right, left)):
                if isinstance(items, (str, list, tuple)) and isinstance(times, int) and len(items) * times > _MAX_ITEMS:
                    raise _Refused(f"a repetition of {len(items) * times:,} items is too large")
        return super().call_binop(context, operator, left, right)


_MAX_ITEMS = 1_000_000
_ENV = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False)
ENV_PREFIX = "PROVISION_"
"""Templates read environment variables with this prefix only (review F6: no AWS_SECRET_ACCESS_KEY
in daemon.json or in a DNS name), and never one named by a ``password_env``."""


def _environment_readers(denied: frozenset[str]) -> dict[str, Callable[..., Any]]:
    """``env()`` and Ansible's ``lookup('env', ...)`` over the allowed environment variables."""

    def env(name: Any, default: Any = "") -> Any:
        name = str(name)
        if not name.startswith(ENV_PREFIX) or name in denied:
            why = "it is a password_env variable" if name in denied else f"only {ENV_PREFIX}* variables can be read"
            raise _Refused(f"env({name[:60]!r}) is refused: {why}", f"see README, Ansible inventories ({ENV_PREFIX}*)")
        return os.environ.get(name, default)

    def lookup(plugin: Any, *terms: Any, default: Any = "", **_: Any) -> Any:
        if plugin != "env":
            raise _Refused(f"lookup({str(plugin)[:40]!r}) is not supported; only lookup('env', NAME) is")
        return ",".join(str(env(term, default)) for term in terms)

    return {"env": env, "lookup": lookup}


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=4096)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@lru_cache(maxsize=4096)
def _placeholders(source: str) -> tuple[str, ...] | None:
    """The variable names of a template made only of ``{{ name }}`` placeholders, else None."""
    if "{%" in source or "{#" in source:
        return None
    names = tuple(_PLACEHOLDER.findall(source))
    return names if source.count("{{") == len(names) and "}}" not in _PLACEHOLDER.sub("", source) else None


_MAX_INDIRECTION = 10
"""Levels of variables whose values are templates; deeper is a loop (a: "{{ b }}", b: "{{ a }}")."""


class Templater:
    """Resolves ``{{ }}`` in YAML values for one host; errors point at the value's place."""

    def __init__(
        self, doc: Located, *, denied_env: frozenset[str] = frozenset(), secrets: frozenset[str] = frozenset()
    ) -> None:
        self.doc = doc
        self.errors: list[LoadError] = []
        self.readers = _environment_readers(denied_env)
        self.secrets = secrets
        """Names that are no template variables because they hold secrets (for a clear error)."""

    def _rendered(self, value: str, variables: dict[str, Any]) -> Any:
        """One rendering of a template string (its result may itself hold a template); raises Jinja's errors."""
        stripped = value.strip()
        names = _placeholders(value)
        if names is not None and all(name in variables for name in names):
            # Only {{ name }} placeholders: substituted without Jinja, the same result ten times
            # faster (50,000 hosts validate in seconds, review F15).
            whole = _PLACEHOLDER.fullmatch(stripped)
            if whole and stripped == value:
                return variables[whole.group(1)]
            return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), value)
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
            # A value that is exactly one expression keeps its type (a number stays a number).
            result = _expression(stripped[2:-2].strip())(**variables, **self.readers)
            if isinstance(result, jinja2.Undefined):
                str(result)  # raises UndefinedError with the variable's name
            return result
        return _template(value).render(**variables, **self.readers)

    def at(self, value: Any, variables: dict[str, Any], origin: Origin) -> Any:
        """Render a value written at ``origin`` (an inventory, vars file or playbook place)."""
        return self(value, variables, origin.path, origin.doc)

    def __call__(
        self, value: Any, variables: dict[str, Any], path: KeyPath, doc: Located | None = None, depth: int = 0
    ) -> Any:
        if isinstance(value, dict):
            return {k: self(v, variables, path + (k,), doc, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, variables, path + (i,), doc, depth) for i, v in enumerate(value)]
        if isinstance(value, VaultText):
            self.errors.append(
                (doc or self.doc).error(path, "a vault-encrypted value is a secret and is never templated")
            )
            return value
        if isinstance(value, Unsafe) or not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        hint: str | None = "define it in the inventory or the play's vars"
        try:
            result = self._rendered(value, variables)
            if not _has_template(result) or isinstance(result, Unsafe):
                return result
            if depth < _MAX_INDIRECTION:
                # A variable whose value is itself a template resolves as in Ansible (docker_version:
                # "{{ base_version }}"); !unsafe values stay as written.
                return self(result, variables, path, doc, depth + 1)
            message, hint = f"variables refer to each other more than {_MAX_INDIRECTION} levels deep (a loop?)", None
        except jinja2.UndefinedError as exc:
            message = f"undefined variable: {exc.message}"
            name = str(exc.message or "").split("'")[1] if "'" in str(exc.message) else ""
            if name in self.secrets:
                message, hint = f"{name} holds a secret (a password or a vault value) and is no template variable", None
        except _Refused as exc:
            message, hint = f"template error: {exc}", exc.hint
        except jinja2.TemplateError as exc:
            message = f"template error: {_cut(str(exc))}"
        except Exception as exc:  # noqa: BLE001 -- any runtime error in a user's expression is bad input, not a crash
            message, hint = f"template error: {type(exc).__name__}: {_cut(str(exc))}", None
        self.errors.append((doc or self.doc).error(path, message, hint))
        return value


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class _HostVars(Mapping[str, dict[str, Any]]):
    """Ansible's ``hostvars``: every host's variables (secrets left out), built on first use."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def __getitem__(self, name: str) -> dict[str, Any]:
        host = self.inventory.hosts[name]
        return {**_public(host), **_magic(self.inventory, host)}

    def __iter__(self) -> Iterator[str]:
        return iter(self.inventory.hosts)

    def __len__(self) -> int:
        return len(self.inventory.hosts)


def _public(host: Host) -> dict[str, Any]:
    if not host.secret:
        return host.vars
    return {k: v for k, v in host.vars.items() if k not in host.secret and not isinstance(v, VaultText)}


def _magic(inventory: Inventory, host: Host) -> dict[str, Any]:
    name = host.name
    short = name if name.replace(".", "").isdigit() or ":" in name else name.split(".")[0]
    return {
        "inventory_hostname": name,
        "inventory_hostname_short": short,
        "group_names": [g for g in host.groups if g != "all"],
    }


def host_variables(inventory: Inventory, host: Host, play_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """Template variables for a host: its vars without secrets, the play's vars over them, and Ansible's magic."""
    return {
        **_public(host),
        **(play_vars or {}),
        **_magic(inventory, host),
        "groups": inventory.members,
        "hostvars": _HostVars(inventory),
    }


def secret_names(inventory: Inventory) -> frozenset[str]:
    """Variables of any host that hold a secret: named in the error when a template uses one."""
    names: set[str] = set()
    for host in inventory.hosts.values():
        names |= host.secret
        names.update(k for k, v in host.vars.items() if isinstance(v, VaultText))
    return frozenset(names)


def password_envs(inventory: Inventory, spec: Any = None) -> frozenset[str]:
    """Every environment variable a ``password_env`` or a proxy's credentials name (in the inventory, or
    in the play's ``spec``): templates may never read them."""
    found = {
        host.vars.get(var)
        for host in inventory.hosts.values()
        for var in ("password_env", "download_proxy_credentials_env")
    }
    downloads = spec.get("downloads") if isinstance(spec, dict) else None
    if isinstance(downloads, dict):
        found.add(downloads.get("proxy_credentials_env"))
    return frozenset(name for name in found if isinstance(name, str) and name)


@dataclass(frozen=True)
class Play:
    index: int
    name: str
    hosts: str
    inventory: Inventory = field(repr=False)
    rollout: RolloutPolicy


@dataclass(frozen=True)
class Target:
    """One host of one play: where to connect and what it must look like."""

    name: str
    play: Play
    connection: ConnectionSettings
    spec: HostSpec
    reboot: RebootPolicy
    plan_digest: str = field(repr=False)
    """``spec.digest()``, computed once per distinct spec when the playbook is loaded."""
    vars: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Playbook:
    file: Path
    plays: list[Play]
    targets: list[Target]
    warnings: list[str]


def _validate(
    model: type[BaseModel], raw: Any, values: Any, doc: Located, path: KeyPath, errors: list[LoadError]
) -> Any:
    """Validate templated ``values``; errors about a value that held ``{{ }}`` in ``raw`` say so."""

    def templated(where: KeyPath) -> bool:
        node = raw
        for part in where[len(path) :]:
            if isinstance(node, dict) and part in node:  # noqa: SIM114 (the arms narrow different types)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return False
        return _has_template(node)

    try:
        return model.model_validate(values if values is not None else {})
    except ValidationError as exc:
        errors.extend(validation_errors(exc, doc, path, model, templated=templated))
        return None


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def load_playbook(
    file: Path, *, inventory: Path | None = None, limit: str | None = None, vault: Vault | None = None
) -> Playbook:
    """Load, template and validate a playbook for every targeted host; InputError lists all problems.

    ``group_vars/`` and ``host_vars/`` beside the playbook apply as in Ansible; ``vault`` decrypts
    ``!vault`` values (default: ``ANSIBLE_VAULT_PASSWORD_FILE``, else none)."""
    with paused_gc():
        return _load_playbook(file, inventory, limit, vault)


def _load_playbook(file: Path, inventory: Path | None, limit: str | None, vault: Vault | None) -> Playbook:
    doc = load_yaml(file)
    if not isinstance(doc.data, list) or not doc.data:
        raise InputError([doc.error((), "expected a list of plays (each with name, hosts and spec)")])
    loader = _PlaybookLoader(file, doc, inventory, limit, vault or Vault.from_options())
    for index, raw_play in enumerate(doc.data):
        loader.play(index, raw_play)
    if loader.errors:
        raise InputError(_dedupe(loader.errors))
    if not loader.targets:
        raise InputError([doc.error((), "no host is targeted (check hosts: and --limit)")])
    return Playbook(file, loader.plays, loader.targets, loader.warnings + _grouped(loader.notes))


class _PlaybookLoader:
    """One playbook's load: the plays, targets, warnings and errors gathered play by play.

    Every problem is collected, not raised, so one run lists them all. Once any error is found, the
    later plays are only checked for their keys (their inventories and hosts are not loaded)."""

    def __init__(self, file: Path, doc: Located, inventory: Path | None, limit: str | None, vault: Vault) -> None:
        self.file, self.doc, self.inventory, self.limit, self.vault = file, doc, inventory, limit, vault
        self.errors: list[LoadError] = []
        self.plays: list[Play] = []
        self.targets: list[Target] = []
        self.warnings: list[str] = []
        self.inventories: dict[Path, Inventory] = {}
        self.notes: dict[str, list[str]] = {}

    def play(self, index: int, raw_play: Any) -> None:
        """Load one play and its targets."""
        base: KeyPath = (index,)
        raw_play = self._checked_keys(base, raw_play)
        if raw_play is None or self.errors:
            return
        inv = self._inventory(base, raw_play)
        if inv is None:
            return
        play_vars = raw_play.get("vars") or {}
        if not isinstance(play_vars, dict):
            self.errors.append(self.doc.error(base + ("vars",), "expected a mapping of variables"))
            return
        templater = Templater(self.doc, denied_env=password_envs(inv, raw_play.get("spec")), secrets=secret_names(inv))
        rollout = _validate(
            RolloutPolicy,
            raw_play.get("rollout"),
            templater(raw_play.get("rollout"), play_vars, base + ("rollout",)),
            self.doc,
            base + ("rollout",),
            self.errors,
        )
        names = self._selected(base, inv, raw_play)
        if names is None:
            return
        play = Play(index, raw_play["name"], raw_play["hosts"], inv, rollout or RolloutPolicy())
        self.plays.append(play)
        self._targets(base, play, raw_play, play_vars, names, templater)
        self.errors.extend(templater.errors)
        if rollout is None:
            self.plays.pop()

    def _checked_keys(self, base: KeyPath, raw_play: Any) -> dict[str, Any] | None:
        """The play with ``hosts`` as one pattern, after its keys are checked; None when it is no mapping."""
        if not isinstance(raw_play, dict):
            self.errors.append(self.doc.error(base, "expected a play: a mapping with name, hosts and spec"))
            return None
        for key in raw_play:
            if key not in PLAY_KEYS:
                guess = closest(key, PLAY_KEYS)
                self.errors.append(
                    self.doc.error(
                        base + (key,),
                        f"unknown play key; expected one of: {', '.join(PLAY_KEYS)}",
                        f"did you mean '{guess}'?" if guess else None,
                    )
                )
        checked: dict[str, Any] = raw_play
        hosts_list = checked.get("hosts")
        if isinstance(hosts_list, list) and hosts_list and all(isinstance(p, str) for p in hosts_list):
            checked = {**checked, "hosts": ",".join(hosts_list)}  # Ansible takes a list of patterns too
        for key in ("name", "hosts"):
            if not isinstance(checked.get(key), str):
                self.errors.append(
                    self.doc.error(base + (key,) if key in checked else base, f"{key} is required (text)")
                )
        return checked

    def _inventory(self, base: KeyPath, raw_play: dict[str, Any]) -> Inventory | None:
        """The play's inventory (-i wins over ``inventory:``), each file loaded once per playbook."""
        inventory_path = self.inventory
        if inventory_path is None:
            if not raw_play.get("inventory"):
                self.errors.append(
                    self.doc.error(base, "no inventory: add `inventory:` to the play or pass -i INVENTORY")
                )
                return None
            inventory_path = (self.file.parent / str(raw_play["inventory"])).resolve()
        try:
            inv = self.inventories.get(inventory_path) or load_inventory(
                inventory_path, playbook_dir=self.file.parent, vault=self.vault
            )
        except InputError as exc:
            self.errors.extend(exc.errors)
            return None
        if inventory_path not in self.inventories:
            self.inventories[inventory_path] = inv
            self.warnings.extend(inv.warnings)
        return inv

    def _selected(self, base: KeyPath, inv: Inventory, raw_play: dict[str, Any]) -> list[str] | None:
        """The hosts the play's pattern selects, within --limit; None after an error."""
        try:
            names = select_hosts(inv, raw_play["hosts"], source=f"play {raw_play['name']!r} hosts")
        except InputError as exc:
            self.errors.extend(self.doc.error(base + ("hosts",), e.message, e.hint) for e in exc.errors)
            return None
        if self.limit is not None:
            try:
                limited = set(select_hosts(inv, self.limit, source="--limit"))
            except InputError as exc:
                self.errors.extend(exc.errors)
                return None
            names = [n for n in names if n in limited]
        return names

    def _targets(
        self,
        base: KeyPath,
        play: Play,
        raw_play: dict[str, Any],
        play_vars: dict[str, Any],
        names: list[str],
        templater: Templater,
    ) -> None:
        """One target per selected host. A spec and reboot policy are validated (and their digest taken)
        once per distinct templated value: without templates once, and a fleet whose hosts template them
        alike shares one spec object (``repr`` keys them: 1 and "1", key order and types stay apart)."""
        inv = play.inventory
        play_origins = {key: Origin(self.doc, base + ("vars", key)) for key in play_vars}
        spec_raw, reboot_raw = raw_play.get("spec"), raw_play.get("reboot")
        static = not _has_template(spec_raw) and not _has_template(reboot_raw)
        shared: tuple[HostSpec, RebootPolicy, str] | None = None
        validated: dict[str, tuple[HostSpec, RebootPolicy, str]] = {}
        for name in names:
            host = inv.hosts[name]
            variables = host_variables(inv, host, play_vars)
            try:
                connection, resolved = inv.resolve(
                    host,
                    lambda v, _, where: templater.at(v, variables, where),  # noqa: B023 (called at once, inside the loop)
                    play_vars=play_vars,
                    play_origins=play_origins,
                )
            except InputError as exc:
                self.errors.extend(exc.errors)
                continue
            assert connection is not None  # strict resolution raises instead
            for note in resolved.notes:
                self.notes.setdefault(note, []).append(name)
            if shared is None or not static:
                spec_values = templater(spec_raw, variables, base + ("spec",))
                reboot_values = templater(reboot_raw, variables, base + ("reboot",))
                if templater.errors:
                    # Validating text that still holds {{ }} would only add confusing errors.
                    self.errors.extend(templater.errors)
                    templater.errors.clear()
                    continue
                key = repr((spec_values, reboot_values))
                if key not in validated:
                    spec = _validate(HostSpec, spec_raw, spec_values, self.doc, base + ("spec",), self.errors)
                    reboot = _validate(
                        RebootPolicy, reboot_raw, reboot_values, self.doc, base + ("reboot",), self.errors
                    )
                    if spec is None or reboot is None:
                        if static:
                            break  # the same error for every host: report it once
                        continue
                    validated[key] = (spec, reboot, spec.digest())
                shared = validated[key]
            spec, reboot, digest = shared
            own = _with_download_vars(spec, host, variables, self.errors)
            if own is None:
                continue
            self.targets.append(
                Target(name, play, connection, own, reboot, digest if own is spec else own.digest(), variables)
            )


DOWNLOAD_VARS = {"download_proxy": "proxy", "download_proxy_credentials_env": "proxy_credentials_env"}
"""Inventory variables -> the spec.downloads keys they set for their host when the spec leaves them out."""


def _with_download_vars(
    spec: HostSpec, host: Host, variables: dict[str, Any], errors: list[LoadError]
) -> HostSpec | None:
    """``spec`` with the host's download_proxy variables (windows-audit.md F13); None after a located error."""
    given = {key: variables[var] for var, key in DOWNLOAD_VARS.items() if variables.get(var) is not None}
    current = spec.downloads.model_dump(exclude_none=True)
    wanted = {**{k: v for k, v in given.items() if k not in current}, **current}
    if wanted == current:
        return spec
    try:
        downloads = DownloadSpec.model_validate(wanted)
    except ValidationError as exc:
        var = next((v for v, k in DOWNLOAD_VARS.items() if k in given), "download_proxy")
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        origin = host.origins.get(var)
        if origin is None:
            errors.append(LoadError(None, None, None, (), f"{host.name}: {var}: {message}"))
        else:
            errors.append(origin.error(message))
        return None
    return spec.model_copy(update={"downloads": downloads})


def _grouped(notes: dict[str, list[str]]) -> list[str]:
    """One line per difference from provision's defaults, with the hosts it concerns."""
    lines = []
    for note, hosts in notes.items():
        unique = list(dict.fromkeys(hosts))
        shown = ", ".join(unique[:3]) + (f", ... ({len(unique) - 3} more)" if len(unique) > 3 else "")
        lines.append(f"{note} ({len(unique)} host{'s' if len(unique) != 1 else ''}: {shown})")
    return lines


def _dedupe(errors: list[LoadError]) -> list[LoadError]:
    seen: set[str] = set()
    unique = []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            unique.append(error)
    return unique


FACTS_SPEC = HostSpec(verify=VerifySpec(when="never"))
"""Facts need no spec: probe everything with the defaults."""


def facts_targets(inventory_file: Path, limit: str | None, *, vault: Vault | None = None) -> list[Target]:
    """Targets for ``provision facts``: inventory hosts with connection settings and no spec."""
    inv = load_inventory(inventory_file, vault=vault)
    names = select_hosts(inv, "all" if limit is None else limit, source="--limit")
    play = Play(0, "facts", limit or "all", inv, RolloutPolicy())
    templater = Templater(inv.doc, denied_env=password_envs(inv), secrets=secret_names(inv))
    targets = []
    digest = FACTS_SPEC.digest()
    for name in names:
        host = inv.hosts[name]
        variables = host_variables(inv, host)
        connection = inv.connection(host, lambda v, _, where: templater.at(v, variables, where))  # noqa: B023
        targets.append(Target(name, play, connection, FACTS_SPEC, RebootPolicy(), digest, variables))
    if templater.errors:
        raise InputError(templater.errors)
    return targets
