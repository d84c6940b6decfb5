"""The lab's Docker Desktop model (lab/provision_lab/desktop.py) through ``run_script``, no network.

What it models, and from which source, is in that module's docstring (docker-desktop.md keys).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from provision_lab import desktop
from provision_lab.desktop import desktop_sha256, desktop_url, logon, parse_command_line, wsl_sha256, wsl_url
from provision_lab.model import DAEMON_JSON, LabHostModel
from provision_lab.profiles import make_host
from provisioner.facts import Facts
from provisioner.plan import facts_request, plan
from provisioner.records import Record, parse_output
from provisioner.render import Renderer
from provisioner.resources import BlockParams
from provisioner.resources.desktop_verify import DesktopVerifyParams
from provisioner.resources.docker_desktop import DesktopParams, install_command_line
from provisioner.resources.docker_users import UsersParams
from provisioner.spec import DockerDesktopSpec, HostSpec

R = Renderer()
DOCKER = r"C:\Program Files\Docker\Docker\resources\bin\docker.exe"


def spec(**engine: Any) -> HostSpec:
    base: dict[str, Any] = {
        "type": "docker-desktop",
        "version": "4.43.1",
        "build": 198352,
        "sha256": desktop_sha256("4.43.1"),
        "users": ["dev"],
        "accept_license": True,
        "wsl": {"version": "2.5.10", "url": wsl_url("2.5.10"), "sha256": wsl_sha256("2.5.10")},
    }
    base.update(engine)
    return HostSpec.model_validate(
        {
            "engine": {k: v for k, v in base.items() if v is not None},
            "daemon": {"log-level": "warn"},
            "verify": {"linux": True},
        }
    )


def new_host(profile: str = "workstation-win11-23h2-pro") -> LabHostModel:
    host = make_host(profile, "ws1", "127.77.9.9", reboot_seconds=0.05)
    host.shutdown_delay = 0.01
    return host


def run(host: LabHostModel, script: str) -> dict[str, Record]:
    result = host.run_script(script)
    assert result.exit_code == 0, result.stderr
    return parse_output(result.stdout).records


def facts(host: LabHostModel, the_spec: HostSpec) -> Facts:
    record = run(host, R.facts(host.name, facts_request(the_spec)))["facts"]
    assert record.ok, record.error
    return Facts.model_validate(record.data)


def one_block(host: LabHostModel, block_id: str, block_type: str, action: str, params: BlockParams) -> Record:
    return run(host, R.script(host.name, "apply", [R.block(block_id, block_type, action, params)]))[block_id]


def converge(host: LabHostModel, the_spec: HostSpec) -> None:
    for _ in range(4):
        the_plan = plan(host.name, the_spec, facts(host, the_spec))
        assert not the_plan.blocked, the_plan.preflight
        if not the_plan.changes:
            return
        records = run(host, R.apply(the_plan))
        assert all(r.ok for r in records.values()), {k: r.message for k, r in records.items()}
        if any(r.reboot_required for r in records.values()):
            run(host, R.reboot(host.name, "features"))
            time.sleep(0.02)
            while not host.is_up():
                time.sleep(0.01)
    raise AssertionError("did not converge")


def install_params(command_line: str, version: str = "4.43.1") -> DesktopParams:
    return DesktopParams(
        version=version,
        build=desktop.DESKTOP_RELEASES[version][0],
        url=desktop_url(version),
        sha256=desktop_sha256(version),
        command_line=command_line,
        timeout=60.0,
        uninstall_key="HKLM:\\x",
        install_log="C:\\log.txt",
        service="com.docker.service",
        service_automatic=False,
        success_codes=[0, 3],
        reboot_codes=[3010, 1641],
    )


# --- command lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, argv",
    [
        ("install --quiet", ["install", "--quiet"]),
        ('install "--installation-dir=C:\\Program Files\\D"', ["install", "--installation-dir=C:\\Program Files\\D"]),
        ('a "b\\\\" c', ["a", "b\\", "c"]),
        ('a \\"b', ["a", '"b']),
        ("a\\\\b  c", ["a\\\\b", "c"]),
    ],
)
def test_command_line_splitting_follows_commandlinetoargvw(line: str, argv: list[str]) -> None:
    assert parse_command_line(line) == argv


def test_install_without_the_install_subcommand_exits_minus_5() -> None:
    record = one_block(new_host(), "d", "docker_desktop", "set", install_params("--quiet --accept-license"))
    assert not record.ok and "exited -5" in record.message
    assert record.data == {"before": None, "exit_code": -5}


def test_an_unknown_flag_is_refused_like_an_unknown_command() -> None:
    record = one_block(new_host(), "d", "docker_desktop", "set", install_params("install --user"))
    assert not record.ok and "exited -5" in record.message


def test_same_version_is_exit_3_and_a_downgrade_is_reported_not_hidden() -> None:
    host = new_host()
    first = one_block(host, "d", "docker_desktop", "set", install_params("install --quiet --accept-license", "4.84.0"))
    assert first.ok and first.changed and first.data["exit_code"] == 0
    down = one_block(host, "d", "docker_desktop", "set", install_params("install --quiet --accept-license"))
    assert not down.ok and down.data["exit_code"] == 3
    assert "Docker Desktop 4.84.0 is installed, not 4.43.1" in down.message and "downgrade" in down.message
    again = one_block(host, "d", "docker_desktop", "set", install_params("install --quiet --accept-license", "4.84.0"))
    assert again.ok and not again.changed and again.data == {"before": "4.84.0", "after": "4.84.0"}


def test_a_wrong_checksum_installs_nothing() -> None:
    host = new_host()
    params = install_params("install --quiet").model_copy(update={"sha256": "00" * 32})
    record = one_block(host, "d", "docker_desktop", "set", params)
    assert not record.ok and record.message.startswith("SHA-256 mismatch")
    assert host.snapshot()["workstation"]["desktop"] is None


def test_installer_creates_docker_users_with_the_installing_account() -> None:
    host = new_host()
    engine = spec().engine
    assert isinstance(engine, DockerDesktopSpec)
    assert one_block(host, "d", "docker_desktop", "set", install_params(install_command_line(engine))).ok
    ws = host.snapshot()["workstation"]
    assert ws["groups"]["docker-users"] == ["WS1\\provision"]
    assert ws["service"] == {"status": "Running", "start_type": "Automatic"}  # --always-run-service
    assert ws["running_for"] is None  # Desktop does not start after installation [DD-WIN]


# --- docker-users ----------------------------------------------------------------------------------


def test_users_block_needs_the_group_and_known_accounts() -> None:
    host = new_host()
    missing = one_block(host, "u", "docker_users", "set", UsersParams(group="docker-users", members=["dev"]))
    assert missing.error == {
        "message": "Group docker-users was not found.",
        "category": "ObjectNotFound",
        "exception": "Microsoft.PowerShell.Commands.GroupNotFoundException",
    }
    one_block(host, "d", "docker_desktop", "set", install_params("install --quiet"))
    unknown = one_block(host, "u", "docker_users", "set", UsersParams(group="docker-users", members=["CORP\\dev"]))
    assert unknown.error is not None and unknown.error["message"] == "Principal CORP\\dev was not found."
    added = one_block(host, "u", "docker_users", "set", UsersParams(group="docker-users", members=["dev"]))
    assert added.changed and added.data == {"added": ["dev"]}
    again = one_block(host, "u", "docker_users", "set", UsersParams(group="docker-users", members=["WS1\\dev"]))
    assert again.ok and not again.changed and again.data == {"added": []}


# --- sessions and engines --------------------------------------------------------------------------


def test_without_docker_users_at_logon_desktop_says_access_denied() -> None:
    host = new_host()
    converge(host, spec(users=[]).model_copy(update={"daemon": None}))
    said = logon(host, "dev")
    assert "Access Denied" in said
    assert host.snapshot()["workstation"]["running_for"] is None


def test_a_reboot_ends_the_session_and_desktop_with_it() -> None:
    host = new_host()
    the_spec = spec()
    converge(host, the_spec)
    logon(host, "dev")
    assert facts(host, the_spec).desktop.engines == {"windows": True, "linux": False}  # type: ignore[union-attr]
    run(host, R.reboot(host.name, "x"))
    time.sleep(0.02)
    while not host.is_up():
        time.sleep(0.01)
    found = facts(host, the_spec).desktop
    assert found is not None and found.sessions == [] and found.running_for == [] and not any(found.engines.values())
    assert found.service.status == "Running"  # Automatic: the service starts at boot [DD-PERM]


def test_engine_use_for_a_disabled_windows_engine_says_so() -> None:
    host = new_host()
    the_spec = spec(windows_containers=False)
    converge(host, the_spec)
    logon(host, "dev")
    params = DesktopVerifyParams(
        docker=DOCKER,
        os="windows",
        pipe="npipe:////./pipe/dockerDesktopWindowsEngine",
        format="{{.Server.Os}}",
        switch=True,
        switch_polls=1,
        image="mcr.microsoft.com/windows/nanoserver:ltsc2022",
        run_options=["--isolation=hyperv"],
        command=["cmd", "/c", "echo", "x"],
        expect="x",
        timeout=60.0,
    )
    record = one_block(host, "v", "desktop_verify", "test", params)
    assert (
        record.message
        == 'docker desktop engine use windows failed: unable to set engine to "windows": engine is disabled'
    )


def test_a_linux_image_on_the_windows_engine_is_lcow_and_refused() -> None:
    host = new_host()
    converge(host, spec())
    logon(host, "dev")
    params = DesktopVerifyParams(
        docker=DOCKER,
        os="windows",
        pipe="npipe:////./pipe/dockerDesktopWindowsEngine",
        format="{{.Server.Os}}",
        switch=False,
        switch_polls=1,
        image="busybox",
        run_options=["--isolation=hyperv", "--platform", "linux"],
        command=["uname", "-a"],
        expect="Linux",
        timeout=60.0,
    )
    record = one_block(host, "v", "desktop_verify", "test", params)
    assert "LCOW, removed in Engine 23.0" in record.message
    assert "no matching manifest for linux/amd64" in record.data["output"]


def test_hyperv_backend_runs_linux_in_the_desktop_vm() -> None:
    host = new_host()
    the_spec = spec(backend="hyperv", wsl=None)
    converge(host, the_spec)
    assert host.snapshot()["features"]["VirtualMachinePlatform"] == "Disabled"
    logon(host, "dev")
    records = run(host, R.verify(plan(host.name, the_spec, facts(host, the_spec)), "n1", ""))
    assert records["verify/linux"].ok and "linuxkit" in records["verify/linux"].data["output"]
    assert records["verify/windows"].ok


def test_wsl2_without_a_wsl_package_keeps_the_linux_engine_down() -> None:
    host = new_host()
    the_spec = spec(wsl=None)
    converge(host, the_spec)
    logon(host, "dev")
    records = run(host, R.verify(plan(host.name, the_spec, facts(host, the_spec)), "n1", ""))
    assert not records["verify/linux"].ok and "WSL needs updating" in records["verify/linux"].message
    assert records["verify/windows"].skipped == "required block verify/linux did not succeed"


def test_workstation_state_survives_export_and_restore() -> None:
    host = new_host()
    converge(host, spec())
    logon(host, "dev")
    twin = new_host()
    twin.restore_state(json.loads(json.dumps(host.export_state())))
    assert twin.snapshot() == host.snapshot()
    assert twin.snapshot()["files"][DAEMON_JSON]["content"] == '{\n  "log-level": "warn"\n}\n'
