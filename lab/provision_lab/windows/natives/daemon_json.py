"""daemon.json as dockerd on Windows reads it: the keys it accepts and its refusal texts.

Source keys are those of ``/work/shared/research/windows-facts.md`` (``wf §5``): Docker's list
[CLI-DOCKERD] checked against moby's code [MOBY daemon/config/config.go, config_windows.go].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["WINDOWS_KEYS", "config_error", "decode", "isolation_error", "major_minor"]

WINDOWS_KEYS = frozenset(
    # The flags registered on Windows under their daemon.json names: Docker's list (wf §5
    # [CLI-DOCKERD]) minus storage-driver and default-ulimits, which are Unix-only in code, plus
    # the common keys found in code (wf §5 [MOBY config.go, config_windows.go]). Linux-only keys
    # (iptables, bip, live-restore, userns-remap, default-address-pools...) are simply absent:
    # dockerd on Windows does not register them, so they are unknown directives.
    [
        "authorization-plugins",
        "bridge",
        "containerd",
        "containerd-namespace",
        "containerd-plugins-namespace",
        "data-root",
        "debug",
        "default-network-opts",
        "default-runtime",
        "dns",
        "dns-opts",
        "dns-search",
        "exec-opts",
        "experimental",
        "features",
        "fixed-cidr",
        "group",
        "host-gateway-ip",
        "hosts",
        "insecure-registries",
        "labels",
        "log-driver",
        "log-format",
        "log-level",
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "mtu",
        "pidfile",
        "raw-logs",
        "registry-mirrors",
        "shutdown-timeout",
        "storage-opts",
        "swarm-default-advertise-addr",
        "tlscacert",
        "tlscert",
        "tlskey",
        "tlsverify",
        "exec-root",
        "log-opts",
        "default-stop-timeout",
        "metrics-addr",
        "network-control-plane-mtu",
        "node-generic-resources",
        "http-proxy",
        "https-proxy",
        "no-proxy",
        "cdi-spec-dirs",
        "cri-containerd",
    ]
)


def major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def decode(raw: bytes) -> str:
    """The text dockerd reads: engines from 23.0 accept a UTF-8 or UTF-16 BOM (moby PR #44790,
    wf §5); the lab's catalog has only such engines."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _go_json_error(error: json.JSONDecodeError) -> str:
    """Go encoding/json's wording for the error Python found (dockerd is written in Go).

    An approximation: Go names the offending character and what it expected; the common cases
    are mapped, the rest say "invalid character".
    """
    doc, pos = error.doc, error.pos
    if pos >= len(doc) or error.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = doc[pos]
    if error.msg.startswith("Expecting property name"):
        return f"invalid character '{char}' looking for beginning of object key string"
    if error.msg.startswith("Expecting ':'"):
        return f"invalid character '{char}' after object key"
    if error.msg.startswith("Expecting ','"):
        return f"invalid character '{char}' after object key:value pair"
    if error.msg.startswith("Extra data"):
        return f"invalid character '{char}' after top-level value"
    return f"invalid character '{char}' looking for beginning of value"


def _flag_value(value: Any) -> str:
    """How moby prints a value in the flag/file conflict text (Go's %v of the flag / the JSON value)."""
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return str(value)


def config_error(raw: bytes, path: str, engine: str, flags: Mapping[str, Any] | None = None) -> str | None:
    """Why dockerd ``engine`` refuses daemon.json ``raw`` at ``path``, or None when it loads it.

    - bad JSON -> "invalid JSON: <Go error>" (wf §5);
    - unknown keys (Linux-only keys included) -> "the following directives don't match any
      configuration option: <keys>" [MOBY daemon/config/config.go findConfigurationConflicts];
      Go lists them in map order, the lab sorts them;
    - a key also given as a flag on the command line (the service's ImagePath keeps the flags of
      --register-service, wf §4.3) -> "the following directives are specified both as a flag and
      in the configuration file: <key>: (from flag: <v>, from file: <v>)", even for equal values
      (wf §5; docker/for-win issue #2647);
    - exec-opts other than isolation are refused at load from v28.0 with validatePlatformExecOpt's
      texts [MOBY daemon/config/config_windows.go] (wf §5);
    - all wrapped as "unable to configure the Docker daemon with file <path>: ..." [MOBY
      daemon/command/daemon.go; CLI-DOCKERD --validate example].
    Value types are not checked (dockerd would refuse e.g. "debug": "yes": the lab is silent there).
    """
    prefix = f"unable to configure the Docker daemon with file {path}: "
    text = decode(raw)
    if not text.strip():
        return None  # an empty file is an empty configuration [MOBY config.go]
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        return prefix + "invalid JSON: " + _go_json_error(error)
    if not isinstance(settings, dict):
        kind = "array" if isinstance(settings, list) else type(settings).__name__
        return prefix + f"invalid JSON: json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    unknown = sorted(key for key in settings if key not in WINDOWS_KEYS)
    if unknown:
        return prefix + "the following directives don't match any configuration option: " + ", ".join(unknown)
    both = sorted(key for key in settings if flags and key in flags)
    if both:
        conflicts = ", ".join(
            f"{key}: (from flag: {_flag_value(flags[key] if flags else None)}, from file: {_flag_value(settings[key])})"
            for key in both
        )
        return (
            prefix + "the following directives are specified both as a flag and in the configuration file: " + conflicts
        )
    if major_minor(engine) >= (28, 0):
        for option in settings.get("exec-opts") or []:
            name = str(option).partition("=")[0].strip().lower()
            if name == "native.cgroupdriver":
                return prefix + f"option '{name}' is only supported on linux"
            if name != "isolation":
                return prefix + f"unknown option: '{name}'"
    return None


def isolation_error(raw: bytes) -> str | None:
    """A bad ``isolation=`` exec-opt stops the daemon at start: "invalid exec-opt value for
    'isolation':'<v>'" [MOBY daemon_windows.go setDefaultIsolation] (wf §5)."""
    try:
        settings = json.loads(decode(raw) or "{}")
    except json.JSONDecodeError:
        return None
    for option in (settings.get("exec-opts") or []) if isinstance(settings, dict) else []:
        name, _, value = str(option).partition("=")
        if name.strip().lower() == "isolation" and value.strip().lower() not in ("process", "hyperv", "default"):
            return f"invalid exec-opt value for 'isolation':'{value}'"
    return None
