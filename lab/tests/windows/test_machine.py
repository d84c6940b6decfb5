"""The Windows machine model and its cmdlets, driven through a small fake CommandContext.

Each test asserts a behaviour Windows has (and cites where the text comes from in the module under
test); the scripts' end-to-end use is covered by the product's e2e suites.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from provision_lab.api import Faults
from provision_lab.powershell.api import CommandSpec, ErrorRecord, NetEnum, NetException, TerminatingError
from provision_lab.profiles import make_host
from provision_lab.windows import paths, programs
from provision_lab.windows.host import WindowsHost, engines, machine_path
from provision_lab.windows.session import Session
from provision_lab.windows.types import TYPES


class FakeContext:
    """What a command may ask of the interpreter, recorded; -ErrorAction Stop is not modelled."""

    def __init__(self, host: Session) -> None:
        self._host = host
        self.errors: list[ErrorRecord] = []

    @property
    def host(self) -> Session:
        return self._host

    @property
    def bound_set(self) -> str | None:
        return None

    def write_error(self, record: ErrorRecord) -> None:
        self.errors.append(record)

    def write_warning(self, message: str) -> None:
        pass

    def write_verbose(self, message: str) -> None:
        pass

    def invoke(self, block: Any, args: Sequence[Any] = (), *, dollar_under: Any = None) -> list[Any]:
        raise NotImplementedError

    def get_variable(self, name: str) -> Any:
        return None

    def convert(self, value: Any, type_name: str) -> Any:
        return int(value) if type_name in ("int", "long") else value

    def to_string(self, value: Any) -> str:
        return "" if value is None else str(value)


def run(session: Session, name: str, **params: Any) -> tuple[list[Any], list[ErrorRecord]]:
    """Call the machine's cmdlet ``name`` with bound ``params``; (output, errors written)."""
    spec: CommandSpec = next(c for c in session.commands() if c.name.lower() == name.lower())
    context = FakeContext(session)
    output = spec.body(context, params)
    return list(output or []), context.errors


def static(session: Session, type_name: str, member: str, *args: Any) -> Any:
    spec = next(t for t in TYPES if t.full_name == type_name)
    return spec.static_methods[member](session, args)


def props(item: Any) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = item.ps_properties()
    return properties


@pytest.fixture
def host() -> WindowsHost:
    return make_host("server2022", "lab-0001", "127.77.0.1")


@pytest.fixture
def session(host: WindowsHost) -> Session:
    return host.session()


# -- paths and the file system ----------------------------------------------------------------


def test_paths_are_case_insensitive_and_take_either_slash() -> None:
    assert paths.normalize("c:/Program Files//docker/./x/..") == r"C:\Program Files\docker"
    assert paths.key(r"C:\Program Files\Docker") == paths.key(r"c:\PROGRAM FILES\docker")
    assert paths.split_provider(r"HKLM:\SOFTWARE\x").path == r"HKEY_LOCAL_MACHINE\SOFTWARE\x"  # type: ignore[union-attr]
    assert paths.split_provider(r"Q:\x") is not None  # drive existence is the machine's to say


def test_a_folder_does_not_move_across_volumes(tmp_path: Any) -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(temp_other_volume=True))
    session = host.session()
    assert session.env("TEMP") == r"D:\Temp"
    fs = host.machine.fs
    fs.make_dirs(r"D:\Temp\docker-27.3.1\docker")
    fs.write(r"D:\Temp\docker-27.3.1\docker\dockerd.exe", b"x")
    out, errors = run(
        session, "Move-Item", Path=[r"D:\Temp\docker-27.3.1\docker"], Destination=r"C:\Program Files\docker"
    )
    assert out == [] and len(errors) == 1
    assert errors[0].exception.message == (
        "Source and destination path must have identical roots. Move will not work across volumes."
    )
    assert errors[0].error_id == "MoveDirectoryItemIOError"
    assert fs.is_file(r"D:\Temp\docker-27.3.1\docker\dockerd.exe") and not fs.is_dir(r"C:\Program Files\docker")


