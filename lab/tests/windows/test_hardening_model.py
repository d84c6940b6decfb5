"""The machine behaviours issue 11 added to the lab, each as Windows documents it: volatile registry keys
(RegistryOptions.Volatile), File.Replace (ReplaceFileW), an on-access scan holding written files, and a
shutdown that takes time."""

from __future__ import annotations

from provision_lab.api import Faults
from provision_lab.profiles import make_host
from provision_lab.windows.host import WindowsHost

KEY = r"HKLM:\SOFTWARE\provision-lab-test\Marker"


def run(host: WindowsHost, script: str) -> tuple[str, str]:
    result = host.run_script(script)
    return result.stdout.strip(), result.stderr


def test_a_volatile_key_is_gone_after_a_restart_and_a_plain_one_stays() -> None:
    host = make_host("server2022", "h", "127.77.0.1")
    out, err = run(
        host,
        "$hklm = [Microsoft.Win32.Registry]::LocalMachine\n"
        "$v = $hklm.CreateSubKey('SOFTWARE\\provision-lab-test\\Marker', "
        "[Microsoft.Win32.RegistryKeyPermissionCheck]::ReadWriteSubTree, [Microsoft.Win32.RegistryOptions]::Volatile)\n"
        "$v.Close()\n"
        "$p = $hklm.CreateSubKey('SOFTWARE\\provision-lab-plain')\n"
        "$p.Close()\n"
        f"(Test-Path -LiteralPath '{KEY}'), ($null -ne $hklm.OpenSubKey('SOFTWARE\\provision-lab-plain'))",
    )
    assert out.split() == ["True", "True"], err
    host.machine.boot(host.machine.boot_time)
    out, err = run(
        host, f"(Test-Path -LiteralPath '{KEY}'), (Test-Path -LiteralPath 'HKLM:\\SOFTWARE\\provision-lab-plain')"
    )
    assert out.split() == ["False", "True"], err


def test_creating_a_key_under_hklm_needs_an_administrator() -> None:
    host = make_host("server2022", "h", "127.77.0.1", faults=Faults(not_admin=True))
    _, err = run(host, "[Microsoft.Win32.Registry]::LocalMachine.CreateSubKey('SOFTWARE\\x')")
    assert "Access to the registry key 'HKEY_LOCAL_MACHINE\\SOFTWARE\\x' is denied." in err


def _files(host: WindowsHost, *names: str) -> None:
    host.machine.fs.make_dirs(r"C:\data")
    for name in names:
        host.machine.fs.write(rf"C:\data\{name}", name.encode())


def test_file_replace_swaps_in_one_call_and_keeps_the_backup() -> None:
    host = make_host("server2022", "h", "127.77.0.1")
    _files(host, "new", "cur", "bak")
    _, err = run(host, r"[System.IO.File]::Replace('C:\data\new', 'C:\data\cur', 'C:\data\bak')")
    fs = host.machine.fs
    assert err == ""
    assert fs.read(r"C:\data\cur") == b"new" and fs.read(r"C:\data\bak") == b"cur"
    assert not fs.is_file(r"C:\data\new")


def test_file_replace_needs_the_destination_and_fails_whole_when_the_replacement_is_held() -> None:
    host = make_host("server2022", "h", "127.77.0.1")
    _files(host, "new", "cur")
    _, err = run(host, r"[System.IO.File]::Replace('C:\data\new', 'C:\data\none', $null)")
    assert "FileNotFoundException" in err or "Could not find file" in err, err
    host.machine.fs.hold(r"C:\data\new", "MsMpEng.exe")
    _, err = run(host, r"[System.IO.File]::Replace('C:\data\new', 'C:\data\cur', 'C:\data\bak')")
    assert "The file to be replaced has retained its original name." in err
    assert host.machine.fs.read(r"C:\data\cur") == b"cur" and not host.machine.fs.is_file(r"C:\data\bak")


def test_an_on_access_scan_holds_a_written_file_until_its_time_is_over() -> None:
    host = make_host("server2022", "h", "127.77.0.1", faults=Faults(scan_seconds=5.0))
    run(
        host, r"New-Item -Path C:\data -ItemType Directory | Out-Null; [System.IO.File]::WriteAllText('C:\data\f', 'x')"
    )
    _, err = run(host, r"Rename-Item -LiteralPath C:\data\f -NewName g")
    assert "is denied" in err or "being used by another process" in err, err
    host.machine.advance(6)
    _, err = run(host, r"Rename-Item -LiteralPath C:\data\f -NewName g")
    assert err == "" and host.machine.fs.is_file(r"C:\data\g")


def test_a_slow_shutdown_keeps_answering_for_its_seconds() -> None:
    now = [100.0]
    machine = make_host("server2022", "h", "127.77.0.1", faults=Faults(shutdown_seconds=2.0)).machine
    host = WindowsHost("h", "127.77.0.1", machine, clock=lambda: now[0])  # a clock the test moves
    host.machine.request_restart()
    now[0] += 1.5
    assert host.is_up()
    now[0] += 1.0
    assert not host.is_up()


def test_without_a_console_the_output_encoding_setter_throws_wrapped_as_powershell_wraps_it() -> None:
    script = (
        "try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; 'set' }\n"
        "catch { $_.Exception.GetType().FullName; $_.Exception.Message }"
    )
    out, err = run(make_host("server2022", "h", "127.77.0.1", faults=Faults(no_console=True)), script)
    assert out.splitlines() == [
        "System.Management.Automation.SetValueInvocationException",
        'Exception setting "OutputEncoding": "The handle is invalid."',
    ], err
    assert run(make_host("server2022", "h", "127.77.0.1"), script)[0] == "set"
