"""Real scripts on faulted machines: the product's golden scripts (read as files; the lab imports
nothing of the product) run through powershell.exe on a lab host, and Windows' failures show."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from provision_lab.api import Faults
from provision_lab.profiles import make_host
from provision_lab.windows.host import WindowsHost

GOLDEN = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "golden"
BOOTSTRAP = (
    # The controller's stdin bootstrap as pywinrm sends it (DESIGN 4.8): the script comes on stdin.
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), "
    "(New-Object System.Text.UTF8Encoding $false); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
COMMAND = "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
    BOOTSTRAP.encode("utf-16-le")
).decode("ascii")


def records(host: WindowsHost, golden: str) -> dict[str, Any]:
    """Run a golden script; its records by id."""
    result = host.run_command(COMMAND, (GOLDEN / golden).read_text(encoding="utf-8"))
    found = [
        json.loads(line.removeprefix("@@provision "))
        for line in result.stdout.splitlines()
        if line.startswith("@@provision ")
    ]
    return {record["id"]: record for record in found}


def test_facts_of_a_fresh_server_come_from_the_machine() -> None:
    facts = records(make_host("server2022", "lab-0001", "127.77.0.1"), "server2022/facts.ps1")["facts"]
    assert facts["ok"] is True
    data = facts["data"]
    assert data["os"]["build"] == 20348 and data["os"]["display_version"] == "21H2"
    assert data["features"] == {"Containers": "Disabled", "Microsoft-Hyper-V": "Disabled"}
    assert data["hardware"]["is_vm"] is False and data["reboot"]["pending"] is False


def test_the_script_alone_decides_what_a_machine_is() -> None:
    """The lab states nothing: "Amazon EC2" is a VM because the facts template's table names it, an
    unlisted hypervisor because HypervisorPresent reads True with neither Hyper-V nor VBS running, and a
    physical server running VBS is physical (windows-audit.md F5)."""

    def hardware(profile: str) -> dict[str, object]:
        found = records(make_host(profile, "lab-0001", "127.77.0.1"), "server2022/facts.ps1")["facts"]["data"]
        return dict(found["hardware"])

    ec2 = hardware("ec2-nitro")
    assert ec2["is_vm"] is True and ec2["vm_platform"] == "Amazon EC2" and ec2["hypervisor_present"] is True
    assert hardware("unlisted-hypervisor-nested")["vm_platform"] == "unknown"
    vbs = hardware("server2022-vbs")
    assert vbs["is_vm"] is False and vbs["hypervisor_present"] is True
    assert hardware("vm-nested")["vm_platform"] == "Hyper-V"
    assert hardware("server2022")["hypervisor_launch_failed"] is False


def test_a_pending_restart_makes_install_windowsfeature_refuse() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(restart_pending=True))
    assert records(host, "server2022/facts.ps1")["facts"]["data"]["reboot"]["reasons"] == ["ComponentBasedServicing"]
    refused = host.machine.features["Containers"]
    # The template reads the FailedRestartRequired result and asks for the restart first (F2).
    feature = records(host, "server2022/apply.ps1")["feature/Containers"]
    assert feature["ok"] is True and feature["reboot_required"] is True
    assert host.machine.features["Containers"] == refused == "Disabled"
    host.machine.boot(host.machine.boot_time)
    assert records(host, "server2022/apply.ps1")["feature/Containers"]["data"]["after"] == "EnablePending"


def test_not_admin_fails_where_windows_needs_elevation() -> None:
    """DISM needs elevation: the facts block says so (windows-audit.md F7), and Install-WindowsFeature refuses."""
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(not_admin=True))
    facts = records(host, "server2022/facts.ps1")["facts"]
    assert facts["ok"] is False and facts["error"]["message"].startswith("not elevated: ")
    assert "The requested operation requires elevation." in facts["error"]["message"]
    feature = records(host, "server2022/apply.ps1")["feature/Containers"]
    assert feature["ok"] is False and "requires elevation" in feature["error"]["message"]


def test_constrained_language_stops_the_bootstrap_before_any_record() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(constrained_language=True))
    result = host.run_command(COMMAND, (GOLDEN / "server2022" / "facts.ps1").read_text(encoding="utf-8"))
    assert result.exit_code != 0 and "@@provision" not in result.stdout
    assert "language mode" in result.stderr


def test_boot_time_jitters_by_a_second_between_processes() -> None:
    host = make_host("vm-nested", "lab-0001", "127.77.0.1", faults=Faults(boot_jitter=True))
    ids = {records(host, "server2022/facts.ps1")["facts"]["data"]["reboot"]["boot_id"] for _ in range(2)}
    assert ids == {"2026-11-20T08:00:00.0000000Z", "2026-11-20T08:00:01.0000000Z"}


def run(host: WindowsHost, script: str) -> tuple[list[str], str]:
    """Run a snippet; (stdout lines, stderr)."""
    result = host.run_script(script)
    return result.stdout.splitlines(), result.stderr


def test_registry_values_keep_their_kind_through_the_provider_cmdlets() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1")
    out, err = run(
        host,
        "New-Item -Path 'HKLM:\\SOFTWARE\\Lab' -Force | Out-Null\n"
        "New-ItemProperty -Path 'HKLM:\\SOFTWARE\\Lab' -Name Location -PropertyType ExpandString -Value '%SystemRoot%\\x' | Out-Null\n"
        "Set-ItemProperty -Path 'HKLM:\\SOFTWARE\\Lab' -Name Location -Value '%ProgramData%\\y'\n"
        "(Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Lab').Location\n"
        "(Get-Item -Path 'HKLM:\\SOFTWARE\\Lab').GetValue('Location', $null, 'DoNotExpandEnvironmentNames')\n",
    )
    assert err == "" and out == [r"C:\ProgramData\y", r"%ProgramData%\y"]
    value = host.machine.registry.value(r"HKEY_LOCAL_MACHINE\SOFTWARE\Lab", "Location")
    assert value is not None and value.kind == "ExpandString"  # Set-ItemProperty keeps an existing kind


def test_file_cmdlets_and_dotnet_agree_on_paths_and_contents() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1")
    out, err = run(
        host,
        "$d = Join-Path -Path $env:TEMP -ChildPath 'lab'\n"
        "New-Item -Path $d -ItemType Directory | Out-Null\n"
        "Set-Content -Path (Join-Path $d 'a.txt') -Value 'one','two'\n"
        "Copy-Item -Path (Join-Path $d 'a.txt') -Destination (Join-Path $d 'b.txt')\n"
        "Rename-Item -Path (Join-Path $d 'b.txt') -NewName 'c.txt'\n"
        "(Get-ChildItem -Path $d | ForEach-Object { $_.Name }) -join ','\n"
        "[System.IO.File]::ReadAllText((Join-Path $d 'C.TXT'))\n"
        "Split-Path -Path (Join-Path $d 'c.txt') -Leaf\n"
        "[System.IO.Path]::GetDirectoryName('C:\\Program Files\\docker\\dockerd.exe')\n",
    )
    assert err == ""
    # Set-Content ends each line with CRLF, so the text read back ends with an empty line.
    assert out == ["a.txt,c.txt", "one", "two", "", "c.txt", r"C:\Program Files\docker"]


def test_an_unknown_proxy_and_an_unknown_host_fail_with_webexception_texts() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1")
    _, err = run(host, "Invoke-WebRequest -Uri 'https://example.invalid/x' -UseBasicParsing -OutFile 'C:\\x'")
    assert "The remote name could not be resolved: 'example.invalid'" in err
    _, err = run(
        host,
        "Invoke-WebRequest -Uri 'https://download.docker.com/win/static/stable/x86_64/docker-27.3.1.zip' "
        "-Proxy 'http://proxy.corp:8080' -UseBasicParsing -OutFile 'C:\\x'",
    )
    assert "The remote name could not be resolved: 'proxy.corp'" in err


def test_a_parameter_the_lab_does_not_model_fails_instead_of_being_ignored() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1")
    result = host.run_script("Get-ChildItem -Path C:\\ -Include *.exe")
    assert result.exit_code != 0
    assert "A parameter cannot be found that matches parameter name 'Include'." in result.stderr


def test_a_hypervisor_that_cannot_launch_stays_enabled_and_logs_its_failure_since_that_boot() -> None:
    """DISM's Enabled does not mean the hypervisor runs (windows-audit.md F6): the boot logs event 41, and
    Get-WinEvent finds it from that boot on; nothing matching is NoMatchingEventsFound."""
    host = make_host("vm-no-nested-converged", "lab-0001", "127.77.0.1")
    assert host.machine.features["Microsoft-Hyper-V"] == "Enabled" and not host.machine.hypervisor_running
    query = (
        "$os = Get-CimInstance -ClassName Win32_OperatingSystem\n"
        "$f = @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-Hyper-V-Hypervisor'; Id = 41; StartTime = $os.LastBootUpTime }\n"
        "try { $e = @(Get-WinEvent -FilterHashtable $f -MaxEvents 1 -ErrorAction Stop); $e[0].Id; $e[0].Message }\n"
        "catch { $_.FullyQualifiedErrorId }\n"
    )
    out, err = run(host, query)
    assert err == "" and out == ["41", "Hypervisor launch failed; Either VMX not present or not enabled in BIOS."]
    out, _ = run(make_host("vm-nested-converged", "lab-0002", "127.77.0.2"), query)
    assert out == ["NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand"]


def test_device_guard_reports_vbs_in_its_own_namespace() -> None:
    query = (
        "(Get-CimInstance -Namespace 'root\\Microsoft\\Windows\\DeviceGuard' -ClassName Win32_DeviceGuard)"
        ".VirtualizationBasedSecurityStatus\n"
        "(Get-CimInstance -ClassName Win32_ComputerSystem).HypervisorPresent\n"
    )
    assert run(make_host("server2022-vbs", "lab-0001", "127.77.0.1"), query) == (["2", "True"], "")
    assert run(make_host("server2022", "lab-0001", "127.77.0.1"), query) == (["0", "False"], "")


def test_shutdown_exe_warns_the_signed_in_users_then_restarts_and_refuses_what_it_does_not_model() -> None:
    host = make_host("workstation-win11-23h2-pro", "lab-0001", "127.77.0.1")
    host.machine.spawn("explorer.exe", r"C:\Windows\explorer.exe", "explorer.exe", "LAB-0001\\dev", session_id=1)
    before = host.machine.reboot_requests
    out, err = run(
        host,
        "& shutdown.exe /r /t 60 /d p:4:1 /c 'save your work'; $LASTEXITCODE\n& shutdown.exe /s /t 0; $LASTEXITCODE\n",
    )
    assert out[0] == "0" and out[-1] == "87", (out, err)
    assert host.machine.reboot_requests == before + 1
    assert host.machine.extensions["shutdown.exe"] == [
        {"users": ["LAB-0001\\dev"], "seconds": 60, "comment": "save your work"}
    ]
    standard = make_host("server2022", "lab-0002", "127.77.0.2", faults=Faults(not_admin=True))
    out, _ = run(standard, "& shutdown.exe /r /t 5 2>&1 | Out-Null; $LASTEXITCODE\n")
    assert out == ["5"] and standard.machine.reboot_requests == 0


def test_downloads_go_out_only_through_the_networks_proxy_with_its_credentials() -> None:
    proxy = "http://proxy.lab.example:3128"
    host = make_host(
        "server2022",
        "lab-0001",
        "127.77.0.1",
        faults=Faults(download_proxy=proxy, download_proxy_credentials="u:p"),
    )
    url = "https://download.docker.com/win/static/stable/x86_64/docker-27.3.1.zip"
    fetch = (
        "[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12\n"
        "try {{ Invoke-WebRequest -Uri '{url}' -OutFile 'C:\\d.zip' -UseBasicParsing {extra}; 'ok' }}"
        " catch {{ $_.Exception.Message }}\n"
    )
    credential = (
        "-Proxy '{proxy}' -ProxyCredential (New-Object System.Management.Automation.PSCredential -ArgumentList"
        " 'u', (New-Object System.Net.NetworkCredential -ArgumentList '', '{password}').SecurePassword)"
    )
    said = {
        "direct": run(host, fetch.format(url=url, extra=""))[0],
        "other proxy": run(host, fetch.format(url=url, extra="-Proxy 'http://elsewhere:8080'"))[0],
        "no log-on": run(host, fetch.format(url=url, extra=f"-Proxy '{proxy}'"))[0],
        "wrong log-on": run(host, fetch.format(url=url, extra=credential.format(proxy=proxy, password="x")))[0],
        "log-on": run(host, fetch.format(url=url, extra=credential.format(proxy=proxy, password="p")))[0],
    }
    assert said == {
        "direct": ["Unable to connect to the remote server"],
        "other proxy": ["The remote name could not be resolved: 'elsewhere'"],
        "no log-on": ["The remote server returned an error: (407) Proxy Authentication Required."],
        "wrong log-on": ["The remote server returned an error: (407) Proxy Authentication Required."],
        "log-on": ["ok"],
    }
