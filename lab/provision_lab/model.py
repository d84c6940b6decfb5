"""A simulated Windows host that executes rendered scripts block by block (DESIGN 6).

:class:`LabHostModel` implements :class:`provision_lab.api.LabHost`. It is a test double at the
resource level: it never interprets PowerShell. A script is parsed (a syntax error fails the whole
script, as ``powershell.exe`` would: pslit.py), then each block runs from its begin marker's
``type``, ``action`` and ``params`` against a model of the host, and writes the one record its
template would write, with the template's data keys and Windows' error texts.

Every modelled behaviour and error text cites its source; the source keys ([MS-VC], [MOBY], ...)
are those of ``/work/shared/research/windows-facts.md`` (``wf §N`` below is its section N). Where
the research had nothing, the comment says which public text was used, or that it is a guess.
The rule for doubt is to fail the way Windows fails: the lab must never be more forgiving.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from provision_lab.api import ExecResult, Faults
from provision_lab.pslit import Block, parse_error_text, parse_script
from provisioner.doctor import DiagnosticsParams
from provisioner.records import RECORD_PREFIX
from provisioner.render import FactsParams, RebootParams
from provisioner.resources.container_engine import EngineParams
from provisioner.resources.container_verify import VerifyParams
from provisioner.resources.daemon_config import DaemonParams
from provisioner.resources.windows_feature import FeatureParams

__all__ = [
    "DAEMON_JSON",
    "ENGINE_VERSIONS",
    "FEATURE_STATES",
    "WINRM_DEFAULTS",
    "HardwareState",
    "HostDownError",
    "HostState",
    "LabHostModel",
    "OsState",
    "ServiceState",
    "engine_archive",
    "engine_sha256",
    "engine_url",
]

FEATURE_STATES: tuple[str, ...] = ("Enabled", "Disabled", "EnablePending", "DisablePending", "Absent")
HYPER_V = "Microsoft-Hyper-V"
CONTAINERS = "Containers"
DAEMON_JSON = r"C:\ProgramData\docker\config\daemon.json"
"""dockerd reads ``<data-root>\\config\\daemon.json``, data-root ``%ProgramData%\\docker`` by default (wf §5)."""

# ---------------------------------------------------------------------------------------------
# Engine catalog: what download.docker.com serves in the lab.

ENGINE_VERSIONS: tuple[str, ...] = ("25.0.5", "26.1.4", "27.3.1", "27.4.1", "28.0.4")
"""Docker CE versions the lab can download, at Docker's static URL pattern (wf §4.2 [DD-BIN])."""

_API_VERSIONS = {"28.0": "1.48"}
"""API version of the catalog's clients from 28.0 (docker/cli docs, API version history): the
version a client that cannot reach the daemon still puts in its URLs; older clients use 1.24."""


def engine_url(version: str) -> str:
    """``https://download.docker.com/win/static/stable/x86_64/docker-<version>.zip`` [DD-BIN; DL-DOCKER]."""
    return f"https://download.docker.com/win/static/stable/x86_64/docker-{version}.zip"


