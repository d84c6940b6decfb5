"""config.toml for containerd on Windows, by key: the spec's ``containerd:`` settings rendered for the
engine's version, refused at load time where the version has no such key, and diffed key by key.

Facts from containerd's code (research/containerd-scaleout-history.md §1.4-§1.5, ``cs``; the key sets
are the ``toml`` tags of ``pkg/cri/config/config.go`` at v1.7.28 and ``internal/cri/config/config.go``
at v2.0.7, v2.1.5, v2.2.1 and v2.3.0):

* containerd 1.x reads config ``version = 2``: the CRI settings under ``io.containerd.grpc.v1.cri``.
  2.0-2.2 write ``version = 3`` and 2.3 writes ``version = 4`` (``version/version.go``
  ``ConfigVersion``): the CRI settings moved to ``io.containerd.cri.v1.images`` and
  ``io.containerd.cri.v1.runtime``; ``sandbox_image`` became ``pinned_images.sandbox``; ``cni.bin_dir``
  became the list ``cni.bin_dirs`` in 2.1. A file with a higher version than the binary's is fatal.
* containerd ignores a key it does not know (2.x logs "Ignoring unknown key in TOML", 1.7 says nothing):
  the setting silently has no effect. So provision refuses such keys itself, with the reason.
* From 2.2.0 the default config imports ``conf.d\\*.toml`` (cs §1.4): on 2.2+ provision writes its keys to
  the drop-in ``conf.d\\provision.toml`` and leaves the vendor config.toml alone; below 2.2 it owns the
  whole config.toml. Never a regex edit of a file (sig-windows-tools PR #393, cs §1.5).
* Registry mirrors go to ``<config_path>\\<host>\\hosts.toml`` (containerd ``docs/hosts.md``), the
  inline ``registry.mirrors`` tables being deprecated for removal (cs §1.5); a ``host:port`` directory is
  ``host_port_`` (``core/remotes/docker/config/hosts.go`` ``hostDirectory``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioner.containerd.versions import parse
from provisioner.errors import closest

if TYPE_CHECKING:
    from provisioner.spec import ContainerdSettings

__all__ = [
    "CNI_PRESETS",
    "CRI_V1",
    "IMAGES",
    "RUNTIME",
    "KeyChange",
    "Rendered",
    "check_duration",
    "check_registry_host",
    "cni_paths",
    "config_version",
    "diff",
    "hosts_files",
    "key_problems",
    "render",
    "uses_drop_in",
]

CRI_V1 = "io.containerd.grpc.v1.cri"
IMAGES = "io.containerd.cri.v1.images"
RUNTIME = "io.containerd.cri.v1.runtime"

CNI_PRESETS: dict[str, tuple[str, str]] = {
    # containerd's and nerdctl's own defaults, and SIG Windows' paths (cs §0 and §1.5 [SWT-IC; NERD]).
    "containerd": (r"C:\Program Files\containerd\cni\bin", r"C:\Program Files\containerd\cni\conf"),
    "kubernetes-sigs": ("c:/opt/cni/bin", "c:/etc/cni/net.d"),
}

RUNTIME_HANDLERS = ("runhcs-wcow-process", "runhcs-wcow-hypervisor")
"""The Windows runtime handlers containerd defines (``config_windows.go``; cs §1.5)."""


def config_version(version: str) -> int:
    """The config version containerd ``version`` writes: 2 (1.x), 3 (2.0-2.2), 4 (2.3+)."""
    major, minor, _ = parse(version)
    if major < 2:
        return 2
    return 4 if (major, minor) >= (2, 3) else 3


def uses_drop_in(version: str) -> bool:
    """True from 2.2.0, whose default config imports ``conf.d\\*.toml``."""
    return parse(version)[:2] >= (2, 2)


# ------------------------------------------------------------------------------------------------
# The keys each version knows: name -> kind, or a nested table. A kind is "str", "int", "bool",
# "strs" (list of strings), "strmap" (table of strings) or "table" (free-form, e.g. runtimes).

Kind = str | Mapping[str, Any]

_REGISTRY = {"config_path": "str", "mirrors": "table", "configs": "table", "auths": "table", "headers": "table"}
_CNI = {
    "bin_dir": "str",
    "conf_dir": "str",
    "max_conf_num": "int",
    "setup_serially": "bool",
    "conf_template": "str",
    "ip_pref": "str",
}
_STREAMING = {
    "disable_tcp_service": "bool",
    "stream_server_address": "str",
    "stream_server_port": "str",
    "stream_idle_timeout": "str",
    "enable_tls_streaming": "bool",
}
_PULL = {
    "max_concurrent_downloads": "int",
    "image_pull_progress_timeout": "str",
    "image_pull_with_sync_fs": "bool",
    "stats_collect_period": "int",
}
_RUNTIME = {
    "max_container_log_line_size": "int",
    "ignore_image_defined_volumes": "bool",
    "enable_cdi": "bool",
    "cdi_spec_dirs": "strs",
    "drain_exec_sync_io_timeout": "str",
    "ignore_deprecation_warnings": "strs",
}


def schemas(version: str) -> dict[str, Mapping[str, Kind]]:
    """The CRI plugin tables containerd ``version`` decodes, by plugin URI (the Windows-relevant keys;
    Linux-only ones such as ``enable_selinux`` or ``systemd_cgroup`` are left out on purpose)."""
    major, minor, _ = parse(version)
    if major < 2:
        return {
            CRI_V1: {
                "sandbox_image": "str",
                "containerd": {"snapshotter": "str", "default_runtime_name": "str", "runtimes": "table"},
                "cni": _CNI,
                "registry": _REGISTRY,
                **_PULL,
                **_STREAMING,
                **_RUNTIME,
            }
        }
    images: dict[str, Kind] = {"snapshotter": "str", "pinned_images": "strmap", "registry": _REGISTRY, **_PULL}
    cni: dict[str, Kind] = {**_CNI, "use_internal_loopback": "bool"}
    if minor >= 1:
        images |= {"concurrent_layer_fetch_buffer": "int", "use_local_image_pull": "bool"}
        cni["bin_dirs"] = "strs"
    runtime: dict[str, Kind] = {
        "containerd": {"default_runtime_name": "str", "runtimes": "table"},
        "cni": cni,
        **_RUNTIME,
    }
    if minor >= 3:
        runtime |= {"stats_collect_period": "int", "stats_retention_period": "str"}
    return {IMAGES: images, RUNTIME: runtime, CRI_V1: dict(_STREAMING)}


# Where a key of one generation lives in the other: the reason given when it is used on the wrong one.
_MOVED_IN_2 = {
    f"{CRI_V1}.sandbox_image": f"{IMAGES}.pinned_images.sandbox",
    f"{CRI_V1}.cni.bin_dir": f"{RUNTIME}.cni.bin_dirs",
    f"{CRI_V1}.cni.conf_dir": f"{RUNTIME}.cni.conf_dir",
    f"{CRI_V1}.containerd.default_runtime_name": f"{RUNTIME}.containerd.default_runtime_name",
    f"{CRI_V1}.registry.config_path": f"{IMAGES}.registry.config_path",
    f"{CRI_V1}.max_concurrent_downloads": f"{IMAGES}.max_concurrent_downloads",
    f"{CRI_V1}.image_pull_progress_timeout": f"{IMAGES}.image_pull_progress_timeout",
}
_SINCE = {
    f"{RUNTIME}.cni.bin_dirs": "2.1.0",
    f"{IMAGES}.concurrent_layer_fetch_buffer": "2.1.0",
    f"{IMAGES}.use_local_image_pull": "2.1.0",
    f"{RUNTIME}.stats_collect_period": "2.3.0",
    f"{RUNTIME}.stats_retention_period": "2.3.0",
}
_DEPRECATED = {
    # "DEPRECATED: Use ConfigPath instead. Remove in containerd 2.3" (cs §1.5): refused, the hosts.toml way is given.
    "registry.mirrors": "registry.mirrors is deprecated for removal; use containerd.registry.mirrors (hosts.toml)",
    "registry.configs": "registry.configs is deprecated for removal; use hosts.toml under registry.config_path",
    "registry.auths": "registry.auths is deprecated for removal; use hosts.toml under registry.config_path",
}


def key_problems(plugins: Mapping[str, Any], version: str) -> list[str]:
    """Why each key of ``plugins`` (``{uri: table}``) would have no effect on containerd ``version``:
    one sentence per key, naming it; empty when every key is known and of its type."""
    known = schemas(version)
    problems: list[str] = []
    for uri, table in plugins.items():
        if uri not in known:
            problems.append(
                f"plugins.{uri}: provision manages the CRI plugins only ({', '.join(sorted(known))} on "
                f"containerd {version})"
            )
            continue
        if not isinstance(table, Mapping):
            problems.append(f"plugins.{uri}: expected a table of settings")
            continue
        problems += _walk(table, known[uri], uri, version)
    return problems


def _walk(table: Mapping[str, Any], schema: Mapping[str, Kind], path: str, version: str) -> list[str]:
    problems: list[str] = []
    for key, value in table.items():
        here = f"{path}.{key}"
        kind = schema.get(key)
        if kind is None:
            problems.append(f"plugins.{here}: {_unknown_reason(here, key, schema, version)}")
            continue
        deprecated = next((why for suffix, why in _DEPRECATED.items() if here.endswith(suffix)), None)
        if deprecated is not None:
            problems.append(f"plugins.{here}: {deprecated}")
            continue
        if isinstance(kind, Mapping):
            if not isinstance(value, Mapping):
                problems.append(f"plugins.{here}: expected a table")
            else:
                problems += _walk(value, kind, here, version)
        elif not _fits(kind, value):
            problems.append(f"plugins.{here}: expected {_KIND_TEXT[kind]}, got {type(value).__name__}")
    return problems


def _unknown_reason(here: str, key: str, schema: Mapping[str, Kind], version: str) -> str:
    if here in _SINCE:
        return f"exists from containerd {_SINCE[here]}, not in {version} (containerd would ignore it)"
    if here in _MOVED_IN_2:
        return f"a containerd 1.x key; containerd {version} reads plugins.{_MOVED_IN_2[here]}"
    moved_back = {new: old for old, new in _MOVED_IN_2.items()}
    if here in moved_back:
        return f"a containerd 2.x key; containerd {version} reads plugins.{moved_back[here]}"
    guess = closest(key, schema)
    return f"containerd {version} has no such key and would ignore it" + (f"; did you mean '{guess}'?" if guess else "")


_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "strs": "a list of strings",
    "strmap": "a table of strings",
    "table": "a table",
}


def _fits(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == "strmap":
        return isinstance(value, Mapping) and all(isinstance(item, str) for item in value.values())
    return isinstance(value, Mapping)


# ------------------------------------------------------------------------------------------------
# The spec's settings

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_REGISTRY_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$"
)


def check_duration(value: str) -> str:
    """A Go duration (``10m0s``, ``90s``, ``1h``), as containerd parses ``image_pull_progress_timeout``."""
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a Go duration (e.g. 10m0s, 90s, 1h)")
    return value


def check_registry_host(host: str) -> str:
    if not _REGISTRY_HOST.match(host):
        raise ValueError(f"{host!r} is not a registry host (e.g. docker.io or registry.example.com:5000)")
    return host


# ------------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class Rendered:
    """The managed file: where it goes, its TOML text, and the document it encodes."""

    path: str
    text: str
    document: dict[str, Any]


def cni_paths(settings: ContainerdSettings) -> tuple[str, str] | None:
    """(bin dir, conf dir) the settings ask for: a preset's or the given pair; None to leave containerd's."""
    if settings.cni is None:
        return None
    if isinstance(settings.cni, str):
        return CNI_PRESETS[settings.cni]
    return settings.cni.bin_dir, settings.cni.conf_dir


def document(settings: ContainerdSettings, version: str) -> dict[str, Any]:
    """The keys provision sets, as a config.toml document for ``version`` (``version`` plus ``plugins``).
    Raises ValueError when a named setting and ``plugins`` set the same key."""
    major = parse(version)[0]
    named: dict[str, dict[str, Any]] = {}

    def put(uri: str, path: tuple[str, ...], value: Any) -> None:
        table = named.setdefault(uri, {})
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = value

    images, runtime = (CRI_V1, CRI_V1) if major < 2 else (IMAGES, RUNTIME)
    if settings.sandbox_image is not None:
        put(images, ("sandbox_image",) if major < 2 else ("pinned_images", "sandbox"), settings.sandbox_image)
    paths = cni_paths(settings)
    if paths is not None:
        if major >= 2 and parse(version)[1] >= 1:
            put(runtime, ("cni", "bin_dirs"), [paths[0]])
        else:
            put(runtime, ("cni", "bin_dir"), paths[0])
        put(runtime, ("cni", "conf_dir"), paths[1])
    if settings.default_runtime is not None:
        put(runtime, ("containerd", "default_runtime_name"), settings.default_runtime)
    if settings.registry is not None:
        put(images, ("registry", "config_path"), settings.registry.config_path)
    if settings.image_pull_progress_timeout is not None:
        put(images, ("image_pull_progress_timeout",), settings.image_pull_progress_timeout)
    if settings.max_concurrent_downloads is not None:
        put(images, ("max_concurrent_downloads",), settings.max_concurrent_downloads)
    plugins = {uri: _merge(named.get(uri, {}), table, f"plugins.{uri}") for uri, table in settings.plugins.items()}
    for uri, table in named.items():
        plugins.setdefault(uri, table)
    return {"version": config_version(version), "plugins": plugins}


def _merge(named: dict[str, Any], raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = dict(named)
    for key, value in raw.items():
        if key in merged:
            if isinstance(merged[key], dict) and isinstance(value, Mapping):
                merged[key] = _merge(merged[key], value, f"{where}.{key}")
                continue
            raise ValueError(f"{where}.{key} is set by a named containerd setting too; set it once")
        merged[key] = value
    return merged


def render(settings: ContainerdSettings, version: str, install_dir: str) -> Rendered:
    """The file provision owns: ``conf.d\\provision.toml`` on 2.2+, else the whole ``config.toml``."""
    doc = document(settings, version)
    path = install_dir.rstrip("\\") + (r"\conf.d\provision.toml" if uses_drop_in(version) else r"\config.toml")
    header = "# Managed by provision: changes here are reverted on the next apply.\n"
    return Rendered(path, header + dumps(doc), doc)


def hosts_files(settings: ContainerdSettings) -> dict[str, str]:
    """``<config_path>\\<host dir>\\hosts.toml`` -> its text, one per mirrored registry host."""
    if settings.registry is None:
        return {}
    files = {}
    for host, mirrors in sorted(settings.registry.mirrors.items()):
        folder = re.sub(r":(\d+)$", r"_\1_", host)
        upstream = "https://registry-1.docker.io" if host == "docker.io" else f"https://{host}"
        doc: dict[str, Any] = {
            "server": upstream,
            "host": {url: {"capabilities": ["pull", "resolve"]} for url in mirrors},
        }
        files[settings.registry.config_path.rstrip("\\/") + "\\" + folder + r"\hosts.toml"] = dumps(doc)
    return files


# ------------------------------------------------------------------------------------------------
# TOML out (strings, integers, booleans, lists and tables: all a config.toml of provision holds)


def dumps(doc: Mapping[str, Any]) -> str:
    """Deterministic TOML: scalars first, then tables by name, keys sorted; quoted keys where needed."""
    lines: list[str] = []
    _table(doc, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = [key for key in table if not isinstance(table[key], Mapping)]
    tables = sorted(key for key in table if isinstance(table[key], Mapping))
    if path and (scalars or not tables):
        lines += ["", "[" + ".".join(_key(part) for part in path) + "]"]
    for key in scalars if not path else sorted(scalars):
        lines.append(f"{_key(key)} = {_value(table[key])}")
    for key in tables:
        _table(table[key], [*path, key], lines)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _basic(name)


def _basic(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, str):
        return _basic(value)
    raise ValueError(f"{value!r} has no TOML form provision writes")


# ------------------------------------------------------------------------------------------------
# Key-level diff


@dataclass(frozen=True)
class KeyChange:
    """One key that differs: its dotted path (``plugins.<uri>.<key>...``), before and after."""

    path: str
    before: Any
    after: Any


def _leaves(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _leaves(item, f"{path}.{key}" if path else str(key), out)
    else:
        out[path] = value


def diff(current: str | None, wanted: Mapping[str, Any]) -> list[KeyChange]:
    """What differs between the file on the host (its text, None when absent) and the document
    provision owns, key by key; a key provision does not set is drift too (the file is provision's)."""
    if current is None:
        return [KeyChange("file", "absent", "present")]
    try:
        parsed = tomllib.loads(current.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        return [KeyChange("file", f"not TOML ({error})", "provision's keys")]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _leaves(parsed, "", before)
    _leaves(wanted, "", after)
    return [
        KeyChange(path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    ]
