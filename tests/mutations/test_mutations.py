"""One-line template mutations that would break a real Windows host, each caught end to end by the lab.

Every template in provisioner/templates (the prelude, the block wrapper and each resource) has at
least two mutations: a step that never happens, a misspelt key or property, an inverted test, a
property or parameter Windows does not have, a wrong name, a missing ``-Force``, an exit code left
unchecked. Each row names the flow that runs it and the text the failure must carry, which is the
assertion that catches it (``caught_by``):

- ``apply``: the first ``provision apply`` of site.yml on a fresh Windows Server 2022 fails (exit 3,
  host ``failed``) and the report says why;
- ``change`` / ``upgrade``: the shipped templates converge the host, then a changed daemon setting
  or a newer engine is applied with the mutated ones and fails;
- ``desktop``: the first apply of workstations.yml on a fresh Windows 11 Pro fails;
- ``desktop-logon``: that apply ends pending a logon; after the developer logs on, the next apply fails;
- ``doctor``: ``provision doctor`` reports the host unhealthy;
- ``k8s``: the first apply of k8s-nodes.yml on a fresh Kubernetes node (Server 2022) fails;
- ``k8s-upgrade``: containerd 1.7 is applied with the shipped templates, then the upgrade to 2.3 fails.

The first two tests prove the flows pass with the shipped templates, so a mutation's failure is its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from provision_lab import containerd_sha256, engine_sha256
from provision_lab.control import apply_drift

from .conftest import MutationLab

SERVER = {"web1": "server2022"}
CHANGES = {
    "change": {"daemon": {"log-level": "debug"}},
    "upgrade": {"engine": {"version": "27.4.1", "sha256": engine_sha256("27.4.1")}},
}
WORKSTATION = {"ws1": "workstation-win11-23h2-pro"}
NODE = {"node1": "k8s-node-2022"}
OLD_CONTAINERD = {"engine": {"version": "1.7.28", "sha256": containerd_sha256("1.7.28"), "kubernetes_version": "1.34"}}
"""What ``k8s-upgrade`` installs with the shipped templates before the mutated ones upgrade it to 2.3.0."""


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    flow: str
    caught_by: str
    """Text the failing run's report (or doctor's output) must contain."""


R = "resources/"
MUTATIONS = [
    # -- prelude.ps1.j2 -------------------------------------------------------------------------
    Mutation(
        "prelude-record-prefix-misspelt",
        "prelude.ps1.j2",
        "'@@provision ' + (",
        "'@@provisio ' + (",
        "apply",
        "no record",
    ),
    Mutation(
        "prelude-json-too-shallow", "prelude.ps1.j2", "-Compress -Depth 8", "-Compress -Depth 1", "apply", "facts"
    ),
    Mutation(
        "prelude-skip-reads-a-missing-key",
        "prelude.ps1.j2",
        "-not $result.ok)",
        "-not $result.okay)",
        "apply",
        "did not succeed",
    ),
    # -- block.ps1.j2 ---------------------------------------------------------------------------
    Mutation(
        "block-reboot-flag-dropped",
        "block.ps1.j2",
        " -RebootRequired $RebootRequired -Data $Data",
        " -Data $Data",
        "apply",
        "Failed to start service",
    ),
    Mutation(
        "block-params-variable-misspelt",
        "block.ps1.j2",
        "    $P = {{ params | ps }}",
        "    $Params = {{ params | ps }}",
        "apply",
        "cannot be retrieved because it has not been set",
    ),
    # -- facts.ps1.j2 ---------------------------------------------------------------------------
    Mutation(
        "facts-property-windows-lacks",
        "resources/facts.ps1.j2",
        "[int] $os.BuildNumber",
        "[int] $os.Build",
        "apply",
        "Build",
    ),
    Mutation(
        "facts-inverted-feature-test",
        "resources/facts.ps1.j2",
        "if ($null -eq $feature) { $features[$name] = 'Absent' }",
        "if ($null -ne $feature) { $features[$name] = 'Absent' }",
        "apply",
        "Containers",
    ),
    Mutation(
        "facts-misspelt-service-property",
        "resources/facts.ps1.j2",
        "$engine['service'] = [ordered]@{ exists = $true; status = [string] $service.Status; start_type = [string] $service.StartType }",
        "$engine['service'] = [ordered]@{ exists = $true; status = [string] $service.Status; start_type = [string] $service.StartupType }",
        "apply",
        "StartupType",
    ),
    # -- windows_feature.ps1.j2 -----------------------------------------------------------------
    Mutation(
        "feature-dism-given-the-role-name",
        R + "windows_feature.ps1.j2",
        "Enable-WindowsOptionalFeature -Online -FeatureName $P.name",
        "Enable-WindowsOptionalFeature -Online -FeatureName $P.role",
        "apply",
        "Microsoft-Hyper-V",
    ),
    Mutation(
        "feature-property-windows-lacks",
        R + "windows_feature.ps1.j2",
        "[string] $result.RestartNeeded -ne 'No'",
        "[string] $result.RebootNeeded -ne 'No'",
        "apply",
        "RebootNeeded",
    ),
    Mutation(
        "feature-inverted-success",
        R + "windows_feature.ps1.j2",
        "if (-not $result.Success) {",
        "if ($result.Success) {",
        "apply",
        "Install-WindowsFeature Containers failed",
    ),
    # -- reboot.ps1.j2 --------------------------------------------------------------------------
    Mutation(
        "reboot-never-happens",
        R + "reboot.ps1.j2",
        "Restart-Computer -Force",
        "$null = 'Restart-Computer'",
        "apply",
        "reboot",
    ),
    Mutation(
        "reboot-powers-off-instead",
        R + "reboot.ps1.j2",
        "Restart-Computer -Force",
        "Stop-Computer -Force",
        "apply",
        "reboot",
    ),
    Mutation(
        "reboot-marker-not-volatile",
        R + "reboot.ps1.j2",
        "[Microsoft.Win32.RegistryOptions]::Volatile)",
        "[Microsoft.Win32.RegistryOptions]::None)",
        "apply",
        "volatile registry key is still there",
    ),
    # -- container_engine.ps1.j2 ----------------------------------------------------------------
    Mutation(
        "engine-marker-test-inverted",
        R + "container_engine.ps1.j2",
        "-and -not (Test-Path -LiteralPath $marker -PathType Leaf)",
        "-and (Test-Path -LiteralPath $marker -PathType Leaf)",
        "upgrade",
        "provision did not create it",
    ),
    Mutation(
        "engine-upgrade-without-stopping-the-service",
        R + "container_engine.ps1.j2",
        "{ Stop-Service -Name $P.service -Force }",
        "{ $null = $service }",
        "upgrade",
        "is not stopped in the specified time-out",
    ),
    Mutation(
        "engine-misspelt-dockerd-flag",
        R + "container_engine.ps1.j2",
        "& $dockerd --register-service --service-name",
        "& $dockerd --register-services --service-name",
        "apply",
        "dockerd --register-service failed with exit code 125",
    ),
    Mutation(
        "engine-inverted-version-test",
        R + "container_engine.ps1.j2",
        "if ($installed -ne $P.version) {",
        "if ($installed -eq $P.version) {",
        "apply",
        "is not recognized",
    ),
    Mutation(
        "engine-wrong-folder-in-zip",
        R + "container_engine.ps1.j2",
        "-ChildPath 'docker') -Destination",
        "-ChildPath 'docker-engine') -Destination",
        "apply",
        "does not exist",
    ),
    Mutation(
        # The record's data is read into the result by the resource's data model (resources/base.py).
        "engine-misspelt-data-key",
        R + "container_engine.ps1.j2",
        "$Data['after'] = $P.version",
        "$Data['aftr'] = $P.version",
        "apply",
        "block engine/docker returned data this version cannot read",
    ),
    # -- daemon_config.ps1.j2 -------------------------------------------------------------------
    Mutation(
        "daemon-misspelt-param-key",
        R + "daemon_config.ps1.j2",
        "WriteAllText($staged, $P.content,",
        "WriteAllText($staged, $P.contents,",
        "apply",
        "did not converge",
    ),
    Mutation(
        "daemon-replace-arguments-swapped",
        R + "daemon_config.ps1.j2",
        "[System.IO.File]::Replace($staged, $P.path,",
        "[System.IO.File]::Replace($P.path, $staged,",
        "change",
        "did not converge",
    ),
    # -- container_verify.ps1.j2 ----------------------------------------------------------------
    Mutation(
        "verify-isolation-flag-split",
        R + "container_verify.ps1.j2",
        "('--isolation=' + $P.isolation)",
        "('--isolation ' + $P.isolation)",
        "apply",
        "unknown flag",
    ),
    Mutation(
        "verify-inverted-exit-test",
        R + "container_verify.ps1.j2",
        "if ($LASTEXITCODE -ne 0 -or",
        "if ($LASTEXITCODE -eq 0 -or",
        "apply",
        "verify container failed (exit 0)",
    ),
    # -- diagnostics.ps1.j2 (provision doctor) --------------------------------------------------
    Mutation(
        "diagnostics-echo-misspelt",
        R + "diagnostics.ps1.j2",
        "$Data['echo'] = $P.echo",
        "$Data['echo'] = $P.echoes",
        "doctor",
        "FAILED",
    ),
    Mutation(
        "diagnostics-wsman-path-wrong",
        R + "diagnostics.ps1.j2",
        "'WSMan:\\localhost\\MaxEnvelopeSizekb'",
        "'WSMan:\\localhost\\MaxEnvelopeSize'",
        "doctor",
        "FAILED",
    ),
    # -- docker_desktop.ps1.j2 ------------------------------------------------------------------
    Mutation(
        "desktop-installer-arguments-misspelt",
        R + "docker_desktop.ps1.j2",
        "$start.Arguments = $P.command_line",
        "$start.Arguments = $P.commandline",
        "desktop",
        "exited -5",
    ),
    Mutation(
        "desktop-inverted-exit-code-test",
        R + "docker_desktop.ps1.j2",
        "if ($P.success_codes -notcontains $code -and",
        "if ($P.success_codes -contains $code -and",
        "desktop",
        "exited with code 0",
    ),
    # -- docker_users.ps1.j2 --------------------------------------------------------------------
    Mutation(
        "users-parameter-windows-lacks",
        R + "docker_users.ps1.j2",
        "Add-LocalGroupMember -Group $P.group -Member $member",
        "Add-LocalGroupMember -Group $P.group -Members $member",
        "desktop",
        "Members",
    ),
    Mutation(
        "users-misspelt-members-key",
        R + "docker_users.ps1.j2",
        "foreach ($member in $P.members) {",
        "foreach ($member in $P.member) {",
        "desktop",
        "did not converge",
    ),
    # -- desktop_config.ps1.j2 ------------------------------------------------------------------
    Mutation(
        "desktop-config-leaf-for-parent",
        R + "desktop_config.ps1.j2",
        "Split-Path -Path $P.path -Parent",
        "Split-Path -Path $P.path -Leaf",
        "desktop",
        "Could not find a part of the path",
    ),
    Mutation(
        "desktop-config-inverted-folder-test",
        R + "desktop_config.ps1.j2",
        "if (-not (Test-Path -Path $directory)) {",
        "if ((Test-Path -Path $directory)) {",
        "desktop",
        "Could not find a part of the path",
    ),
    # -- desktop_verify.ps1.j2 ------------------------------------------------------------------
    Mutation(
        "desktop-verify-probe-without-pipe",
        R + "desktop_verify.ps1.j2",
        "$probe = @('-H', $P.pipe, 'version',",
        "$probe = @('version',",
        "desktop-logon",
        "does not answer",
    ),
    Mutation(
        "desktop-verify-wrong-plugin-command",
        R + "desktop_verify.ps1.j2",
        "@('desktop', 'engine', 'use', $P.os)",
        "@('desktop', 'engine', 'switch', $P.os)",
        "desktop-logon",
        "docker desktop engine use",
    ),
    # -- wsl_package.ps1.j2 ---------------------------------------------------------------------
    Mutation(
        "wsl-msiexec-option-wrong",
        R + "wsl_package.ps1.j2",
        "'\" /qn /norestart'",
        "'\" /qz /norestart'",
        "desktop",
        "msiexec exited with code 1639",
    ),
    Mutation(
        "wsl-package-started-instead-of-msiexec",
        R + "wsl_package.ps1.j2",
        "$start.FileName = $P.msiexec",
        "$start.FileName = $msi",
        "desktop",
        "Exception calling",
    ),
    # -- containerd_engine.ps1.j2 ---------------------------------------------------------------
    Mutation(
        "containerd-sha256-test-inverted",
        R + "containerd_engine.ps1.j2",
        "if ($actual -ne $P.sha256) {",
        "if ($actual -eq $P.sha256) {",
        "k8s",
        "SHA-256 mismatch",
    ),
    Mutation(
        "containerd-tar-target-flag-wrong",
        R + "containerd_engine.ps1.j2",
        "& $tar '-xf' $archive '-C' $staging 2>&1",
        "& $tar '-xf' $archive '-c' $staging 2>&1",
        "k8s",
        "tar.exe could not extract",
    ),
    Mutation(
        "containerd-bin-folder-misnamed",
        R + "containerd_engine.ps1.j2",
        "Move-Item -Path (Join-Path -Path $staging -ChildPath 'bin') -Destination $bin",
        "Move-Item -Path (Join-Path -Path $staging -ChildPath 'bins') -Destination $bin",
        "k8s",
        "because it does not exist",
    ),
    Mutation(
        "containerd-migrate-subcommand-misspelt",
        R + "containerd_engine.ps1.j2",
        "--config $config 'config' 'migrate' 2> $null",
        "--config $config 'config' 'migrat' 2> $null",
        "k8s-upgrade",
        "could not migrate",
    ),
    # -- containerd_config.ps1.j2 ---------------------------------------------------------------
    Mutation(
        "containerd-config-dump-misspelt",
        R + "containerd_config.ps1.j2",
        "--config $P.config 'config' 'dump' 2>&1",
        "--config $P.config 'config' 'dumb' 2>&1",
        "k8s",
        "refused the new configuration",
    ),
    Mutation(
        "containerd-config-unknown-key-test-inverted",
        R + "containerd_config.ps1.j2",
        "Where-Object { $_ -match 'Ignoring unknown key' }",
        "Where-Object { $_ -notmatch 'Ignoring unknown key' }",
        "k8s",
        "would ignore keys",
    ),
    # -- containerd_verify.ps1.j2 ---------------------------------------------------------------
    Mutation(
        "containerd-verify-pulls-into-the-default-namespace",
        R + "containerd_verify.ps1.j2",
        "$arguments = @('-n', 'k8s.io', 'images', 'pull', $P.image)",
        "$arguments = @('images', 'pull', $P.image)",
        "k8s",
        "not found",
    ),
    Mutation(
        "containerd-verify-isolation-inverted",
        R + "containerd_verify.ps1.j2",
        "if ($P.isolated) { $arguments += '--isolated' }",
        "if (-not $P.isolated) { $arguments += '--isolated' }",
        "k8s",
        "Hyper-V isolation needs a running hypervisor",
    ),
    Mutation(
        "containerd-verify-crictl-runtime-ready-inverted",
        R + "containerd_verify.ps1.j2",
        """-and $Matches[0] -match '"status":\\s*true'""",
        """-and $Matches[0] -match '"status":\\s*false'""",
        "k8s",
        "crictl info",
    ),
]


def _server(lab: MutationLab, mutation: Mutation) -> None:
    site = lab.playbook("site.yml", "windows")
    if mutation.flow in ("change", "upgrade"):
        assert lab.cli("apply", site, mutated=False).code == 0
        site = lab.playbook("site.yml", "windows", spec=CHANGES[mutation.flow])
    first = lab.cli("apply", site)
    assert first.code == 3 and first.host("web1")["status"] == "failed", first.out + first.err
    assert mutation.caught_by in first.text("web1"), first.text("web1")


def _node(lab: MutationLab, mutation: Mutation) -> None:
    book = lab.playbook("k8s-nodes.yml", "k8s_nodes")
    if mutation.flow == "k8s-upgrade":
        assert (
            lab.cli("apply", lab.playbook("k8s-nodes.yml", "k8s_nodes", spec=OLD_CONTAINERD), mutated=False).code == 0
        )
    first = lab.cli("apply", book)
    assert first.code == 3 and first.host("node1")["status"] == "failed", first.out + first.err
    assert mutation.caught_by in first.text("node1"), first.text("node1")


def _desktop(lab: MutationLab, mutation: Mutation) -> None:
    book = lab.playbook("workstations.yml", "workstations")
    first = lab.cli("apply", book)
    if mutation.flow == "desktop":
        assert first.code == 3 and first.host("ws1")["status"] == "failed", first.out + first.err
        assert mutation.caught_by in first.text("ws1"), first.text("ws1")
        return
    assert first.code == 2 and first.host("ws1")["status"] == "pending_logon", first.out + first.err
    apply_drift(lab.host("ws1"), None, None, None, logon="dev")
    second = lab.cli("apply", book)
    assert second.code != 0, second.out
    assert mutation.caught_by in second.text("ws1") + second.out, second.text("ws1")


def test_the_server_flows_pass_with_the_shipped_templates(mutation_lab: Callable[..., MutationLab]) -> None:
    lab = mutation_lab(SERVER, None)
    site = lab.playbook("site.yml", "windows")
    assert lab.cli("apply", site).code == 0
    assert lab.cli("check", site).code == 0
    for change in CHANGES.values():
        assert lab.cli("apply", lab.playbook("site.yml", "windows", spec=change)).code == 0
    code, said = lab.doctor(site)
    assert code == 0, said


def test_the_k8s_flows_pass_with_the_shipped_templates(mutation_lab: Callable[..., MutationLab]) -> None:
    lab = mutation_lab(NODE, None)
    assert lab.cli("apply", lab.playbook("k8s-nodes.yml", "k8s_nodes", spec=OLD_CONTAINERD)).code == 0
    book = lab.playbook("k8s-nodes.yml", "k8s_nodes")
    assert lab.cli("apply", book).code == 0
    assert lab.cli("check", book).code == 0


def test_the_desktop_flows_pass_with_the_shipped_templates(mutation_lab: Callable[..., MutationLab]) -> None:
    lab = mutation_lab(WORKSTATION, None)
    book = lab.playbook("workstations.yml", "workstations")
    first = lab.cli("apply", book)
    assert first.code == 2 and first.host("ws1")["status"] == "pending_logon", first.out
    apply_drift(lab.host("ws1"), None, None, None, logon="dev")
    assert lab.cli("apply", book).code == 0


def test_every_template_has_at_least_two_mutations() -> None:
    from .conftest import TEMPLATES

    templates = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.ps1.j2")}
    counts = {name: sum(m.file == name for m in MUTATIONS) for name in templates}
    assert {name: n for name, n in counts.items() if n < 2} == {}
    assert len({m.id for m in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_breaks_the_run(mutation_lab: Callable[..., MutationLab], mutation: Mutation) -> None:
    desktop = mutation.flow.startswith("desktop")
    node = mutation.flow.startswith("k8s")
    lab = mutation_lab(
        WORKSTATION if desktop else NODE if node else SERVER, (mutation.file, mutation.old, mutation.new)
    )
    if node:
        _node(lab, mutation)
    elif mutation.flow == "doctor":
        code, said = lab.doctor(lab.playbook("site.yml", "windows"))
        assert code != 0 and mutation.caught_by in said, said
    elif desktop:
        _desktop(lab, mutation)
    else:
        _server(lab, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_each_mutation_changes_exactly_one_line_of_its_template(tmp_path: Path, mutation: Mutation) -> None:
    from .conftest import TEMPLATES, mutate

    shutil.copytree(TEMPLATES, tmp_path / "t")
    mutate(tmp_path / "t", mutation.file, mutation.old, mutation.new)
    before = (TEMPLATES / mutation.file).read_text(encoding="utf-8").splitlines()
    after = (tmp_path / "t" / mutation.file).read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1