def test_a_running_program_image_cannot_be_deleted_and_the_rest_of_the_folder_is(session: Session) -> None:
    fs = session.machine.fs
    fs.make_dirs(r"C:\Program Files\docker")
    fs.write(r"C:\Program Files\docker\docker.exe", programs.image("docker", "27.3.1"))
    fs.write(r"C:\Program Files\docker\dockerd.exe", programs.image("dockerd", "27.3.1"))
    session.machine.spawn("dockerd.exe", r"C:\Program Files\docker\dockerd.exe", "dockerd --run-service", "SYSTEM")
    _, errors = run(session, "Remove-Item", Path=[r"C:\Program Files\docker"], Recurse=True, Force=True)
    texts = [e.exception.message for e in errors]
    assert texts == [
        r"Cannot remove item C:\Program Files\docker\dockerd.exe: Access to the path 'dockerd.exe' is denied.",
        r"Cannot remove item C:\Program Files\docker: The directory is not empty.",
    ]
    # Half deleted, as Windows leaves it (windows-audit.md F1 (b)): docker.exe came first and is gone.
    assert not fs.is_file(r"C:\Program Files\docker\docker.exe")
    assert fs.is_file(r"C:\Program Files\docker\dockerd.exe")
    with pytest.raises(NetException, match="being used by another process"):
        static(session, "System.IO.File", "WriteAllBytes", r"C:\Program Files\docker\dockerd.exe", b"new")


def test_files_are_written_read_and_hashed_through_the_cmdlets_and_dotnet(session: Session) -> None:
    run(session, "New-Item", Path=[r"C:\ProgramData\docker\config"], ItemType="Directory", Force=True)
    static(session, "System.IO.File", "WriteAllText", r"C:\ProgramData\docker\config\daemon.json", '{"a":1}')
    assert static(session, "System.IO.File", "ReadAllText", r"c:/programdata/DOCKER/config/daemon.json") == '{"a":1}'
    (info,), _ = run(session, "Get-FileHash", Path=[r"C:\ProgramData\docker\config\daemon.json"], Algorithm="SHA256")
    assert props(info)["Hash"] == hashlib.sha256(b'{"a":1}').hexdigest().upper()
    (item,), _ = run(session, "Get-Item", Path=[r"C:\ProgramData\docker\config\daemon.json"])
    assert props(item)["Length"] == 7
    assert run(session, "Test-Path", Path=[r"C:\ProgramData\docker\config"], PathType="Leaf")[0] == [False]
    assert run(session, "Test-Path", Path=[r"C:\ProgramData\docker\config\daemon.json"], PathType="Leaf")[0] == [True]
    _, errors = run(session, "Get-Item", Path=[r"C:\nothing"])
    assert errors[0].exception.message == r"Cannot find path 'C:\nothing' because it does not exist."


def test_expand_archive_extracts_a_real_zip(session: Session) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("docker/dockerd.exe", programs.image("dockerd", "27.3.1"))
    temp = session.env("TEMP")
    session.machine.fs.write(temp + r"\d.zip", buffer.getvalue())
    run(session, "Expand-Archive", Path=temp + r"\d.zip", DestinationPath=temp + r"\stage", Force=True)
    assert session.machine.file_version(temp + r"\stage\docker\dockerd.exe") == "27.3.1"
    (item,), _ = run(session, "Get-Item", Path=[temp + r"\stage\docker\dockerd.exe"])
    assert props(props(item)["VersionInfo"])["ProductVersion"] == "27.3.1"


# -- registry and environment ---------------------------------------------------------------------


def test_machine_path_is_expand_sz_read_expanded_and_rewritten_as_reg_sz(session: Session) -> None:
    env = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"
    raw = session.machine.registry.value(env, "Path")
    assert raw is not None and raw.kind == "ExpandString" and raw.data.startswith("%SystemRoot%")
    target = NetEnum("System.EnvironmentVariableTarget", "Machine", 2)
    read = static(session, "System.Environment", "GetEnvironmentVariable", "Path", target)
    assert read.startswith(r"C:\Windows\system32;")
    static(session, "System.Environment", "SetEnvironmentVariable", "Path", read + r";C:\Program Files\docker", target)
    written = session.machine.registry.value(env, "Path")
    assert written is not None and written.kind == "String"  # .NET Framework writes REG_SZ (windows-audit.md F10)
    assert machine_path(session.machine)[-1] == r"C:\Program Files\docker"
    # The session's own block is what it started with; a new session inherits the change.
    assert r"C:\Program Files\docker" not in session.env("Path")


