"""The lab's host model through ``run_script``, with scripts rendered by the real Renderer and plan.

No network: the protocol endpoints are tested in test_wsman.py and test_sshd.py. Windows facts
asserted here come from /work/shared/research/windows-facts.md, cited in lab/provision_lab/model.py.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from provision_lab.api import ExecResult
from provision_lab.model import (
    DAEMON_JSON,
    HostDownError,
    LabHostModel,
    engine_sha256,
    engine_url,
)
from provision_lab.profiles import PROFILES, make_host, profile_names
from provisioner.facts import Facts
from provisioner.plan import Plan, facts_request, plan
from provisioner.records import Record, ScriptOutput, parse_output
from provisioner.render import RebootParams, Renderer
from provisioner.resources import BlockParams
from provisioner.resources.container_engine import EngineParams
from provisioner.resources.container_verify import VerifyParams
from provisioner.resources.daemon_config import DaemonParams, canonical_json
from provisioner.resources.windows_feature import FeatureParams
from provisioner.spec import HostSpec

R = Renderer()
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "facts"
DOCKER = r"C:\Program Files\docker\docker.exe"
DOCKERD = r"C:\Program Files\docker\dockerd.exe"
NONCE = "lab-nonce-4f1d"
SITE: dict[str, Any] = {
    "features": ["Containers", "Hyper-V"],
    "engine": {"version": "27.3.1", "sha256": engine_sha256("27.3.1")},
    "daemon": {
        "hosts": ["npipe://"],
        "log-level": "warn",
        "storage-opts": ["size=60G"],
        "labels": ["provisioned-by=provision", "site=lab"],
    },
}
# Fixture facts (written by hand from the research) that the fresh profiles must reproduce.
FIXTURE_OF = {
    "server2016": "server2016",
    "server2019": "server2019",
    "server2022": "server2022",
    "server2025": "server2025",
    "win10-22h2-pro": "win10-22h2-pro",
    "win11-23h2-pro": "win11-23h2-pro",
    "win10-home": "win10-home",
    "vm-nested": "server2022-vm-nested",
    "vm-no-nested": "server2022-vm-no-nested",
    "bios-vt-off": "server2022-vt-off",
    "low-memory": "server2022-low-memory",
    "server2022-converged": "server2022-converged",
}


def spec(**changes: Any) -> HostSpec:
    return HostSpec.model_validate({**SITE, **changes})


def new_host(profile: str, **options: Any) -> LabHostModel:
    host = make_host(profile, "lab-0001", "127.77.0.1", reboot_seconds=0.05, **options)
    host.shutdown_delay = 0.01
    return host


def run(host: LabHostModel, script: str) -> ScriptOutput:
    result = host.run_script(script)
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    out = parse_output(result.stdout)
    assert not out.problems and not out.logs, (out.problems, out.logs)
    return out


def facts(host: LabHostModel, the_spec: HostSpec | None = None) -> Facts:
    record = run(host, R.facts(host.name, facts_request(the_spec or spec()))).records["facts"]
    assert record.ok, record.error
    return Facts.model_validate(record.data)


def one_block(
    host: LabHostModel, block_id: str, block_type: str, action: str, params: BlockParams, requires: tuple[str, ...] = ()
) -> Record:
    """A hand-made script of one block: what plan() would not produce, but a block must survive."""
    out = run(host, R.script(host.name, "apply", [R.block(block_id, block_type, action, params, requires)]))
    return out.records[block_id]


def wait_up(host: LabHostModel, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    time.sleep(host.shutdown_delay + 0.01)
    while not host.is_up():
        assert time.monotonic() < deadline, "host did not come back"
        time.sleep(0.01)


def converge(host: LabHostModel, the_spec: HostSpec, rounds: int = 4) -> Plan:
    """facts -> plan -> apply -> reboot when asked, as the engine does (DESIGN 2), until in state."""
    for _ in range(rounds):
        the_plan = plan(host.name, the_spec, facts(host, the_spec))
        assert not the_plan.blocked, the_plan.preflight
        if not the_plan.changes:
            return the_plan
        records = run(host, R.apply(the_plan)).records
        assert all(r.ok for r in records.values()), {k: r.message for k, r in records.items()}
        if any(r.reboot_required for r in records.values()):
            run(host, R.reboot(host.name, "features"))
            wait_up(host)
    raise AssertionError("did not converge")


def verify_params(image: str, isolation: str, command: list[str] | None = None) -> VerifyParams:
    return VerifyParams(
        image=image,
        isolation=isolation,  # type: ignore[arg-type]
        command=command or ["cmd", "/c", "echo", NONCE],
        expect=NONCE,
        timeout=600.0,
        docker=DOCKER,
    )


# --- facts ---------------------------------------------------------------------------------------


# Converged variants that cannot exist: the engine or Hyper-V refuses these machines.
IMPOSSIBLE = ("win10-home", "server2016", "vm-no-nested", "bios-vt-off")


@pytest.mark.parametrize(
    "profile",
    [p for p in profile_names() if p.removesuffix("-converged") not in IMPOSSIBLE or not p.endswith("-converged")],
)
def test_every_profile_reports_valid_facts(profile: str) -> None:
    host = new_host(profile)
    found = facts(host)
    assert found.os.product_type in (1, 3)
    assert set(found.features) == {"Containers", "Microsoft-Hyper-V"}
    assert found.files[DAEMON_JSON].exists == profile.endswith("-converged")
    assert found.engine.installed == profile.endswith("-converged")
    if profile in FIXTURE_OF:
        fixture = json.loads((FIXTURES / f"{FIXTURE_OF[profile]}.json").read_text(encoding="utf-8"))
        assert found.model_dump(mode="json")["os"] == fixture["os"]
        assert found.model_dump(mode="json")["hardware"] == fixture["hardware"]
        assert found.features == fixture["features"]


def test_hosts_where_the_engine_cannot_run_cannot_be_built_converged() -> None:
    assert facts(new_host("win10-home")).features == {"Containers": "Absent", "Microsoft-Hyper-V": "Absent"}
    with pytest.raises(ValueError, match="vmcompute.dll"):
        new_host("win10-home-converged")
    with pytest.raises(ValueError, match="Windows build 17763 or higher is required"):
        new_host("server2016-converged")
    for profile in ("vm-no-nested-converged", "bios-vt-off-converged"):
        with pytest.raises(ValueError, match="A prerequisite check for the Hyper-V feature failed"):
            new_host(profile)


def test_a_running_hypervisor_hides_the_virtualization_readings() -> None:
    # VirtualizationFirmwareEnabled reads False once a hypervisor runs (wf §2).
    hw = facts(new_host("server2022-converged")).hardware
    assert (hw.hypervisor_present, hw.vt_firmware_enabled, hw.vm_monitor_mode_extensions) == (True, False, False)
    assert hw.firmware_vt == "unknown"
    # A guest always sees its parent's hypervisor.
    assert facts(new_host("vm-no-nested")).hardware.hypervisor_present is True
    assert facts(new_host("server2022")).hardware.hypervisor_present is False


def test_facts_records_are_written_as_powershell_51_writes_json() -> None:
    host = new_host("server2022-converged", daemon={"labels": ["it's <b> & c"]})
    stdout = host.run_script(R.facts(host.name, facts_request(spec()))).stdout
    assert stdout.startswith('@@provision {"id":"facts","ok":true,"changed":false,"reboot_required":false,"data":')
    assert "it\\u0027s \\u003cb\\u003e \\u0026 c" in stdout  # ConvertTo-Json's HTML escapes in 5.1
    assert '"memory_gb":16,' in stdout  # a whole double prints without a fraction
    assert facts(host).files[DAEMON_JSON].content == canonical_json({"labels": ["it's <b> & c"]})


# --- script-level behaviour --------------------------------------------------------------------------


def test_a_script_that_does_not_parse_runs_nothing() -> None:
    host = new_host("server2022")
    before = host.snapshot()
    script = R.apply(plan(host.name, spec(), facts(host)))
    assert "$RebootRequired = $false\n" in script
    result = host.run_script(script.replace("$RebootRequired = $false\n", "$RebootRequired = ($false\n"))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith('Exception calling "Create" with "1" argument(s): "At line:')
    assert "    + CategoryInfo          : NotSpecified: (:) [], MethodInvocationException\n" in result.stderr
    assert "    + FullyQualifiedErrorId : ParseException\n" in result.stderr
    assert host.snapshot() == before
    assert host.counters["parse_errors"] == 1


@pytest.mark.parametrize(
    "line, message",
    [
        # PowerShell ends a single-quoted string at any of the five single quotes (DESIGN 5).
        ("$x = 'it\u2019s'", "Unexpected token 's''"),
        ("$h = @{ a = 1; 'A' = 2 }", "Duplicate keys 'A' are not allowed in hash literals."),
        ("$x = (1 + 2", "Missing closing ')' in expression."),
        ("function f {", "Missing closing '}' in statement block or type definition."),
        ('$s = "unterminated', 'The string is missing the terminator: ".'),
    ],
)
def test_parse_errors_the_grammar_alone_would_miss_or_misname(line: str, message: str) -> None:
    result = new_host("server2022").run_script("# test\n" + line + "\n")
    assert result.exit_code == 1 and message in result.stderr


def test_a_script_without_markers_runs_nothing() -> None:
    host = new_host("server2022")
    before = host.snapshot()
    assert host.run_script("Write-Output 'hello'\n") == ExecResult("", "", 0)
    assert host.snapshot() == before


def test_an_unknown_block_type_gets_an_error_record() -> None:
    script = R.reboot("lab-0001", "x").replace('"type":"reboot"', '"type":"mystery"')
    record = run(new_host("server2022"), script).records["reboot"]
    assert not record.ok and record.error is not None
    assert record.error["category"] == "NotImplemented" and "mystery" in record.message


def test_params_that_differ_from_the_marker_are_refused() -> None:
    host = new_host("server2022")
    script = R.facts(host.name, facts_request(spec()))
    assert "'Microsoft-Hyper-V')" in script
    edited = script.replace("'Microsoft-Hyper-V')", "'Microsoft-Hyper-V', 'Extra')", 1)
    record = run(host, edited).records["facts"]
    assert not record.ok and record.error is not None and record.error["category"] == "InvalidData"
    assert record.message.startswith("params literal does not match the marker: $P.features")
    not_literal = script.replace("$P = [ordered]@{", "$P = $env:X + [ordered]@{", 1)
    assert "not a PowerShell literal" in run(host, not_literal).records["facts"].message
    other_id = script.replace("$Id = 'facts'", "$Id = 'fact'", 1)
    assert "$Id" in run(host, other_id).records["facts"].message


def test_quotes_and_subexpressions_reach_daemon_json_unchanged() -> None:
    labels = [
        "it's",
        "typographic \u2018single\u2019 \u201alow\u201b ''",
        "$(Remove-Item C:\\ -Recurse) `n $env:PATH",
        'double "quotes" and \\backslash',
        "line\r\nbreak @'\n'@ #>",
    ]
    host = new_host("server2022")
    converge(host, spec(daemon={"labels": labels}))
    stored = host.snapshot()["files"][DAEMON_JSON]["content"]
    assert stored == canonical_json({"labels": labels})
    assert json.loads(stored)["labels"] == labels


def test_scripts_on_one_host_are_serialised() -> None:
    host = new_host("server2022")
    script = R.facts(host.name, facts_request(spec()))
    outputs: list[bool] = []

    def worker() -> None:
        for _ in range(5):
            outputs.append(parse_output(host.run_script(script).stdout).records["facts"].ok)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == [True] * 20 and host.counters["scripts"] == 20


# --- requires and skips ------------------------------------------------------------------------------


def test_blocks_after_a_failed_or_rebooting_block_are_skipped() -> None:
    host = new_host("win11-23h2-pro")
    feature = R.block(
        "feature/Containers",
        "windows_feature",
        "set",
        FeatureParams(name="Containers", method="server", role="Containers"),
    )
    engine = R.block(
        "engine/docker",
        "container_engine",
        "set",
        EngineParams(
            version="27.3.1",
            url=engine_url("27.3.1"),
            sha256=engine_sha256("27.3.1"),
            install_dir=r"C:\Program Files\docker",
            service="docker",
        ),
        requires=("feature/Containers",),
    )
    orphan = R.block("daemon/config", "reboot", "restart", RebootParams(reason="x"), requires=("nowhere",))
    records = run(host, R.script(host.name, "apply", [feature, engine, orphan])).records
    skipped = records["engine/docker"]
    assert not skipped.ok and skipped.skipped == "required block feature/Containers did not succeed"
    assert skipped.error == {
        "message": "required block feature/Containers did not succeed",
        "category": "NotSpecified",
        "exception": "System.InvalidOperationException",
    }
    assert skipped.data is None
    assert records["daemon/config"].skipped == "required block nowhere did not succeed"
    assert host.is_up()


# --- windows_feature -------------------------------------------------------------------------------


def test_install_windows_feature_leaves_the_feature_pending_until_a_reboot() -> None:
    host = new_host("server2022")
    params = FeatureParams(name="Containers", method="server", role="Containers")
    first = one_block(host, "feature/Containers", "windows_feature", "set", params)
    assert (first.ok, first.changed, first.reboot_required) == (True, True, True)
    assert first.data == {"before": "Disabled", "after": "EnablePending"}
    assert facts(host).reboot.reasons == ["ComponentBasedServicing"]
    again = one_block(host, "feature/Containers", "windows_feature", "set", params)
    assert (again.ok, again.changed, again.reboot_required) == (True, False, True)
    run(host, R.reboot(host.name, "features"))
    wait_up(host)
    done = one_block(host, "feature/Containers", "windows_feature", "set", params)
    assert (done.changed, done.reboot_required, done.data) == (False, False, {"before": "Enabled", "after": "Enabled"})


def test_install_windows_feature_does_not_exist_on_client_skus() -> None:
    record = one_block(
        new_host("win11-23h2-pro"),
        "f",
        "windows_feature",
        "set",
        FeatureParams(name="Containers", method="server", role="Containers"),
    )
    assert record.error == {
        "message": "The term 'Install-WindowsFeature' is not recognized as the name of a cmdlet, function, script "
        "file, or operable program. Check the spelling of the name, or if a path was included, verify "
        "that the path is correct and try again.",
        "category": "ObjectNotFound",
        "exception": "System.Management.Automation.CommandNotFoundException",
    }


def test_home_edition_does_not_know_the_features() -> None:
    record = one_block(
        new_host("win10-home"), "f", "windows_feature", "set", FeatureParams(name="Microsoft-Hyper-V", method="dism")
    )
    assert record.error == {
        "message": "Feature name Microsoft-Hyper-V is unknown.",
        "category": "NotSpecified",
        "exception": "System.Runtime.InteropServices.COMException",
    }


@pytest.mark.parametrize("profile", ["vm-nested", "vm-no-nested", "bios-vt-off"])
def test_install_windows_feature_hyper_v_fails_its_prerequisite_check(profile: str) -> None:
    host = new_host(profile)
    before = host.snapshot()
    record = one_block(
        host,
        "f",
        "windows_feature",
        "set",
        FeatureParams(name="Microsoft-Hyper-V", method="server", role="Hyper-V", include_management_tools=True),
    )
    assert record.error is not None and record.error["category"] == "InvalidOperation"
    assert record.message == (
        "A prerequisite check for the Hyper-V feature failed.\r\n1. Hyper-V cannot be "
        "installed because virtualization support is not enabled in the BIOS."
    )
    assert record.data == {"before": "Disabled"}
    assert host.snapshot() == before


def test_dism_enables_hyper_v_in_a_vm_that_exposes_virtualization() -> None:
    host = new_host("vm-nested")
    record = one_block(host, "f", "windows_feature", "set", FeatureParams(name="Microsoft-Hyper-V", method="dism"))
    assert (record.ok, record.changed, record.reboot_required) == (True, True, True)
    run(host, R.reboot(host.name, "features"))
    wait_up(host)
    after = facts(host)
    assert after.feature("Microsoft-Hyper-V") == "Enabled" and after.nested_virtualization == "yes"
    assert host.snapshot()["hypervisor_running"] is True


@pytest.mark.parametrize("profile", ["vm-no-nested", "bios-vt-off"])
def test_dism_cannot_enable_hyper_v_without_virtualization(profile: str) -> None:
    host = new_host(profile)
    before = host.snapshot()
    record = one_block(host, "f", "windows_feature", "set", FeatureParams(name="Microsoft-Hyper-V", method="dism"))
    assert record.error is not None and record.error["exception"] == "System.Runtime.InteropServices.COMException"
    assert record.message.startswith("A prerequisite check for the Hyper-V feature failed.")
    assert host.snapshot() == before
    # Drift that leaves it pending anyway: the reboot does not make it Enabled.
    host.set_feature("Microsoft-Hyper-V", "EnablePending")
    run(host, R.reboot(host.name, "x"))
    wait_up(host)
    assert facts(host).feature("Microsoft-Hyper-V") == "Disabled"


# --- reboot --------------------------------------------------------------------------------------------


def test_a_reboot_takes_the_host_down_then_brings_it_back_with_a_new_boot_id() -> None:
    host = new_host("server2022")
    one_block(host, "f", "windows_feature", "set", FeatureParams(name="Containers", method="dism"))
    boot = facts(host).reboot.boot_id
    record = run(host, R.reboot(host.name, "feature/Containers")).records["reboot"]
    assert (record.ok, record.changed) == (True, True)
    assert record.data == {"boot_id": boot, "reason": "feature/Containers"}
    assert host.is_up()  # the record got out first
    time.sleep(host.shutdown_delay + 0.005)
    assert not host.is_up()
    with pytest.raises(HostDownError):
        host.run_script("")
    wait_up(host)
    after = facts(host)
    assert after.reboot.boot_id != boot and after.reboot.boot_id.endswith("Z")
    assert (after.feature("Containers"), after.reboot.pending) == ("Enabled", False)


def test_fault_reboot_never_returns_and_fault_reboot_seconds() -> None:
    stuck = new_host("server2022")
    stuck.faults.reboot_never_returns = True
    run(stuck, R.reboot(stuck.name, "x"))
    time.sleep(stuck.shutdown_delay + 0.12)
    assert not stuck.is_up()
    slow = new_host("server2022")
    slow.faults.reboot_seconds = 0.3
    run(slow, R.reboot(slow.name, "x"))
    time.sleep(slow.shutdown_delay + 0.12)
    assert not slow.is_up()
    wait_up(slow)


# --- container_engine ------------------------------------------------------------------------------------


def engine_params(version: str = "27.3.1", **changes: Any) -> EngineParams:
    values: dict[str, Any] = {
        "version": version,
        "url": engine_url(version),
        "sha256": engine_sha256(version),
        "install_dir": r"C:\Program Files\docker",
        "service": "docker",
    }
    values.update(changes)
    return EngineParams(**values)


def containers_enabled() -> LabHostModel:
    host = new_host("server2022")
    converge(host, spec(features=["Containers"], engine=None, daemon=None, verify={"when": "never"}))
    return host


def test_the_engine_is_downloaded_verified_registered_and_started() -> None:
    host = containers_enabled()
    record = one_block(host, "engine/docker", "container_engine", "set", engine_params())
    assert (record.ok, record.changed) == (True, True)
    assert record.data == {"before": None, "after": "27.3.1", "service": "Running"}
    state = host.snapshot()
    assert state["services"]["docker"] == {
        "name": "docker",
        "status": "Running",
        "start_type": "Automatic",
        "install_dir": r"C:\Program Files\docker",
    }
    assert state["machine_path"][-1] == r"C:\Program Files\docker"
    again = one_block(host, "engine/docker", "container_engine", "set", engine_params())
    assert (again.ok, again.changed) == (True, False)


def test_a_checksum_mismatch_installs_nothing() -> None:
    host = containers_enabled()
    before = host.snapshot()
    record = one_block(host, "e", "container_engine", "set", engine_params(sha256="0" * 64))
    assert record.error == {
        "message": f"SHA-256 mismatch for {engine_url('27.3.1')}: expected {'0' * 64}, got {engine_sha256('27.3.1')}; "
        "nothing was installed",
        "category": "OperationStopped",
        "exception": "System.Management.Automation.RuntimeException",
    }
    assert record.data == {"before": None}
    assert host.snapshot() == before


@pytest.mark.parametrize(
    "fault, url",
    [(False, "https://download.docker.com/win/static/stable/x86_64/docker-1.0.0.zip"), (True, engine_url("27.3.1"))],
)
def test_a_failed_download_installs_nothing(fault: bool, url: str) -> None:
    host = containers_enabled()
    host.faults.download_failure = fault
    before = host.snapshot()
    record = one_block(host, "e", "container_engine", "set", engine_params(url=url))
    assert record.error == {
        "message": "The remote server returned an error: (404) Not Found.",
        "category": "InvalidOperation",
        "exception": "System.Net.WebException",
    }
    assert host.snapshot() == before


def test_dockerd_does_not_start_without_the_containers_feature() -> None:
    host = new_host("server2022")
    record = one_block(host, "e", "container_engine", "set", engine_params())
    assert record.error == {
        "message": "Failed to start service 'Docker Engine (docker)'.",
        "category": "OpenError",
        "exception": "Microsoft.PowerShell.Commands.ServiceCommandException",
    }
    state = host.snapshot()
    assert state["services"]["docker"]["status"] == "Stopped"
    assert state["service_log"] == [
        "docker: failed to load vmcompute.dll, ensure that the Containers feature is installed"
    ]


def test_current_engines_do_not_start_below_build_17763() -> None:
    host = new_host("server2016")
    converge(host, spec(features=["Containers"], engine=None, daemon=None, verify={"when": "never"}))
    record = one_block(host, "e", "container_engine", "set", engine_params())
    assert record.message == "Failed to start service 'Docker Engine (docker)'."
    assert host.snapshot()["service_log"] == [
        "docker: this version of Windows does not support the docker daemon (Windows build 17763 or higher is required)"
    ]


def test_a_different_version_is_upgraded_in_place() -> None:
    host = new_host("server2022-converged")
    the_plan = plan(host.name, spec(engine={"version": "28.0.4", "sha256": engine_sha256("28.0.4")}), facts(host))
    assert [c.id for c in the_plan.changes] == ["engine/docker"]
    record = run(host, R.apply(the_plan)).records["engine/docker"]
    assert (record.ok, record.changed, record.data) == (
        True,
        True,
        {"before": "27.3.1", "after": "28.0.4", "service": "Running"},
    )
    assert facts(host).engine.version == "28.0.4"


def test_the_catalog_answers_dockers_url_pattern_with_a_fixed_zip() -> None:
    assert engine_url("27.3.1") == "https://download.docker.com/win/static/stable/x86_64/docker-27.3.1.zip"
    assert engine_sha256("27.3.1") == engine_sha256("27.3.1") != engine_sha256("28.0.4")
    with pytest.raises(KeyError):
        engine_sha256("1.0.0")


# --- daemon_config -------------------------------------------------------------------------------------


def daemon_params(content: str, validate: bool = True) -> DaemonParams:
    import hashlib

    return DaemonParams(
        path=DAEMON_JSON,
        content=content,
        sha256=hashlib.sha256(content.encode()).hexdigest(),
        service="docker",
        dockerd=DOCKERD,
        validate_config=validate,
    )


def test_a_changed_daemon_json_is_backed_up_written_and_the_engine_restarted() -> None:
    host = new_host("server2022-converged")
    old = host.snapshot()["files"][DAEMON_JSON]
    new = canonical_json({"debug": True})
    record = one_block(host, "daemon/config", "daemon_config", "set", daemon_params(new))
    assert (record.ok, record.changed) == (True, True)
    assert record.data == {"before_sha256": old["sha256"], "restarted": True, "after_sha256": daemon_params(new).sha256}
    files = host.snapshot()["files"]
    assert files[DAEMON_JSON]["content"] == new
    assert files[DAEMON_JSON + ".provision-backup"] == old
    assert DAEMON_JSON + ".provision-new" not in files
    same = one_block(host, "daemon/config", "daemon_config", "set", daemon_params(new))
    assert (same.changed, same.data) == (
        False,
        {"before_sha256": daemon_params(new).sha256, "after_sha256": daemon_params(new).sha256},
    )


def test_dockerd_validate_refuses_linux_only_keys_and_nothing_moves() -> None:
    host = new_host("server2022-converged")
    before = host.snapshot()
    record = one_block(
        host, "d", "daemon_config", "set", daemon_params(canonical_json({"iptables": False, "debug": True, "bip": "x"}))
    )
    assert record.error is not None and record.error["category"] == "OperationStopped"
    assert record.message == (
        "dockerd --validate refused the new daemon.json: unable to configure the Docker daemon with file "
        r"C:\ProgramData\docker\config\daemon.json.provision-new: the following directives don't match any "
        "configuration option: bip, iptables"
    )
    assert host.snapshot() == before


def test_without_validation_a_bad_daemon_json_stops_the_engine() -> None:
    host = new_host("server2022-converged")
    record = one_block(host, "d", "daemon_config", "set", daemon_params('{"hosts": ["npipe://"],}\n', validate=False))
    assert record.message == "Failed to start service 'Docker Engine (docker)'."
    state = host.snapshot()
    assert state["services"]["docker"]["status"] == "Stopped"
    assert state["service_log"][-1] == (
        r"docker: unable to configure the Docker daemon with file "
        r"C:\ProgramData\docker\config\daemon.json: invalid JSON: invalid character "
        "'}' looking for beginning of object key string"
    )


# --- container_verify ----------------------------------------------------------------------------------


def verify(host: LabHostModel, image: str, isolation: str, command: list[str] | None = None) -> Record:
    return one_block(host, "verify", "container_verify", "test", verify_params(image, isolation, command))


def test_a_converged_host_runs_the_hello_world_of_its_build() -> None:
    host = new_host("server2022")
    the_plan = converge(host, spec())
    assert the_plan.verify is not None
    record = run(host, R.verify(the_plan, NONCE, DOCKER)).records["verify"]
    assert (record.ok, record.data["exit_code"]) == (True, 0)
    assert record.data["output"].endswith("\n" + NONCE)
    assert record.data["output"].startswith(
        "Unable to find image 'mcr.microsoft.com/windows/nanoserver:ltsc2022' locally"
    )
    cached = run(host, R.verify(the_plan, NONCE, DOCKER)).records["verify"]
    assert cached.data == {"exit_code": 0, "output": NONCE}


def test_an_image_newer_than_the_host_cannot_be_pulled() -> None:
    record = verify(new_host("server2019-converged"), "mcr.microsoft.com/windows/nanoserver:ltsc2022", "hyperv")
    assert not record.ok and record.data["exit_code"] == 125
    assert (
        "docker: no matching manifest for windows/amd64 10.0.17763 in the manifest list entries."
        in record.data["output"]
    )
    assert record.message.startswith("docker cannot pull mcr.microsoft.com/windows/nanoserver:ltsc2022")


def test_hello_world_has_no_windows_variant_for_windows_10() -> None:
    record = verify(new_host("win10-22h2-pro-converged"), "hello-world:nanoserver", "hyperv")
    assert "no matching manifest for windows/amd64 10.0.19045" in record.data["output"]


@pytest.mark.parametrize(
    "profile, image, ok",
    [
        ("server2025-converged", "mcr.microsoft.com/windows/nanoserver:ltsc2022", True),
        ("server2025-converged", "mcr.microsoft.com/windows/nanoserver:1809", False),
        ("server2022-converged", "mcr.microsoft.com/windows/servercore:ltsc2019", False),
        ("win11-23h2-pro-converged", "mcr.microsoft.com/windows/nanoserver:ltsc2022", True),
        ("win10-22h2-pro-converged", "mcr.microsoft.com/windows/nanoserver:1809", False),
        ("server2019-converged", "mcr.microsoft.com/windows/nanoserver:1809", True),
    ],
)
def test_process_isolation_follows_microsofts_matrix(profile: str, image: str, ok: bool) -> None:
    record = verify(new_host(profile), image, "process")
    assert record.ok is ok, record.data
    if not ok:
        assert "hcs::CreateComputeSystem" in record.data["output"]
        assert "The container operating system does not match the host operating system." in record.data["output"]
        assert "does not match this host's build for process isolation" in record.message


def test_hyperv_isolation_runs_older_images_where_a_hypervisor_runs() -> None:
    record = verify(new_host("server2025-converged"), "mcr.microsoft.com/windows/nanoserver:1809", "hyperv")
    assert record.ok and record.data["output"].endswith(NONCE)


@pytest.mark.parametrize("profile", ["vm-no-nested", "bios-vt-off", "server2022"])
def test_hyperv_isolation_needs_a_running_hypervisor(profile: str) -> None:
    host = new_host(profile + "-converged", features=["Containers"])
    record = verify(host, "mcr.microsoft.com/windows/nanoserver:ltsc2022", "hyperv")
    assert "No hypervisor is present on this system. (0xc0351000)" in record.data["output"]
    assert record.message.startswith("Hyper-V isolation needs a running hypervisor")


def test_verify_needs_the_engine_running() -> None:
    host = new_host("server2022-converged")
    host.stop_service("docker")
    record = verify(host, "mcr.microsoft.com/windows/nanoserver:ltsc2022", "process")
    assert record.data["output"].startswith(
        "docker: error during connect: this error may indicate that the docker daemon is not running: Post "
        '"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/containers/create": open //./pipe/docker_engine: '
        "The system cannot find the file specified."
    )
    assert record.message.startswith("verify container failed (exit 125): docker: error during connect")


def test_verify_fails_when_the_nonce_does_not_come_back() -> None:
    record = verify(
        new_host("server2022-converged"),
        "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "process",
        ["cmd", "/c", "echo", "something else"],
    )
    assert not record.ok and record.data["exit_code"] == 0
    assert record.message.startswith("verify container failed (exit 0):")


# --- drift ---------------------------------------------------------------------------------------------


def test_drift_helpers_show_up_as_drift_and_apply_repairs_them() -> None:
    host = new_host("server2022-converged")
    assert plan(host.name, spec(), facts(host)).in_state
    host.set_feature("Containers", "Disabled")
    host.set_daemon_key("log-level", '"debug"')
    host.stop_service("docker")
    drift = plan(host.name, spec(), facts(host))
    assert [c.id for c in drift.changes] == ["feature/Containers", "engine/docker", "daemon/config"]
    with pytest.raises(ValueError):
        host.set_feature("Containers", "Installed")
    # The service cannot start until the feature comes back after a reboot.
    converge(host, spec())
    assert plan(host.name, spec(), facts(host)).in_state


def test_a_converged_host_changes_nothing_on_a_second_apply() -> None:
    host = new_host("vm-nested")
    converge(host, spec())
    before = host.snapshot()
    records = run(host, R.apply(plan(host.name, spec(), facts(host)))).records
    assert records == {} and host.snapshot() == before


def test_every_converged_profile_agrees_with_the_lab_spec() -> None:
    for profile in PROFILES:
        if profile in IMPOSSIBLE:
            continue
        the_plan = plan("h", spec(), facts(new_host(profile + "-converged")))
        assert the_plan.changes == [], (profile, the_plan.changes)


def test_state_survives_export_and_restore() -> None:
    host = new_host("server2022")
    converge(host, spec())
    saved = json.loads(json.dumps(host.export_state()))
    twin = new_host("server2022")
    twin.restore_state(saved)
    assert twin.snapshot() == host.snapshot()
    # A host saved while restarting comes back booted, with pending features enabled.
    fresh = new_host("server2022")
    one_block(fresh, "f", "windows_feature", "set", FeatureParams(name="Containers", method="dism"))
    run(fresh, R.reboot(fresh.name, "x"))
    restored = new_host("server2022")
    restored.restore_state(json.loads(json.dumps(fresh.export_state())))
    assert restored.is_up() and facts(restored).feature("Containers") == "Enabled"
    with pytest.raises(ValueError, match="version"):
        restored.restore_state({"version": 0})