@cache
def engine_archive(version: str) -> bytes:
    """The lab's stand-in for ``docker-<version>.zip``: a real zip with a top-level ``docker\\`` folder
    holding ``docker.exe`` and ``dockerd.exe`` (the layout of the real zip, wf §4.2), byte-for-byte
    the same on every run (fixed timestamps, no compression), so its SHA-256 can be pinned."""
    if version not in ENGINE_VERSIONS:
        raise KeyError(f"the lab has no Docker CE {version}; it has {', '.join(ENGINE_VERSIONS)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in ("docker.exe", "dockerd.exe"):
            info = zipfile.ZipInfo(f"docker/{name}", date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, f"lab stand-in for {name}, Docker CE {version}\n")
    return buffer.getvalue()


def engine_sha256(version: str) -> str:
    """SHA-256 (lowercase hex) of the lab's ``docker-<version>.zip``, for lab inventories."""
    return hashlib.sha256(engine_archive(version)).hexdigest()


_CATALOG = {engine_url(version): version for version in ENGINE_VERSIONS}

# ---------------------------------------------------------------------------------------------
# Registry catalog: which Windows builds an image reference offers.

_MCR_TAGS: dict[str, dict[str, int]] = {
    # mcr.microsoft.com/windows/<repo>:<tag> -> image build (wf §1.1 [MS-VC; MS-LIFE; MS-BASE]).
    # nanoserver:ltsc2019 was never confirmed (wf §1.1), so it is not here; `windows` has no 2025 image.
    "nanoserver": {"1809": 17763, "ltsc2022": 20348, "ltsc2025": 26100},
    "servercore": {"ltsc2016": 14393, "ltsc2019": 17763, "1809": 17763, "ltsc2022": 20348, "ltsc2025": 26100},
    "server": {"ltsc2022": 20348, "ltsc2025": 26100},
    "windows": {"1809": 17763},
}
_HELLO_WORLD: dict[str, tuple[int, ...]] = {
    # docker-library hello-world: Windows variants nanoserver-ltsc2025 and -ltsc2022, both also under
    # the shared tags `nanoserver` and `latest`; the 1809 variant was removed in 2025 (wf §6 [HW]).
    # The order of the shared list is not documented; newest first is assumed.
    "latest": (26100, 20348),
    "nanoserver": (26100, 20348),
    "nanoserver-ltsc2025": (26100,),
    "nanoserver-ltsc2022": (20348,),
    "linux": (),
}
_LINUX_ONLY = frozenset({"alpine", "busybox", "debian", "nginx", "ubuntu"})
"""Official images with no Windows entry: pulling them on Windows finds no matching manifest (wf §6)."""


def _split_reference(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag defaults to ``latest``."""
    name = image.partition("@")[0]
    repo, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "latest"
    return repo, tag


def _image_builds(image: str) -> tuple[int, ...] | None:
    """Windows builds in the manifest list of ``image`` (empty: Linux only), None when the tag is unknown."""
    repo, tag = _split_reference(image)
    repo = re.sub(r"^(?:docker\.io/)?(?:library/)?", "", repo.lower())
    mcr = re.fullmatch(r"mcr\.microsoft\.com/windows(?:/(nanoserver|servercore|server))?", repo)
    if mcr:
        tags = _MCR_TAGS[mcr.group(1) or "windows"]
        versioned = re.fullmatch(r"10\.0\.(\d{5})\.\d+", tag)
        if versioned and int(versioned.group(1)) in tags.values():
            return (int(versioned.group(1)),)
        base = re.sub(r"-KB\d+$", "", tag)  # 1809-KB4493509 style tags [MS-VC]
        return (tags[base],) if base in tags else None
    if repo == "hello-world":
        return _HELLO_WORLD.get(tag)
    if repo in _LINUX_ONLY:
        return ()
    return None


def _process_isolation_allowed(host_build: int, client: bool, image_build: int) -> bool:
    """Process isolation runs only an image of the host's own build [MS-VC, wf §1.3], except:
    ltsc2022 (20348) images on Windows Server 2025 (26100) [MS-VC matrix] and on Windows Server
    23H2 (25398, "container image portability") [MS-LIFE; HCS], and on Windows 11 (>= 22000,
    "available in preview") [MS-VC]. Written from the research tables, not from compat.py."""
    if image_build == host_build:
        return True
    if image_build == 20348:
        if client:
            return host_build >= 22000
        return host_build in (25398, 26100)
    return False


# ---------------------------------------------------------------------------------------------
# daemon.json as dockerd on Windows reads it.

_DAEMON_KEYS_WINDOWS = frozenset(
    # The flags registered on Windows under their daemon.json names: Docker's list (wf §5
    # [CLI-DOCKERD]) minus storage-driver and default-ulimits, which are Unix-only in code, plus
    # the common keys found in code (wf §5 [MOBY config.go, config_windows.go]). Kept apart from
    # spec.py on purpose: the lab checks the spec's list instead of trusting it.
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


def _daemon_config_error(raw: bytes, path: str, engine: str) -> str | None:
    """Why dockerd ``engine`` refuses daemon.json ``raw`` at ``path``, or None when it loads it.

    - unknown keys (Linux-only keys included) -> "the following directives don't match any
      configuration option: <keys>" [MOBY daemon/config/config.go findConfigurationConflicts];
      Go lists them in map order, the lab sorts them;
    - bad JSON -> "invalid JSON: <Go error>" (wf §5);
    - exec-opts other than isolation are refused at load from v28.0 with validatePlatformExecOpt's
      texts [MOBY daemon/config/config_windows.go] (wf §5);
    - all wrapped as "unable to configure the Docker daemon with file <path>: ..." [MOBY
      daemon/command/daemon.go; CLI-DOCKERD --validate example].
    Engines from 23.0 accept a UTF-8 or UTF-16 BOM (moby PR #44790, wf §5); the catalog has only
    such engines. Value types are not checked (dockerd would refuse e.g. "debug": "yes").
    """
    prefix = f"unable to configure the Docker daemon with file {path}: "
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="replace")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8", errors="replace")
    if not text:
        return None  # an empty file is an empty configuration [MOBY config.go]
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        return prefix + "invalid JSON: " + _go_json_error(error)
    if not isinstance(settings, dict):
        kind = "array" if isinstance(settings, list) else type(settings).__name__
        return prefix + f"invalid JSON: json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    unknown = sorted(key for key in settings if key not in _DAEMON_KEYS_WINDOWS)
    if unknown:
        return prefix + "the following directives don't match any configuration option: " + ", ".join(unknown)
    if _major_minor(engine) >= (28, 0):
        for option in settings.get("exec-opts") or []:
            name = str(option).partition("=")[0].strip().lower()
            if name == "native.cgroupdriver":
                return prefix + f"option '{name}' is only supported on linux"
            if name != "isolation":
                return prefix + f"unknown option: '{name}'"
    return None


def _isolation_option_error(raw: bytes) -> str | None:
    """A bad ``isolation=`` exec-opt stops the daemon at start: "invalid exec-opt value for
    'isolation':'<v>'" [MOBY daemon_windows.go setDefaultIsolation] (wf §5)."""
    try:
        settings = json.loads(raw.decode("utf-8-sig", errors="replace") or "{}")
    except json.JSONDecodeError:
        return None
    for option in (settings.get("exec-opts") or []) if isinstance(settings, dict) else []:
        name, _, value = str(option).partition("=")
        if name.strip().lower() == "isolation" and value.strip().lower() not in ("process", "hyperv", "default"):
            return f"invalid exec-opt value for 'isolation':'{value}'"
    return None


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def canonical_daemon_json(settings: Mapping[str, Any]) -> str:
    """daemon.json as the ``daemon_config`` block writes it (sorted keys, two-space indent, final newline)."""
    return json.dumps(settings, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class OsState:
    """What Win32_OperatingSystem and the CurrentVersion registry key say (wf §2 [W32-OS])."""

    caption: str
    build: int
    ubr: int
    display_version: str
    edition_id: str
    product_type: int
    """1 workstation, 2 domain controller, 3 server [W32-OS]."""
    installation_type: str


@dataclass
class HardwareState:
    """The machine, and what Win32_Processor reads on it while no hypervisor of its own runs.

    ``vt_firmware_enabled``, ``vm_monitor_mode_extensions`` and ``slat`` are those readings
    [W32-PROC]. On a physical host they are the truth; in a VM they are what the guest sees,
    while ``nested_exposed`` is the truth the guest cannot read (there is no in-guest API:
    Azure/iotedge-eflow issue #207, wf §2), so a profile can make the readings lie.
    """

    memory_gb: float
    logical_processors: int
    vt_firmware_enabled: bool
    vm_monitor_mode_extensions: bool
    slat: bool
    vm_platform: str | None = None
    """None on a physical host; else what Win32_ComputerSystem Model/Manufacturer name (wf §2)."""
    nested_exposed: bool = False
    """VMs only: the parent runs Set-VMProcessor -ExposeVirtualizationExtensions $true [MS-NESTED]."""

    @property
    def is_vm(self) -> bool:
        return self.vm_platform is not None

    @property
    def can_run_hypervisor(self) -> bool:
        """Hyper-V needs VT-x/AMD-V on in firmware and SLAT [MS-HV-REQ]; in a VM, exposed extensions [MS-NESTED]."""
        if self.is_vm:
            return self.nested_exposed
        return self.vt_firmware_enabled and self.vm_monitor_mode_extensions and self.slat


@dataclass
class ServiceState:
    """A Windows service as Get-Service shows it."""

    name: str
    status: str
    """Running or Stopped."""
    start_type: str
    """Automatic, Manual or Disabled."""
    install_dir: str
    """Folder of the dockerd.exe the service runs (its ImagePath, wf §4.3)."""


@dataclass
class HostState:
    """Everything a script can observe or change on one host. Paths and names are keyed in
    lower case, as Windows compares them; the values keep the spelling they were created with."""

    os: OsState
    hardware: HardwareState
    features: dict[str, str]
    """DISM optional-feature name -> Enabled | Disabled | EnablePending | DisablePending (absent: not offered)."""
    boot_time: datetime
    pending_reasons: list[str] = field(default_factory=list)
    hypervisor_running: bool = False
    """Decided at boot: Microsoft-Hyper-V Enabled and the machine able to run a hypervisor."""
    engines: dict[str, tuple[str, str]] = field(default_factory=dict)
    """lower(install dir) -> (install dir, Docker version) of the extracted zip."""
    services: dict[str, ServiceState] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    machine_path: list[str] = field(
        default_factory=lambda: [
            r"C:\Windows\system32",
            r"C:\Windows",
            r"C:\Windows\System32\Wbem",
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
            "C:\\Windows\\System32\\OpenSSH\\",
        ]
    )
    images: dict[str, int] = field(default_factory=dict)
    """Pulled image reference -> the build of the manifest entry docker chose."""
    service_log: list[str] = field(default_factory=list)
    """Why a service failed to start: what dockerd prints in a console or the Application log (wf §5)."""
    workstation: Any = None
    """Accounts, sessions and Docker Desktop (lab/desktop.py Workstation); None until a workstation
    profile or a Docker Desktop block makes one."""


# ---------------------------------------------------------------------------------------------
# Block outcomes


class HostDownError(RuntimeError):
    """A script reached a host that is rebooting; endpoints check ``is_up()`` first."""


class _Failure(Exception):
    """A PowerShell error caught by the block's catch: the record's ``error`` object."""

    def __init__(self, message: str, category: str, exception: str) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.exception = exception


def _throw(message: str) -> _Failure:
    """``throw "text"`` in a template: RuntimeException, category OperationStopped."""
    return _Failure(message, "OperationStopped", "System.Management.Automation.RuntimeException")


def _not_recognized(command: str) -> _Failure:
    """Running a command that does not exist (PowerShell's CommandNotFoundException text, as in
    MicrosoftDocs/Virtualization-Documentation issue #193)."""
    return _Failure(
        f"The term '{command}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and "
        "try again.",
        "ObjectNotFound",
        "System.Management.Automation.CommandNotFoundException",
    )


_HYPER_V_PREREQUISITE = (
    "A prerequisite check for the Hyper-V feature failed.\r\n1. Hyper-V cannot be installed "
    "because virtualization support is not enabled in the BIOS."
)
"""Install-WindowsFeature Hyper-V's failure text (wf §2: Virtualization-Documentation issue #1975)."""


def _start_failed(service: str) -> _Failure:
    """Start-Service / Restart-Service when the service stops again instead of running: "Failed to
    start service 'Docker Engine (docker)'." (StartServiceFailed; MicrosoftDocs/Virtualization-
    Documentation issue #1633). The reason is only in the Application log there, not in the error."""
    return _Failure(
        f"Failed to start service 'Docker Engine ({service})'.",
        "OpenError",
        "Microsoft.PowerShell.Commands.ServiceCommandException",
    )


_JSON_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}


def _ps_json(value: Any) -> str:
    """``ConvertTo-Json -Compress`` as Windows PowerShell 5.1 writes it: < > & ' escaped as \\uXXXX
    (PowerShell/PowerShell issue #7693; joel74/POSH-LTM-Rest PR #162) and whole doubles without a
    fraction (.NET's "R" format prints 16.0 as 16)."""

    def plain(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {key: plain(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [plain(inner) for inner in item]
        return item

    text = json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))
    return re.sub(r"[<>&']", lambda m: _JSON_HTML_ESCAPES[m.group(0)], text)


@dataclass
class _Outcome:
    """What a block's body leaves in $Changed, $RebootRequired and $Data."""

    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    reboot_required: bool = False


_PARAMS: dict[tuple[str, str], type[BaseModel]] = {
    ("facts", "get"): FactsParams,
    ("diagnostics", "get"): DiagnosticsParams,
    ("windows_feature", "set"): FeatureParams,
    ("container_engine", "set"): EngineParams,
    ("daemon_config", "set"): DaemonParams,
    ("container_verify", "test"): VerifyParams,
    ("reboot", "restart"): RebootParams,
}
"""The params model of each block type (resources/*.py, render.py): the marker contract."""


def _key(path: str) -> str:
    return path.replace("/", "\\").lower()


def _join(folder: str, name: str) -> str:
    """Join-Path: one backslash between the parts."""
    return folder.rstrip("\\/") + "\\" + name


def _parent(path: str) -> str:
    """Split-Path -Parent."""
    return path.replace("/", "\\").rstrip("\\").rpartition("\\")[0]


_STATE_VERSION = 1
"""Version of export_state's format."""


def _boot_id(moment: datetime) -> str:
    """``LastBootUpTime.ToUniversalTime().ToString('o')``: seven fraction digits and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


WINRM_DEFAULTS: Mapping[str, int] = {
    # MaxEnvelopeSizekb: "SHOULD be 500 but MAY be 150" (MS-WSMV 2.2.4.10 ConfigType); MaxMemoryPerShellMB
    # 1024 and MaxShellsPerUser 30 (learn.microsoft.com/windows/win32/winrm/quotas; MS-WSMV 2.2.4.42).
    # The same values as wsman.WinRSLimits' defaults, which the endpoint enforces (tests/doctor checks).
    "max_envelope_size_kb": 500,
    "max_memory_per_shell_mb": 1024,
    "max_shells_per_user": 30,
}
"""What a host's WSMan: drive reads unless its faults say otherwise (``Faults.max_*``)."""

_PS_BASE_BUILDS = {19042: 19041, 19043: 19041, 19044: 19041, 19045: 19041, 22631: 22621}
"""Releases shipped as enablement packages keep their base release's System.Management.Automation.dll,
so PSVersion carries the base build: 5.1.19041.610 on a 19042 host (MicrosoftDocs/windowsserverdocs
issue 5310). 22631 on 22621 is the same servicing relation, assumed rather than observed."""


def _ps_version(os_state: OsState) -> str:
    """$PSVersionTable.PSVersion of Windows PowerShell 5.1 on this build: 5.1.<build>.<revision>. The
    revision is the dll's and can lag the UBR (windowsserverdocs issue 6784: 856 vs 832); the lab uses the UBR."""
    return f"5.1.{_PS_BASE_BUILDS.get(os_state.build, os_state.build)}.{os_state.ubr}"


# ---------------------------------------------------------------------------------------------
# The host


class LabHostModel:
    """One simulated Windows host: state, faults, counters, reboots, and the block executor.

    Args:
        name: host name (the endpoints' and the inventory's).
        address: its loopback address (127.77.x.y).
        state: the initial state (profiles.py builds them).
        faults: injected faults; the model applies ``reboot_*`` and ``download_failure``.
        reboot_seconds: downtime of a restart unless ``faults.reboot_seconds`` says otherwise.
        shutdown_delay: how long after a restart script returns the host stops answering, so its
            record gets out (Restart-Computer returns before the shutdown takes the session down);
            ``faults.latency_ms`` is added, so a slow answer still outruns the shutdown.
        clock: monotonic seconds, for the downtime (wall time gives the boot ids).

    Thread-safe: one lock per host serialises scripts, reboots and drift injection.
    """

    def __init__(
        self,
        name: str,
        address: str,
        state: HostState,
        *,
        faults: Faults | None = None,
        reboot_seconds: float = 5.0,
        shutdown_delay: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.address = address
        self.faults = faults if faults is not None else Faults()
        self.counters: Counter[str] = Counter()
        self.reboot_seconds = reboot_seconds
        self.shutdown_delay = shutdown_delay
        self._clock = clock
        self._state = state
        self._lock = threading.RLock()
        self._down_at: float | None = None
        self._up_at: float | None = None
        self._containers = 0

    # -- LabHost ---------------------------------------------------------------------------

    def is_up(self) -> bool:
        """False from shortly after a restart until its downtime has passed (forever if it never returns)."""
        with self._lock:
            return self._settle()

    def run_script(self, script: str) -> ExecResult:
        """Parse the script and run its blocks; one ``@@provision`` record per block on stdout."""
        with self._lock:
            if not self._settle():
                raise HostDownError(f"{self.name} is restarting")
            self.counters["scripts"] += 1
            parsed = parse_script(script)
            if parsed.problems:
                # Nothing runs: [ScriptBlock]::Create fails before the first statement (pslit.py).
                self.counters["parse_errors"] += 1
                return ExecResult("", parse_error_text(script, parsed.problems), 1)
            results: dict[str, tuple[bool, bool]] = {}
            lines = [self._run_block(block, results) for block in parsed.blocks]
            return ExecResult("".join(line + "\n" for line in lines), "", 0)

    # -- drift and inspection ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data (deep copy), for "changes nothing" assertions."""
        with self._lock:
            up = self._settle()
            s = self._state
            return copy.deepcopy(
                {
                    "up": up,
                    "os": vars(s.os),
                    "hardware": {**vars(s.hardware), "is_vm": s.hardware.is_vm},
                    "features": s.features,
                    "boot_id": _boot_id(s.boot_time),
                    "pending_reasons": s.pending_reasons,
                    "hypervisor_running": s.hypervisor_running,
                    "engines": {path: version for path, version in s.engines.values()},
                    "services": {svc.name: vars(svc) for svc in s.services.values()},
                    "files": {
                        path: {
                            "sha256": hashlib.sha256(raw).hexdigest(),
                            "content": raw.decode("utf-8", errors="replace"),
                        }
                        for path, raw in s.files.values()
                    },
                    "machine_path": s.machine_path,
                    "images": s.images,
                    "service_log": s.service_log,
                    **({} if s.workstation is None else {"workstation": s.workstation.to_json()}),
                }
            )

    def export_state(self) -> dict[str, Any]:
        """The state as JSON-ready data, so a lab can keep its hosts between runs (restore_state)."""
        with self._lock:
            s = self._state
            return {
                "version": _STATE_VERSION,
                "os": dict(vars(s.os)),
                "hardware": dict(vars(s.hardware)),
                "features": dict(s.features),
                "boot_time": s.boot_time.isoformat(),
                "pending_reasons": list(s.pending_reasons),
                "hypervisor_running": s.hypervisor_running,
                "engines": [list(entry) for entry in s.engines.values()],
                "services": [dict(vars(svc)) for svc in s.services.values()],
                "files": [[path, base64.b64encode(raw).decode("ascii")] for path, raw in s.files.values()],
                "machine_path": list(s.machine_path),
                "images": dict(s.images),
                "service_log": list(s.service_log),
                **({} if s.workstation is None else {"workstation": s.workstation.to_json()}),
                "rebooting": self._down_at is not None,
            }

    def restore_state(self, data: Mapping[str, Any]) -> None:
        """Take over a state from export_state. A host saved mid-restart comes back booted, as it
        would have while the lab was stopped (unless its restart never returns)."""
        if data.get("version") != _STATE_VERSION:
            raise ValueError(f"saved lab host state has version {data.get('version')!r}, expected {_STATE_VERSION}")
        state = HostState(
            os=OsState(**data["os"]),
            hardware=HardwareState(**data["hardware"]),
            features=dict(data["features"]),
            boot_time=datetime.fromisoformat(data["boot_time"]),
            pending_reasons=list(data["pending_reasons"]),
            hypervisor_running=bool(data["hypervisor_running"]),
            engines={_key(path): (path, version) for path, version in data["engines"]},
            services={svc["name"].lower(): ServiceState(**svc) for svc in data["services"]},
            files={_key(path): (path, base64.b64decode(raw)) for path, raw in data["files"]},
            machine_path=list(data["machine_path"]),
            images=dict(data["images"]),
            service_log=list(data["service_log"]),
        )
        if data.get("workstation") is not None:
            from provision_lab.desktop import Workstation

            state.workstation = Workstation.from_json(data["workstation"])
        with self._lock:
            self._state = state
            self._down_at = self._up_at = None
            if data.get("rebooting"):
                if self.faults.reboot_never_returns:
                    self._down_at = self._clock()
                else:
                    self._boot(max(datetime.now(UTC), state.boot_time + timedelta(seconds=1)))

    def set_feature(self, name: str, state: str) -> None:
        """Drift: put a feature in a state directly (``Absent`` removes it, as on a SKU without it)."""
        if state not in FEATURE_STATES:
            raise ValueError(f"feature state must be one of {', '.join(FEATURE_STATES)}, not {state!r}")
        with self._lock:
            if state == "Absent":
                self._state.features.pop(name, None)
            else:
                self._state.features[name] = state

    def set_daemon_key(self, key: str, value_json_text: str, path: str = DAEMON_JSON) -> None:
        """Drift: set one daemon.json key to a JSON value, as an admin's edit would (the running
        daemon does not notice until it restarts)."""
        value = json.loads(value_json_text)
        with self._lock:
            current = self._state.files.get(_key(path))
            settings = json.loads(current[1].decode("utf-8-sig")) if current and current[1].strip() else {}
            if not isinstance(settings, dict):
                raise ValueError(f"{path} does not hold a JSON object")
            settings[key] = value
            self._write_file(path, canonical_daemon_json(settings).encode("utf-8"))

    def stop_service(self, name: str) -> None:
        """Drift: stop a service (Stop-Service); its start type stays."""
        with self._lock:
            service = self._state.services.get(name.lower())
            if service is None:
                raise KeyError(f"{self.name} has no service {name!r}")
            service.status = "Stopped"

    # -- building converged hosts (profiles.py) ------------------------------------------------

    def converge(
        self,
        *,
        features: Sequence[str],
        engine_version: str | None,
        daemon: Mapping[str, Any] | None,
        install_dir: str = r"C:\Program Files\docker",
        service: str = "docker",
    ) -> None:
        """Bring the host to the state a successful apply leaves, by running the blocks' own
        handlers: enable ``features`` (DISM names), boot, install the engine from the catalog,
        write daemon.json. Raises ValueError where an apply would fail on this host."""
        with self._lock:
            try:
                for name in features:
                    self._feature(FeatureParams(name=name, method="dism"), _Outcome())
                self._boot(self._state.boot_time)  # the boot id stays: the host booted this way
                if engine_version is not None:
                    self._engine(
                        EngineParams(
                            version=engine_version,
                            url=engine_url(engine_version),
                            sha256=engine_sha256(engine_version),
                            install_dir=install_dir,
                            service=service,
                        ),
                        _Outcome(),
                    )
                if daemon is not None:
                    content = canonical_daemon_json(daemon)
                    self._daemon(
                        DaemonParams(
                            path=DAEMON_JSON,
                            content=content,
                            sha256=hashlib.sha256(content.encode()).hexdigest(),
                            service=service,
                            dockerd=_join(install_dir, "dockerd.exe"),
                            validate_config=engine_version is not None,
                        ),
                        _Outcome(),
                    )
            except _Failure as failure:
                reason = self._state.service_log[-1] if self._state.service_log else failure.message
                raise ValueError(f"{self.name} cannot be converged: {reason}") from None

    # -- reboots -------------------------------------------------------------------------------

    def _settle(self) -> bool:
        """Finish a restart whose downtime has passed; True when the host answers."""
        if self._down_at is None:
            return True
        now = self._clock()
        if now < self._down_at:
            return True
        if self.faults.reboot_never_returns or self._up_at is None or now < self._up_at:
            return False
        elapsed = timedelta(seconds=self._up_at - self._down_at)
        self._down_at = self._up_at = None
        self._boot(max(datetime.now(UTC), self._state.boot_time + elapsed + timedelta(seconds=1)))
        return True

    def _boot(self, moment: datetime) -> None:
        """The way up: pending features settle, the hypervisor starts if it can, services start.

        A Microsoft-Hyper-V left EnablePending on a machine that cannot run a hypervisor (only
        drift puts it there: the blocks refuse to enable it) falls back to Disabled, the lab's
        reading of "the install fails outright" (wf §2).
        """
        s = self._state
        for name, state in list(s.features.items()):
            if state == "EnablePending":
                s.features[name] = "Disabled" if name == HYPER_V and not s.hardware.can_run_hypervisor else "Enabled"
            elif state == "DisablePending":
                s.features[name] = "Disabled"
        s.pending_reasons.clear()
        s.boot_time = moment
        s.hypervisor_running = s.features.get(HYPER_V) == "Enabled" and s.hardware.can_run_hypervisor
        self.counters["boots"] += 1
        for service in s.services.values():
            service.status = "Stopped"
            if service.start_type == "Automatic":
                reason = self._start_error(service)
                if reason is None:
                    service.status = "Running"
                else:
                    s.service_log.append(f"{service.name}: {reason}")
        from provision_lab.desktop import on_boot

        on_boot(self)  # sessions end, Docker Desktop's service, WSL 2's hypervisor (lab/desktop.py)

    def _schedule_restart(self) -> None:
        seconds = self.faults.reboot_seconds if self.faults.reboot_seconds is not None else self.reboot_seconds
        self._down_at = self._clock() + self.shutdown_delay + self.faults.latency_ms / 1000
        self._up_at = self._down_at + seconds
        self.counters["reboots"] += 1

    # -- blocks --------------------------------------------------------------------------------

    def _run_block(self, block: Block, results: dict[str, tuple[bool, bool]]) -> str:
        """One block, as block.ps1.j2 runs it: the skip test, then the body in try/catch."""
        self.counters["blocks"] += 1
        self.counters[f"block.{block.type}"] += 1
        if block.problem is not None:
            # A lab check, not a Windows behaviour: the lab runs the marker's params, so it refuses
            # a block whose PowerShell would see other values (DESIGN 4.1).
            return self._record(
                results,
                block.id,
                ok=False,
                error=_Failure(block.problem, "InvalidData", "System.IO.InvalidDataException"),
            )
        for required in block.requires:
            # Test-ProvisionSkip (prelude.ps1.j2): a missing or failed block skips this one with an
            # ErrorRecord(InvalidOperationException, 'Skipped', NotSpecified); a pending reboot
            # skips it with ok true.
            found = results.get(required)
            if found is None or not found[0]:
                reason = f"required block {required} did not succeed"
                return self._record(
                    results,
                    block.id,
                    ok=False,
                    skipped=reason,
                    error=_Failure(reason, "NotSpecified", "System.InvalidOperationException"),
                )
            if found[1]:
                return self._record(results, block.id, ok=True, skipped=f"waiting for the reboot that {required} needs")
        handler = _HANDLERS.get((block.type, block.action))
        model = _PARAMS.get((block.type, block.action))
        if handler is None or model is None:
            return self._record(
                results,
                block.id,
                ok=False,
                error=_Failure(
                    f"the lab has no model of block type {block.type!r} with action {block.action!r}",
                    "NotImplemented",
                    "System.NotImplementedException",
                ),
            )
        outcome = _Outcome()
        try:
            params = model.model_validate(dict(block.params))
        except ValidationError as error:
            return self._record(
                results,
                block.id,
                ok=False,
                data={},
                error=_Failure(
                    f"block params do not fit {model.__name__}: {error.errors()[0]['msg']} at "
                    f"{'.'.join(str(p) for p in error.errors()[0]['loc'])}",
                    "InvalidArgument",
                    "System.ArgumentException",
                ),
            )
        try:
            handler(self, params, outcome)
        except _Failure as failure:
            return self._record(results, block.id, ok=False, data=outcome.data, error=failure)
        return self._record(
            results,
            block.id,
            ok=True,
            changed=outcome.changed,
            reboot_required=outcome.reboot_required,
            data=outcome.data,
        )

    def _record(
        self,
        results: dict[str, tuple[bool, bool]],
        block_id: str,
        *,
        ok: bool,
        changed: bool = False,
        reboot_required: bool = False,
        data: dict[str, Any] | None = None,
        error: _Failure | None = None,
        skipped: str = "",
    ) -> str:
        """Write-ProvisionRecord (prelude.ps1.j2): the same keys, in the same order."""
        record: dict[str, Any] = {
            "id": block_id,
            "ok": ok,
            "changed": changed,
            "reboot_required": reboot_required,
            "data": data,
            "error": None
            if error is None
            else {"message": error.message, "category": error.category, "exception": error.exception},
        }
        if skipped:
            record["skipped"] = skipped
        results[block_id] = (ok, reboot_required)
        self.counters["records.failed" if not ok else "records.ok"] += 1
        return RECORD_PREFIX + _ps_json(record)

    # facts / get -------------------------------------------------------------------------------

    def _facts(self, p: FactsParams, out: _Outcome) -> None:
        """facts.ps1.j2: data per DESIGN 4.2 and facts.py, readings as Windows gives them."""
        s, hw = self._state, self._state.hardware
        out.data["os"] = dict(vars(s.os))
        hidden = s.hypervisor_running
        out.data["hardware"] = {
            "memory_gb": hw.memory_gb,
            "logical_processors": hw.logical_processors,
            # Once a hypervisor runs, VirtualizationFirmwareEnabled reads False and systeminfo hides
            # every Hyper-V requirement (wf §2: Windows-Sandbox issue #15; anthropics/claude-code
            # issue #25034); the lab hides VMX and SLAT the same way (UNCONFIRMED in the research).
            "vt_firmware_enabled": hw.vt_firmware_enabled and not hidden,
            "vm_monitor_mode_extensions": hw.vm_monitor_mode_extensions and not hidden,
            "slat": hw.slat and not hidden,
            # "If True, a hypervisor is present" [W32-CS]: a guest always runs on one, so a VM reads
            # True even without Hyper-V of its own (systeminfo in a VM: "A hypervisor has been detected").
            "hypervisor_present": hidden or hw.is_vm,
            "is_vm": hw.is_vm,
            "vm_platform": hw.vm_platform,
        }
        # An unknown feature name means Absent (facts.ps1.j2).
        out.data["features"] = {name: s.features.get(name, "Absent") for name in p.features}
        out.data["reboot"] = {
            "pending": bool(s.pending_reasons),
            "reasons": list(s.pending_reasons),
            "boot_id": _boot_id(s.boot_time),
        }
        engine: dict[str, Any] = {
            "installed": False,
            "version": None,
            "path": None,
            "service": {"exists": False, "status": None, "start_type": None},
        }
        found = s.engines.get(_key(p.engine_dir))
        if found is not None:
            engine.update(installed=True, path=_join(p.engine_dir, "dockerd.exe"), version=found[1])
        for name in p.services:
            service = s.services.get(name.lower())
            if service is not None:
                engine["service"] = {"exists": True, "status": service.status, "start_type": service.start_type}
        out.data["engine"] = engine
        files: dict[str, Any] = {}
        for path in p.files:
            entry: dict[str, Any] = {"exists": False, "sha256": None, "content": None}
            stored = s.files.get(_key(path))
            if stored is not None:
                raw = stored[1]
                entry.update(exists=True, sha256=hashlib.sha256(raw).hexdigest())
                if len(raw) <= 65536:
                    entry["content"] = _read_all_text(raw)
            files[path] = entry
        out.data["files"] = files
        if p.desktop is not None:
            from provision_lab.desktop import facts as desktop_facts

            out.data["desktop"] = desktop_facts(self, p.desktop)

    # diagnostics / get (provision doctor) ----------------------------------------------------

    def _diagnostics(self, p: DiagnosticsParams, out: _Outcome) -> None:
        """diagnostics.ps1.j2: the marker back, $PSVersionTable, the administrator check and the WSMan
        limits, with the readings of this host's profile and faults."""
        s, faults = self._state, self.faults
        out.data["echo"] = p.echo
        if "powershell" in p.read:
            out.data["powershell"] = {"version": _ps_version(s.os), "edition": "Desktop"}
        if "admin" in p.read:
            out.data["admin"] = {"is_admin": not faults.not_admin}
        if "winrm_limits" in p.read:
            limits: dict[str, Any] = {key: None for key in WINRM_DEFAULTS}
            if faults.not_admin:
                # Reading the WSMan: drive needs an administrator: "Access is denied." (the lab's
                # reading of the WSMan provider's refusal; the exact text is UNCONFIRMED).
                limits["error"] = "Access is denied."
            else:
                for key, default in WINRM_DEFAULTS.items():
                    value = getattr(faults, key)
                    limits[key] = int(value) if value is not None else default
                limits["error"] = None
            out.data["winrm_limits"] = limits

    # windows_feature / set ---------------------------------------------------------------------

    def _feature(self, p: FeatureParams, out: _Outcome) -> None:
        """windows_feature.ps1.j2: Install-WindowsFeature (server) or Enable-WindowsOptionalFeature (dism)."""
        s = self._state
        state = s.features.get(p.name)
        if state is None:
            # DISM's answer for a feature the SKU lacks (Home has no Hyper-V or Containers): "Feature
            # name Microsoft-Hyper-V is unknown.", a COMException (Virtualization-Documentation
            # issues #1609, #1528). Get-WindowsOptionalFeature, the block's first call, asks DISM too.
            raise _Failure(
                f"Feature name {p.name} is unknown.", "NotSpecified", "System.Runtime.InteropServices.COMException"
            )
        out.data["before"] = state
        if state == "EnablePending":
            out.reboot_required = True
        elif state != "Enabled":
            if p.method == "server":
                self._install_windows_feature(p)
            elif p.name == HYPER_V and not s.hardware.can_run_hypervisor:
                # Enable-WindowsOptionalFeature works in a VM that exposes virtualization (wf §2:
                # Virtualization-Documentation issue #1975), but "without ExposeVirtualizationExtensions
                # the install fails outright" (wf §2: AzureStackHCI-EvalGuide issue #56), and Hyper-V
                # cannot be installed with VT off in firmware [MS-HV-REQ]. DISM's own wording was not
                # found: the lab reuses the prerequisite text, as a DISM COMException.
                raise _Failure(_HYPER_V_PREREQUISITE, "NotSpecified", "System.Runtime.InteropServices.COMException")
            s.features[p.name] = "EnablePending"
            if "ComponentBasedServicing" not in s.pending_reasons:
                s.pending_reasons.append("ComponentBasedServicing")
            out.changed = True
            out.reboot_required = True  # RestartNeeded Yes / True for both features (wf §3)
        out.data["after"] = s.features[p.name]

    def _install_windows_feature(self, p: FeatureParams) -> None:
        """Install-WindowsFeature's failures on this host, raised as its error record."""
        s = self._state
        if s.os.product_type == 1:
            # Client SKUs have no Server Manager cmdlets: the MS script's Test-Client relies on it (wf §3).
            raise _not_recognized("Install-WindowsFeature")
        roles = {"Containers": CONTAINERS, "Hyper-V": HYPER_V}
        if roles.get(p.role or "") != p.name:
            # Text of the cmdlet for an unknown name, from memory (not in the research): UNCONFIRMED.
            raise _Failure(
                f"ArgumentNotValid: The role, role service, or feature name is not valid: '{p.role}'. "
                "The name was not found.",
                "InvalidArgument",
                "System.Exception",
            )
        if p.name == HYPER_V and (s.hardware.is_vm or not s.hardware.can_run_hypervisor):
            # Fails inside VMs even with nested virtualization exposed, and without VT (wf §2, §7.2:
            # Virtualization-Documentation issue #1975; azure-stack-docs issue #1892;
            # AzureStackHCI-EvalGuide issue #56). Success False, RestartNeeded Maybe, ExitCode Failed.
            raise _Failure(_HYPER_V_PREREQUISITE, "InvalidOperation", "System.Exception")

    # container_engine / set ------------------------------------------------------------------

    def _engine(self, p: EngineParams, out: _Outcome) -> None:
        """container_engine.ps1.j2: download, verify, replace, PATH, register, start."""
        s = self._state
        found = s.engines.get(_key(p.install_dir))
        installed = found[1] if found else None
        out.data["before"] = installed
        if installed != p.version:
            version = _CATALOG.get(p.url)
            if version is None or self.faults.download_failure:
                # Invoke-WebRequest on Windows PowerShell 5.1: a WebException with the HTTP status.
                raise _Failure(
                    "The remote server returned an error: (404) Not Found.",
                    "InvalidOperation",
                    "System.Net.WebException",
                )
            actual = engine_sha256(version)
            if actual != p.sha256:
                raise _throw(f"SHA-256 mismatch for {p.url}: expected {p.sha256}, got {actual}; nothing was installed")
            service = s.services.get(p.service.lower())
            if service is not None and service.status != "Stopped":
                service.status = "Stopped"
            s.engines[_key(p.install_dir)] = (p.install_dir, version)
            out.changed = True
        if not any(entry.lower() == p.install_dir.lower() for entry in s.machine_path):  # -notcontains ignores case
            s.machine_path.append(p.install_dir)
            out.changed = True
        service = s.services.get(p.service.lower())
        if service is None:
            # dockerd --register-service: StartAutomatic, Stopped; it only warns about the system
            # check (wf §4.3 [MOBY service_windows.go]).
            service = ServiceState(p.service, "Stopped", "Automatic", p.install_dir)
            s.services[p.service.lower()] = service
            out.changed = True
        if service.start_type != "Automatic":
            service.start_type = "Automatic"
            out.changed = True
        if service.status != "Running":
            self._start_service(service)
            out.changed = True
        out.data["after"] = p.version
        out.data["service"] = service.status

    def _start_error(self, service: ServiceState) -> str | None:
        """Why dockerd, started as ``service``, exits instead of running; None when it runs.

        In dockerd's order: the configuration file first [MOBY daemon/command/daemon.go], then the
        system check [MOBY daemon_windows.go checkSystem]: build >= 17763 for Engine >= 23.0, and
        vmcompute.dll, which only the Containers feature provides (wf §2, texts from moby's code).
        """
        s = self._state
        found = s.engines.get(_key(service.install_dir))
        if found is None:
            return f"The system cannot find the file specified: {_join(service.install_dir, 'dockerd.exe')}"
        version = found[1]
        stored = s.files.get(_key(DAEMON_JSON))
        if stored is not None:
            reason = _daemon_config_error(stored[1], stored[0], version)
            if reason:
                return reason
        if _major_minor(version) >= (23, 0) and s.os.build < 17763:
            return (
                "this version of Windows does not support the docker daemon (Windows build 17763 or higher is required)"
            )
        if s.features.get(CONTAINERS) != "Enabled":
            return "failed to load vmcompute.dll, ensure that the Containers feature is installed"
        if stored is not None:
            return _isolation_option_error(stored[1])
        return None

    def _start_service(self, service: ServiceState) -> None:
        """Start-Service: Running, or Stopped with the reason logged and StartServiceFailed raised."""
        reason = self._start_error(service)
        if reason is not None:
            service.status = "Stopped"
            self._state.service_log.append(f"{service.name}: {reason}")
            raise _start_failed(service.name)
        service.status = "Running"

    def _write_file(self, path: str, raw: bytes) -> None:
        self._state.files[_key(path)] = (path, raw)

    # daemon_config / set ---------------------------------------------------------------------

    def _daemon(self, p: DaemonParams, out: _Outcome) -> None:
        """daemon_config.ps1.j2: stage, validate (Engine >= 23), back up, move, restart."""
        s = self._state
        stored = s.files.get(_key(p.path))
        current = hashlib.sha256(stored[1]).hexdigest() if stored else None
        out.data["before_sha256"] = current
        if current != p.sha256:
            staged = p.path + ".provision-new"
            content = p.content.encode("utf-8")  # WriteAllText with UTF8Encoding($false): no BOM
            self._write_file(staged, content)
            if p.validate_config:
                engine = s.engines.get(_key(_parent(p.dockerd)))
                if engine is None:
                    raise _not_recognized(p.dockerd)  # the staged file stays behind, as in the template
                # dockerd --validate: "configuration OK" or the error, exit 1 (wf §5 [CLI-DOCKERD]).
                reason = _daemon_config_error(content, staged, engine[1])
                if reason:
                    del s.files[_key(staged)]
                    raise _throw(f"dockerd --validate refused the new daemon.json: {reason}")
            if stored is not None:
                self._write_file(p.path + ".provision-backup", stored[1])
            del s.files[_key(staged)]
            self._write_file(p.path, content)
            out.changed = True
            service = s.services.get(p.service.lower())
            if service is not None:
                service.status = "Stopped"  # Restart-Service: stop, then start
                self._start_service(service)
                out.data["restarted"] = True
        out.data["after_sha256"] = p.sha256

    # container_verify / test -----------------------------------------------------------------

    def _verify(self, p: VerifyParams, out: _Outcome) -> None:
        """container_verify.ps1.j2: ``docker run --rm --isolation=<iso> <image> <command>``.

        The record's error is the template's: known docker texts become the template's fix
        hints, anything else "verify container failed (exit N): <output>"; data.output keeps
        docker's own text.
        """
        s = self._state
        client = s.engines.get(_key(_parent(p.docker)))
        if client is None:
            raise _not_recognized(p.docker)
        exit_code, lines = self._docker_run(p, client[1])
        output = "\n".join(lines)  # each output line as a string, joined with "`n" (the template)
        out.data["exit_code"] = exit_code
        out.data["output"] = output.strip()
        if exit_code != 0 or (p.expect is not None and p.expect not in output):
            # The template's -match tests, which ignore case.
            if re.search("no matching manifest", output, re.IGNORECASE):
                raise _throw(
                    f"docker cannot pull {p.image}: it targets a newer Windows build than this host; use a "
                    "tag for this build (see compat rules)"
                )
            if re.search(r"does not match the( host)? operating system|0xc0370101", output, re.IGNORECASE):
                raise _throw(
                    f"{p.image} does not match this host's build for {p.isolation} isolation; use "
                    "--isolation=hyperv or an image of the host's build"
                )
            if re.search("No hypervisor is present", output, re.IGNORECASE):
                raise _throw(
                    "Hyper-V isolation needs a running hypervisor: enable the Hyper-V feature (and nested "
                    "virtualization in a VM)"
                )
            raise _throw(f"verify container failed (exit {exit_code}): {output.strip()}")

    def _docker_run(self, p: VerifyParams, client_version: str) -> tuple[int, list[str]]:
        """What ``docker run`` prints (stdout and stderr together, as 2>&1 gives them) and its exit code.

        CLI errors are printed as "docker: <error>." plus "See 'docker run --help'." when the
        container could not be created (docker/cli cli/command/container/run.go reportError);
        daemon errors exit 125 there.
        """
        s = self._state
        lines: list[str] = []

        def fail(error: str, *, usage: bool = True) -> tuple[int, list[str]]:
            # reportError: one final period, and the usage hint when the container was not created.
            text = "docker: " + error.removesuffix(".") + "."
            return 125, [*lines, text, *(["See 'docker run --help'."] if usage else [])]

        if not any(svc.status == "Running" for svc in s.services.values()):
            # No daemon on the named pipe: the client's text when run elevated (moby client
            # request.go; seen as `error during connect: this error may indicate that the docker
            # daemon is not running: Get "http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/...": open
            # //./pipe/docker_engine: The system cannot find the file specified.`). Clients before
            # 28 fall back to API 1.24 when the version ping fails, later ones keep their own (both
            # forms are in public output; the exact cut-over version is a guess).
            api = _API_VERSIONS.get(".".join(client_version.split(".")[:2]), "1.24")
            return fail(
                "error during connect: this error may indicate that the docker daemon is not running: Post "
                f'"http://%2F%2F.%2Fpipe%2Fdocker_engine/v{api}/containers/create": open '
                "//./pipe/docker_engine: The system cannot find the file specified."
            )
        host_build = s.os.build
        image = p.image
        pulled = s.images.get(image)
        if pulled is None:
            builds = _image_builds(image)
            repo, tag = _split_reference(image)
            lines.append(f"Unable to find image '{repo}:{tag}' locally")
            if builds is None:
                return fail(
                    f"Error response from daemon: manifest for {image} not found: manifest unknown: manifest unknown"
                )
            # moby keeps manifest entries no newer than the host, prefers the host's own build, then
            # list order; none left -> "no matching manifest" (wf §1.3 [MOBY pull_v2_windows.go]).
            usable = [b for b in builds if b <= host_build]
            if not usable:
                return fail(f"no matching manifest for windows/amd64 10.0.{host_build} in the manifest list entries")
            pulled = host_build if host_build in usable else usable[0]
            path = repo.split("/", 1)[1] if "." in repo.split("/")[0] else (repo if "/" in repo else f"library/{repo}")
            digest = hashlib.sha256(f"{image}@{pulled}".encode()).hexdigest()
            lines += [
                f"{tag}: Pulling from {path}",
                f"{digest[:12]}: Pull complete",
                f"Digest: sha256:{digest}",
                f"Status: Downloaded newer image for {repo}:{tag}",
            ]
            s.images[image] = pulled
        self._containers += 1
        container = hashlib.sha256(f"{self.name}/{self._containers}".encode()).hexdigest()
        if p.isolation == "process" and not _process_isolation_allowed(host_build, s.os.product_type == 1, pulled):
            # HCS refuses mismatched builds (wf §6: "hcs::CreateComputeSystem <id>: The container
            # operating system does not match the host operating system.", game-ci/docker issue #213).
            return fail(
                f"Error response from daemon: hcs::CreateComputeSystem {container}: The container operating "
                "system does not match the host operating system.",
                usage=False,
            )
        if p.isolation == "hyperv" and not s.hypervisor_running:
            # wf §1.3 (moby/moby issue #27198; docker/for-win issue #1477) gives the system-call text;
            # the hcs:: prefix is the current one (see above). The combination is the lab's.
            return fail(
                f"Error response from daemon: hcs::CreateComputeSystem {container}: No hypervisor is present "
                "on this system. (0xc0351000)",
                usage=False,
            )
        command = [part.lower() for part in p.command[:3]]
        if command[:2] in (["cmd", "/c"], ["cmd.exe", "/c"]) and command[2:] == ["echo"]:
            return 0, lines + [" ".join(p.command[3:])]
        raise _Failure(
            f"the lab models only `cmd /c echo ...` in containers, not {' '.join(p.command)!r}",
            "NotImplemented",
            "System.NotImplementedException",
        )

    # reboot / restart ------------------------------------------------------------------------

    def _reboot(self, p: RebootParams, out: _Outcome) -> None:
        """reboot.ps1.j2: the record goes out, then the host goes down (DESIGN 4.4)."""
        out.data["boot_id"] = _boot_id(self._state.boot_time)
        out.data["reason"] = p.reason
        out.changed = True
        self._schedule_restart()


def _read_all_text(raw: bytes) -> str:
    """[System.IO.File]::ReadAllText: UTF-8 unless a BOM says UTF-8 or UTF-16; the BOM is dropped."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


_HANDLERS: dict[tuple[str, str], Callable[[LabHostModel, Any, _Outcome], None]] = {
    ("facts", "get"): LabHostModel._facts,
    ("diagnostics", "get"): LabHostModel._diagnostics,
    ("windows_feature", "set"): LabHostModel._feature,
    ("container_engine", "set"): LabHostModel._engine,
    ("daemon_config", "set"): LabHostModel._daemon,
    ("container_verify", "test"): LabHostModel._verify,
    ("reboot", "restart"): LabHostModel._reboot,
}

# Docker Desktop's blocks (docker_desktop, docker_users, desktop_config, desktop_verify, wsl_package) register
# themselves in _PARAMS and _HANDLERS when lab/desktop.py is imported, which needs everything above.
import provision_lab.desktop  # noqa: E402,F401