def test_get_item_property_lists_values_and_misses_optional_ones(session: Session) -> None:
    (nt,), _ = run(session, "Get-ItemProperty", Path=[r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion"])
    values = props(nt)
    assert values["EditionID"] == "ServerDatacenter" and values["UBR"] == 2762 and values["DisplayVersion"] == "21H2"
    assert values["PSChildName"] == "CurrentVersion"
    out, errors = run(session, "Get-ItemProperty", Path=[r"HKLM:\SOFTWARE\Nope"])
    assert out == [] and errors[0].exception.type_name == "System.Management.Automation.ItemNotFoundException"
    assert run(
        session,
        "Test-Path",
        Path=[r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"],
    )[0] == [False]


def test_wsman_drive_shows_the_endpoint_limits_to_an_administrator_only() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(max_envelope_size_kb=200))
    host._sync_winrm()
    (leaf,), _ = run(host.session(), "Get-Item", Path=[r"WSMan:\localhost\MaxEnvelopeSizekb"])
    assert props(leaf)["Value"] == "200"
    host.faults.not_admin = True
    with pytest.raises(TerminatingError, match="Access is denied"):
        run(host.session(), "Get-Item", Path=[r"WSMan:\localhost\MaxEnvelopeSizekb"])


# -- services, features, CIM, accounts ----------------------------------------------------------------


def test_get_service_missing_name_has_windows_text(session: Session) -> None:
    out, errors = run(session, "Get-Service", Name=["docker"])
    assert out == [] and errors[0].exception.message == "Cannot find any service with service name 'docker'."
    assert errors[0].error_id == "NoServiceFoundForGivenName" and errors[0].category == "ObjectNotFound"


def test_stopped_service_process_lingers_holding_its_image() -> None:
    host = make_host("server2022-converged", "lab-0001", "127.77.0.1")
    machine = host.machine
    service = machine.service("docker")
    assert service is not None and service.status == "Running"
    (before,), _ = run(host.session(), "Get-Service", Name=["docker"])
    machine.faults.service_exit_seconds = 2.0
    run(host.session(), "Stop-Service", Name=["docker"], Force=True)
    assert props(before)["Status"].name == "Running"  # a ServiceController is a snapshot until Refresh()
    dockerd = r"C:\Program Files\docker\dockerd.exe"
    assert machine.fs.holder(dockerd) == "dockerd.exe"
    machine.advance(2.5)
    assert machine.fs.holder(dockerd) is None


def test_install_windows_feature_refuses_while_another_restart_is_pending() -> None:
    host = make_host("server2022", "lab-0001", "127.77.0.1", faults=Faults(restart_pending=True))
    (result,), errors = run(host.session(), "Install-WindowsFeature", Name=["Containers"])
    assert props(result)["Success"] is False and props(result)["ExitCode"].name == "FailedRestartRequired"
    assert "must be restarted to complete another installation" in errors[0].exception.message
    assert host.machine.features["Containers"] == "Disabled"


def test_own_installs_do_not_block_each_other_and_settle_at_boot(host: WindowsHost) -> None:
    session = host.session()
    for role in ("Containers", "Hyper-V"):
        (result,), errors = run(session, "Install-WindowsFeature", Name=[role])
        assert errors == [] and props(result)["RestartNeeded"].name == "Yes"
    assert host.machine.features == {"Containers": "EnablePending", "Microsoft-Hyper-V": "EnablePending"}
    host.machine.boot(host.machine.boot_time)
    assert host.machine.hypervisor_running and host.machine.features["Microsoft-Hyper-V"] == "Enabled"
    (cpu,), _ = run(host.session(), "Get-CimInstance", ClassName="Win32_Processor")
    assert props(cpu)["VirtualizationFirmwareEnabled"] is False  # hidden once a hypervisor runs (wf §2)


def test_client_has_no_server_manager_and_dism_needs_elevation() -> None:
    host = make_host("win11-23h2-pro", "lab-0001", "127.77.0.1", faults=Faults(not_admin=True))
    names = {c.name for c in host.session().commands()}
    assert "Install-WindowsFeature" not in names and "Enable-WindowsOptionalFeature" in names
    with pytest.raises(TerminatingError, match="requires elevation"):
        run(host.session(), "Get-WindowsOptionalFeature", Online=True, FeatureName=["Containers"])
    host.faults.not_admin = False
    with pytest.raises(TerminatingError, match="parent features are disabled"):
        run(host.session(), "Enable-WindowsOptionalFeature", Online=True, FeatureName=["Microsoft-Hyper-V"])
    (image,), _ = run(
        host.session(),
        "Enable-WindowsOptionalFeature",
        Online=True,
        FeatureName=["Microsoft-Hyper-V"],
        All=True,
        NoRestart=True,
    )
    assert props(image)["RestartNeeded"] is True


def test_a_vm_is_only_its_smbios_strings() -> None:
    for profile, maker in (
        ("ec2-nitro", "Amazon EC2"),
        ("gce-nested", "Google"),
        ("vm-nested", "Microsoft Corporation"),
    ):
        session = make_host(profile, "lab-0001", "127.77.0.1").session()
        (cs,), _ = run(session, "Get-CimInstance", ClassName="Win32_ComputerSystem")
        assert props(cs)["Manufacturer"] == maker and props(cs)["HypervisorPresent"] is True
        assert "is_vm" not in props(cs) and "IsVirtual" not in props(cs)


def test_get_owner_of_a_process_that_exited_fails(session: Session) -> None:
    machine = session.machine
    process = machine.spawn("Docker Desktop.exe", "", "", rf"{machine.computer_name}\dev", session_id=1)
    found, _ = run(session, "Get-CimInstance", ClassName="Win32_Process", Filter="Name = 'Docker Desktop.exe'")
    (owner,) = run(session, "Invoke-CimMethod", InputObject=found[0], MethodName="GetOwner")[0]
    assert (props(owner)["Domain"], props(owner)["User"]) == (machine.computer_name, "dev")
    machine.end(process.pid)
    with pytest.raises(TerminatingError, match="Not found"):
        run(session, "Invoke-CimMethod", InputObject=found[0], MethodName="GetOwner")


def test_local_group_membership_errors(session: Session) -> None:
    _, errors = run(session, "Add-LocalGroupMember", Group="Administrators", Member=["provision"])
    assert errors[0].exception.type_name == "Microsoft.PowerShell.Commands.MemberExistsException"
    _, errors = run(session, "Add-LocalGroupMember", Group="Administrators", Member=["nobody"])
    assert errors[0].exception.message == "Principal nobody was not found."
    _, errors = run(session, "Get-LocalGroup", Name=["docker-users"])
    assert errors[0].exception.message == "Group docker-users was not found."


# -- programs and downloads ------------------------------------------------------------------------------


def test_programs_are_found_on_path_with_pathext_and_by_file_content(session: Session) -> None:
    assert session.find_program("hostname") is not None
    assert session.find_program("HOSTNAME.EXE") is not None
    assert session.find_program("dockerd") is None
    session.machine.fs.write(r"C:\Windows\System32\fake.exe", b"just text")
    fake = session.find_program("fake")
    assert fake is not None
    with pytest.raises(NetException, match="not a valid application"):
        fake.run([], None, session)


def test_downloads_need_tls12_and_fail_with_webexception_text(session: Session) -> None:
    url = "https://download.docker.com/win/static/stable/x86_64/docker-27.3.1.zip"
    target = session.env("TEMP") + r"\docker.zip"
    with pytest.raises(TerminatingError, match="underlying connection was closed"):
        run(session, "Invoke-WebRequest", Uri=url, OutFile=target, UseBasicParsing=True)
    session.security_protocol |= 3072
    run(session, "Invoke-WebRequest", Uri=url, OutFile=target, UseBasicParsing=True)
    assert session.machine.fs.is_file(target)
    with pytest.raises(TerminatingError, match=r"\(404\) Not Found"):
        run(session, "Invoke-WebRequest", Uri=url.replace("27.3.1", "9.9.9"), OutFile=target, UseBasicParsing=True)


def test_converged_profile_is_reached_through_the_machine(host: WindowsHost) -> None:
    converged = make_host("server2022-converged", "lab-0002", "127.77.0.2")
    state = converged.snapshot()
    assert state["engines"] == {r"C:\Program Files\docker": "27.3.1"} == engines(converged.machine)
    assert (
        state["services"]["docker"]["status"] == "Running" and state["services"]["docker"]["start_type"] == "Automatic"
    )
    assert state["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}
    assert r"C:\ProgramData\docker\config\daemon.json" in state["files"]
    assert host.snapshot()["files"] == {} and host.snapshot()["engines"] == {}


def test_state_survives_export_and_restore() -> None:
    host = make_host("server2022-converged", "lab-0001", "127.77.0.1")
    saved = host.export_state()
    fresh = make_host("server2022", "lab-0001", "127.77.0.1")
    fresh.restore_state(saved)
    assert fresh.snapshot() == host.snapshot()
