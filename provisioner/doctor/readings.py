"""The ``roundtrip``, ``powershell``, ``admin`` and ``limits`` steps: the diagnostics block and what it reads."""

from __future__ import annotations

import re
import secrets
import time
from typing import Literal

from provisioner.doctor import fixes
from provisioner.doctor.auth import AuthSteps
from provisioner.doctor.needs import REQUIRED_ENVELOPE_KB, REQUIRED_MEMORY_PER_SHELL_MB, REQUIRED_SHELLS_PER_USER
from provisioner.doctor.results import Step, Stop
from provisioner.protocol.blocks import DiagnosticsParams
from provisioner.protocol.bootstrap import language_refusal
from provisioner.protocol.records import decode_clixml, parse_output
from provisioner.transport import ScriptResult, TransportError
from provisioner.transport.winrm import CHUNK_BYTES

__all__ = ["ReadingSteps"]

_MIN_POWERSHELL = (5, 1)
"""The templates target Windows PowerShell 5.1 (DESIGN 5; Ansible setup: "PowerShell 5.1 or newer")."""


class ReadingSteps(AuthSteps):
    """The ``roundtrip``, ``powershell``, ``admin`` and ``limits`` steps: the diagnostics block and what it reads."""

    def _run_block(self, step: str, params: DiagnosticsParams) -> tuple[dict[str, object], float]:
        """Run one diagnostics block; its record's data and the seconds it took, or Stop."""
        assert self.connection is not None
        renderer = self.renderer
        script = renderer.script(self.name, "doctor", [renderer.block("doctor", "diagnostics", "get", params)])
        started = time.monotonic()
        try:
            result = self.connection.run(script, timeout=self.timeout)
        except TransportError as exc:
            raise Stop(Step(step, False, exc.cause, fixes.transport(exc, self.port))) from None
        seconds = time.monotonic() - started
        refusal = language_refusal(result.exit_code, result.stdout)
        if refusal is not None:
            raise Stop(Step(step, False, refusal, fixes.LANGUAGE_MODE))
        record = parse_output(result.stdout).records.get("doctor")
        if record is None or result.exit_code != 0:
            raise Stop(_script_failure(step, result))
        if not record.ok:
            raise Stop(
                Step(
                    step,
                    False,
                    f"the diagnostics block failed on the host: {record.message}",
                    fixes.BLOCK_FAILED,
                )
            )
        data = record.data if isinstance(record.data, dict) else {}
        if data.get("echo") != params.echo:
            raise Stop(
                Step(
                    step,
                    False,
                    f"the marker came back altered: sent {params.echo!r}, got {data.get('echo')!r}",
                    fixes.ENCODING,
                )
            )
        return data, seconds

    def roundtrip(self) -> str:
        # Non-ASCII in the marker: a code page that is not UTF-8 on either side alters it.
        marker = f"provision-doctor {secrets.token_hex(6)} \u00e9\u20ac\u2713"
        _, seconds = self._run_block("roundtrip", DiagnosticsParams(echo=marker))
        return f"a marker script came back intact through powershell.exe in {seconds:.2f} s"

    def _readings(self) -> dict[str, object]:
        if not self.diagnostics:
            read: list[Literal["powershell", "admin", "winrm_limits"]] = ["powershell", "admin"]
            if self.settings.connection == "winrm":
                read.append("winrm_limits")
            self.diagnostics, _ = self._run_block("powershell", DiagnosticsParams(echo="readings", read=read))
        return self.diagnostics

    def powershell(self) -> str:
        data = self._readings().get("powershell")
        found = data if isinstance(data, dict) else {}
        version, edition = str(found.get("version") or ""), str(found.get("edition") or "Desktop")
        numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
        if len(numbers) < 2:
            raise Stop(
                Step(
                    "powershell",
                    False,
                    f"could not read $PSVersionTable.PSVersion (got {version!r})",
                    fixes.REPORT,
                )
            )
        if numbers < _MIN_POWERSHELL:
            # Ansible setup, "Upgrading PowerShell and .NET Framework": WMF 5.1 brings PowerShell 5.1.
            raise Stop(
                Step(
                    "powershell",
                    False,
                    f"Windows PowerShell {version} is older than 5.1, which the scripts are written for",
                    fixes.WMF,
                )
            )
        return f"Windows PowerShell {version} ({edition} edition)"

    def admin(self) -> str:
        data = self._readings().get("admin")
        if isinstance(data, dict) and data.get("is_admin") is True:
            return f"{self.settings.user!r} runs with an administrator token"
        user = self.settings.user or "<user>"
        account = user.rpartition("\\")[2]
        raise Stop(
            Step(
                "admin",
                False,
                f"{user!r} does not run as an administrator on the host "
                "(WindowsPrincipal.IsInRole(Administrator) is false): enabling features, "
                "installing the engine and writing daemon.json need it",
                fixes.administrator(account=account),
            )
        )

    def limits(self) -> str:
        data = self._readings().get("winrm_limits")
        found = data if isinstance(data, dict) else {}
        if found.get("error"):
            raise Stop(
                Step(
                    "limits",
                    False,
                    f"could not read the WSMan: drive: {found['error']}",
                    fixes.ADMIN_READ,
                )
            )
        # (name, data key, needed, Windows' default, path on the WSMan: drive, winrm.cmd path, why needed)
        checks = (
            # MaxEnvelopeSizekb: default "SHOULD be 500 but MAY be 150", minimum 32 (MS-WSMV 2.2.4.10,
            # learn.microsoft.com/openspecs/windows_protocols/ms-wsmv/932240de-3943-4ed3-a162-8b3c4de5a286).
            (
                "MaxEnvelopeSizekb",
                "max_envelope_size_kb",
                REQUIRED_ENVELOPE_KB,
                500,
                "WSMan:\\localhost\\MaxEnvelopeSizekb",
                "winrm/config",
                f"provision sends up to {CHUNK_BYTES // 1024} KiB of script per message",
            ),
            # Winrs quotas under WSMan:\localhost\Shell (Ansible setup, "WinRM Service Options"); defaults
            # 1024 MB and 30 shells (learn.microsoft.com/windows/win32/winrm/quotas).
            (
                "MaxMemoryPerShellMB",
                "max_memory_per_shell_mb",
                REQUIRED_MEMORY_PER_SHELL_MB,
                1024,
                "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB",
                "winrm/config/winrs",
                "the script, the engine download and docker share it",
            ),
            (
                "MaxShellsPerUser",
                "max_shells_per_user",
                REQUIRED_SHELLS_PER_USER,
                30,
                "WSMan:\\localhost\\Shell\\MaxShellsPerUser",
                "winrm/config/winrs",
                "a run opens a new shell after each reboot or fault",
            ),
        )
        readings: list[str] = []
        problems: list[tuple[str, str]] = []
        for name, key, needed, default, path, winrm_path, why in checks:
            value = found.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append((f"{name} could not be read (got {value!r})", fixes.REPORT))
                continue
            # 0 means no limit for the memory quota (Group Policy "Specify maximum amount of memory in
            # MB per Shell", WindowsRemoteShell.admx).
            unlimited = key == "max_memory_per_shell_mb" and value == 0
            readings.append(f"{name} {'unlimited' if unlimited else value} (needs {needed})")
            if value < needed and not unlimited:
                # Back to Windows' default where that is enough, else to what provision needs.
                wanted = max(needed, default)
                fix = fixes.limit(name, path, winrm_path, wanted)
                problems.append((f"{name} is {value}, below the {needed} provision needs ({why})", fix))
        if problems:
            raise Stop(Step("limits", False, "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems)))
        return ", ".join(readings)


def _script_failure(step: str, result: ScriptResult) -> Step:
    """Why a script produced no record: what powershell.exe (or cmd.exe before it) said."""
    stderr = decode_clixml(result.stderr).strip()
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
    if "is not recognized as an internal or external command" in stderr:
        return Step(
            step,
            False,
            f"the host could not start powershell.exe: {first}",
            fixes.POWERSHELL_PATH,
        )
    if "ParserError" in stderr or "ParseException" in stderr or "At line:" in stderr:
        return Step(
            step,
            False,
            f"PowerShell could not parse the script: {first}",
            fixes.PARSE,
        )
    if result.exit_code != 0:
        return Step(
            step,
            False,
            f"powershell.exe exited with {result.exit_code}" + (f": {first}" if first else ""),
            fixes.EXITED,
        )
    shown = result.stdout.strip()[:120]
    return Step(
        step,
        False,
        f"the script ran but printed no record (stdout: {shown!r})",
        fixes.PRINTS_INSTEAD,
    )
