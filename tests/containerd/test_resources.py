"""The containerd engine type's resources as pure functions over fixtures (no host): what differs, in what
order, the ImagePath registration makes, preflight verdicts, and the verify run."""

from __future__ import annotations

import hashlib
from datetime import date

from core.data import k8s_spec, load_facts, spec_with

from provisioner.facts import Facts
from provisioner.plan import facts_request, plan
from provisioner.resources import containerd_engine
from provisioner.resources.containerd_engine import _escape, image_path
from provisioner.resources.containerd_verify import choose
from provisioner.spec import ContainerdEngineSpec

HOME = r"C:\Program Files\containerd"
DROP_IN = HOME + r"\conf.d\provision.toml"


def engine() -> ContainerdEngineSpec:
    found = k8s_spec().engine
    assert isinstance(found, ContainerdEngineSpec)
    return found


def test_image_path_is_what_go_escapes_the_registration_to() -> None:
    assert image_path(engine()) == (
        f'"{HOME}\\bin\\containerd.exe" --run-service --service-name containerd --config "{HOME}\\config.toml" '
        r"--log-file C:\ProgramData\containerd\containerd.log --log-level info"
    )
    # syscall.EscapeArg: quotes only for a space or tab; a quote is escaped with the backslashes before it doubled.
    assert _escape("") == '""'
    assert _escape(r"C:\a\b") == r"C:\a\b"
    assert _escape('a"b') == 'a\\"b'
    assert _escape('C:\\dir with space\\"x') == '"C:\\dir with space\\\\\\"x"'
    assert _escape("C:\\dir with space\\") == '"C:\\dir with space\\\\"'


def test_a_fresh_node_gets_features_engine_and_config_in_order() -> None:
    the_plan = plan("n", k8s_spec(), load_facts("k8s-node-2022"))
    assert [c.type for c in the_plan.changes] == ["windows_feature", "containerd_engine", "containerd_config"]
    feature, install, config = the_plan.changes
    assert install.requires == (feature.id,) and config.requires == (feature.id, install.id)
    paths = {d.path for d in config.diff}
    assert paths == {
        "containerd.config.file",
        r"containerd.hosts.C:\ProgramData\containerd\certs.d\docker.io\hosts.toml",
    }
    assert the_plan.verify and the_plan.verify[0].to_json()["image"] == "mcr.microsoft.com/windows/nanoserver:ltsc2022"


def test_an_old_install_differs_by_version_and_by_the_flags_its_service_runs_with() -> None:
    install = next(
        c
        for c in plan("n", k8s_spec(), load_facts("k8s-node-2022-containerd17")).changes
        if c.type == "containerd_engine"
    )
    diff = {d.path: (d.before, d.after) for d in install.diff}
    assert diff["engine.version"] == ("1.7.28", "2.3.0")
    assert diff["engine.service.command_line"] == (f'"{HOME}\\bin\\containerd.exe" --run-service', image_path(engine()))
    assert isinstance(install.params, containerd_engine.ContainerdEngineParams) and install.params.migrate
    assert [(t.name, t.version, t.url) for t in install.params.tools] == [
        (
            "crictl",
            "1.34.0",
            "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-windows-amd64.tar.gz",
        )
    ]
    pinned = spec_with(
        k8s_spec(),
        engine={
            **engine().model_dump(mode="json"),
            "arch": "arm64",
            "nerdctl": {"version": "2.3.5", "sha256": "ab" * 32},
        },
    )
    tools = next(
        c for c in plan("n", pinned, load_facts("k8s-node-2022-containerd17")).changes if c.type == "containerd_engine"
    )
    assert isinstance(tools.params, containerd_engine.ContainerdEngineParams)
    assert tools.params.url.endswith("/v2.3.0/containerd-2.3.0-windows-arm64.tar.gz")
    assert [t.url for t in tools.params.tools][1] == (
        "https://github.com/containerd/nerdctl/releases/download/v2.3.5/nerdctl-2.3.5-windows-arm64.tar.gz"
    )
    assert ("engine.nerdctl", None, "2.3.5") in [(d.path, d.before, d.after) for d in tools.diff]


def test_the_drop_in_diff_is_key_by_key_and_a_large_file_differs_by_hash() -> None:
    facts = load_facts("k8s-node-2022-containerd17")
    request = facts_request(k8s_spec())
    assert DROP_IN in request.files and HOME + r"\config.toml" in request.files
    wanted = next(c for c in plan("n", k8s_spec(), facts).changes if c.type == "containerd_config")
    drop_in = next(f for f in wanted.params.files if f.path == DROP_IN)  # type: ignore[attr-defined]
    drifted = drop_in.content.replace("15m0s", "5m0s")
    files = {
        **facts.files,
        DROP_IN: {"exists": True, "sha256": hashlib.sha256(drifted.encode()).hexdigest(), "content": drifted},
    }
    found = Facts.model_validate({**facts.model_dump(mode="json"), "files": files})
    config = next(c for c in plan("n", k8s_spec(), found).changes if c.type == "containerd_config")
    assert [(d.path, d.before, d.after) for d in config.diff if d.path.startswith("containerd.config")] == [
        ("containerd.config.plugins.io.containerd.cri.v1.images.image_pull_progress_timeout", "5m0s", "15m0s")
    ]
    large = {**files, DROP_IN: {"exists": True, "sha256": "ab" * 32, "content": None}}
    big = Facts.model_validate({**facts.model_dump(mode="json"), "files": large})
    config = next(c for c in plan("n", k8s_spec(), big).changes if c.type == "containerd_config")
    assert any(d.path == f"containerd.file.{DROP_IN}" for d in config.diff)


def test_preflight_warns_off_the_kubernetes_node_releases_and_refuses_without_tar() -> None:
    spec = k8s_spec()
    today = date(2026, 12, 2)
    assert containerd_engine.preflight(spec, load_facts("k8s-node-2022"), today) == []
    codes = {f.code: f.level for f in containerd_engine.preflight(spec, load_facts("server2019"), today)}
    assert codes == {"containerd.node_os": "warning"}
    old = {f.code: f.level for f in containerd_engine.preflight(spec, load_facts("server2016"), today)}
    assert old["containerd.tar"] == "error"
    no_feature = spec_with(spec, features=[])
    assert "engine.containers_feature" in {
        f.code for f in containerd_engine.preflight(no_feature, load_facts("k8s-node-2022"), today)
    }
    later = containerd_engine.preflight(spec, load_facts("k8s-node-2022"), date(2028, 5, 1))
    assert [f.code for f in later] == ["containerd.eol"]


def test_verify_uses_ctr_in_bin_and_hyperv_only_with_the_feature() -> None:
    facts = load_facts("k8s-node-2022")
    choice, findings = choose(k8s_spec(), facts)
    assert choice is not None and findings == []
    params = choice.params("provision-0123")
    assert params.ctr == HOME + r"\bin\ctr.exe" and params.crictl == HOME + r"\bin\crictl.exe"
    assert (params.isolated, params.container, params.expect) == (False, "provision-verify-0123", "provision-0123")
    assert params.command == ["cmd", "/c", "echo", "provision-0123"]
    hyperv = spec_with(k8s_spec(), verify={"isolation": "hyperv"})
    refused, why = choose(hyperv, facts)
    assert refused is None and [f.code for f in why] == ["verify.isolation"]
    allowed, _ = choose(spec_with(hyperv, features=["Containers", "Hyper-V"]), facts)
    assert allowed is not None and allowed.params("n").isolated
