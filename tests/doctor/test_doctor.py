"""``provision doctor`` against the lab: each fault stops its host at the right step, with a cause
and a fix; a healthy host passes every step; the exit code is 0 only when every host passed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioner.doctor import REQUIRED_ENVELOPE_KB, SSH_STEPS, WINRM_STEPS

from .conftest import HTTP_PORT, HTTPS_PORT, PASSWORD, SILENT, SSH_PORT, DoctorLab, Outcome, RunDoctor


def assert_stopped_at(outcome: Outcome, host: str, step: str, *needles: str) -> str:
    """The host's steps end at ``step``, which failed with every needle in its line; earlier ones passed."""
    steps = outcome.steps(host)
    assert steps[-1] == step, outcome.out
    for earlier in steps[:-1]:
        assert outcome.step(host, earlier).startswith("ok: "), outcome.out
    message = outcome.step(host, step)
    assert message.startswith("FAILED: "), message
    assert "; fix: " in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def test_healthy_winrm_host_passes_every_step(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "healthy")
    assert outcome.code == 0, outcome.out
    assert outcome.steps("healthy") == list(WINRM_STEPS)
    assert all(outcome.step("healthy", s).startswith("ok: ") for s in WINRM_STEPS), outcome.out
    assert "trusted through ca_bundle" in outcome.step("healthy", "tls")
    assert "5.1.20348." in outcome.step("healthy", "powershell")
    assert "Desktop" in outcome.step("healthy", "powershell")
    assert f"MaxEnvelopeSizekb 500 (needs {REQUIRED_ENVELOPE_KB})" in outcome.step("healthy", "limits")
    assert outcome.out.splitlines()[-1] == "doctor: 1 of 1 host ready"


def test_healthy_ssh_host_passes_every_step(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("ssh.yml", connection="ssh", port=SSH_PORT)
    outcome = run_doctor("-i", inventory, "--limit", "healthy:old-build")
    assert outcome.code == 0, outcome.out
    for host in ("healthy", "old-build"):
        assert outcome.steps(host) == list(SSH_STEPS), outcome.out
    assert "matches" in outcome.step("healthy", "hostkey")
    # Windows Server 2019 is build 17763: its PowerShell says so.
    assert "5.1.17763." in outcome.step("old-build", "powershell")


def test_ntlm_over_plain_http_passes_without_the_tls_step(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("http.yml", scheme="http", port=HTTP_PORT)
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert outcome.code == 0, outcome.out
    assert outcome.steps("healthy") == [s for s in WINRM_STEPS if s != "tls"]
    assert "message encryption" in outcome.step("healthy", "auth")


def test_unresolvable_name(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("dns.yml", extra_hosts={"ghost": {"address": "ghost.provision-doctor.invalid"}})
    outcome = run_doctor("-i", inventory, "--limit", "ghost")
    assert outcome.code == 3
    assert_stopped_at(outcome, "ghost", "resolve", "does not resolve", "address:")


def test_nothing_listening(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("silent.yml", extra_hosts={"silent": {"address": SILENT}})
    outcome = run_doctor("-i", inventory, "--limit", "silent")
    assert outcome.code == 3
    assert_stopped_at(
        outcome,
        "silent",
        "tcp",
        "connection refused",
        f"{SILENT}:{HTTPS_PORT}",
        "New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS",
        "New-NetFirewallRule",
    )


def test_unreachable_host(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "unreachable")
    assert outcome.code == 3
    assert_stopped_at(outcome, "unreachable", "tcp", "reset")


def test_unreachable_host_over_ssh(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("ssh-down.yml", connection="ssh", port=SSH_PORT)
    outcome = run_doctor("-i", inventory, "--limit", "unreachable")
    assert outcome.code == 3
    assert_stopped_at(outcome, "unreachable", "tcp", "reset")


def test_tls_unknown_ca(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("no-ca.yml", ca_bundle=None)
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert outcome.code == 3
    assert_stopped_at(
        outcome, "healthy", "tls", "unknown CA", "CN=provision lab CA", "set ca_bundle:", "-Transport HTTPS"
    )


def test_tls_ignored_validation_is_said(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("ignore.yml", ca_bundle=None, cert_validation="ignore")
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert outcome.code == 0, outcome.out
    assert "NOT validated" in outcome.step("healthy", "tls")


def test_bad_credentials(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "bad-credentials")
    assert outcome.code == 3
    message = assert_stopped_at(
        outcome,
        "bad-credentials",
        "auth",
        "rejected",
        "HTTP 401",
        "$PROVISION_DOCTOR_PASSWORD",
        "'.\\name'",
        "Administrators",
    )
    assert PASSWORD not in outcome.out + outcome.err, "the password must never be printed"
    assert "Negotiate" in message  # what the listener offers, learned from its 401


def test_bad_credentials_over_ssh(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("ssh-bad.yml", connection="ssh", port=SSH_PORT)
    outcome = run_doctor("-i", inventory, "--limit", "bad-credentials")
    assert outcome.code == 3
    assert_stopped_at(outcome, "bad-credentials", "auth", "rejected", "password", "administrators_authorized_keys")


def test_missing_password_variable(
    doctor_lab: DoctorLab, run_doctor: RunDoctor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVISION_DOCTOR_PASSWORD")
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "healthy")
    assert outcome.code == 3
    assert_stopped_at(outcome, "healthy", "auth", "PROVISION_DOCTOR_PASSWORD", "--ask-pass")


def test_basic_over_http_refused(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    """The lab keeps AllowUnencrypted false (the Windows default); the inventory asks for Basic
    over HTTP and says it knows the password travels in clear."""
    inventory = doctor_lab.inventory(
        "basic-http.yml", scheme="http", port=HTTP_PORT, transport="basic", allow_unencrypted=True
    )
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert outcome.code == 3
    assert_stopped_at(
        outcome,
        "healthy",
        "auth",
        "Basic over plain HTTP",
        "AllowUnencrypted",
        "transport: ntlm",
        "Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $true",
        "winrm set winrm/config/service '@{AllowUnencrypted=\"true\"}'",
        "winrm set winrm/config/service/auth '@{Basic=\"true\"}'",
    )


def test_max_envelope_size_too_small(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "small-envelope")
    assert outcome.code == 3
    assert_stopped_at(
        outcome,
        "small-envelope",
        "limits",
        "MaxEnvelopeSizekb is 150",
        f"below the {REQUIRED_ENVELOPE_KB}",
        "Set-Item -Path WSMan:\\localhost\\MaxEnvelopeSizekb -Value 500",
        "winrm set winrm/config '@{MaxEnvelopeSizekb=\"500\"}'",
    )


def test_not_admin(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "standard-user")
    assert outcome.code == 3
    assert_stopped_at(
        outcome,
        "standard-user",
        "admin",
        "not run as an administrator",
        "Add-LocalGroupMember -Group Administrators -Member provision",
        "LocalAccountTokenFilterPolicy",
    )


def test_constrained_language_is_named_with_its_policy(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    # windows-audit.md F4: under an enforced WDAC or AppLocker policy powershell.exe runs in ConstrainedLanguage
    # and the bootstrap died on its first New-Object, reported as "powershell.exe exited with 1".
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "locked-down")
    assert outcome.code == 3
    assert_stopped_at(outcome, "locked-down", "roundtrip", "ConstrainedLanguage", "WDAC", "AppLocker", "FullLanguage")


def test_ssh_unknown_host_key(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    empty = doctor_lab.dir / "empty_known_hosts"
    empty.write_text("")
    inventory = doctor_lab.inventory("ssh-unknown.yml", connection="ssh", port=SSH_PORT, known_hosts=str(empty))
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    fingerprint = doctor_lab.server.host_key_fingerprint("healthy")
    assert_stopped_at(
        outcome, "healthy", "hostkey", fingerprint, "is not in", "ssh-keyscan -p 52222", "host_key_policy: accept_new"
    )
    # accept_new: trust on first use is a pass, said as such.
    inventory = doctor_lab.inventory(
        "ssh-tofu.yml", connection="ssh", port=SSH_PORT, known_hosts=str(empty), host_key_policy="accept_new"
    )
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert outcome.code == 0, outcome.out
    assert "accept_new records it" in outcome.step("healthy", "hostkey")


def test_ssh_changed_host_key(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    real = doctor_lab.server.known_hosts_path.read_text().splitlines()
    healthy = doctor_lab.hosts["healthy"].address
    other = doctor_lab.hosts["old-build"].address
    # The healthy host's entry with another host's key: what a reinstalled host looks like.
    key = next(line.split(None, 1)[1] for line in real if line.startswith(f"[{other}]:"))
    forged = doctor_lab.dir / "forged_known_hosts"
    forged.write_text(f"[{healthy}]:{SSH_PORT} {key}\n")
    inventory = doctor_lab.inventory("ssh-forged.yml", connection="ssh", port=SSH_PORT, known_hosts=str(forged))
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert_stopped_at(outcome, "healthy", "hostkey", "CHANGED", "ssh-keygen -R")


def test_fleet_exit_code_and_summary(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    """Every host is checked (in parallel); the lines come out in inventory order; exit 3."""
    outcome = run_doctor("-i", doctor_lab.inventory(), "--forks", "8")
    assert outcome.code == 3
    order = list(dict.fromkeys(line.split()[0] for line in outcome.out.splitlines()[:-1]))
    assert order == list(doctor_lab.hosts)
    summary = outcome.out.splitlines()[-1]
    assert summary.startswith("doctor: 2 of 7 hosts ready; failed: ")
    for failed in (
        "bad-credentials (auth)",
        "unreachable (tcp)",
        "small-envelope (limits)",
        "standard-user (admin)",
        "locked-down (roundtrip)",
    ):
        assert failed in summary


def test_doctor_takes_a_playbook(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("for-playbook.yml")
    playbook = doctor_lab.dir / "site.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "p",
                    "hosts": "healthy",
                    "inventory": str(inventory),
                    "spec": {"features": ["Containers"], "verify": {"when": "never"}},
                }
            ]
        )
    )
    outcome = run_doctor(playbook)
    assert outcome.code == 0, outcome.out + outcome.err
    assert outcome.steps("healthy") == list(WINRM_STEPS)


def test_doctor_needs_an_inventory_or_a_playbook(run_doctor: RunDoctor) -> None:
    outcome = run_doctor()
    assert outcome.code == 1
    assert "needs an inventory" in outcome.err


def test_doctor_reports_a_bad_limit_as_input_error(
    doctor_lab: DoctorLab, run_doctor: RunDoctor, tmp_path: Path
) -> None:
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "no-such-host")
    assert outcome.code == 1
    assert "no-such-host" in outcome.err


def test_missing_ca_bundle_file(doctor_lab: DoctorLab, run_doctor: RunDoctor) -> None:
    inventory = doctor_lab.inventory("missing-ca.yml", ca_bundle=str(doctor_lab.dir / "no-such-ca.pem"))
    outcome = run_doctor("-i", inventory, "--limit", "healthy")
    assert_stopped_at(outcome, "healthy", "tls", "cannot load ca_bundle", "no-such-ca.pem")


def test_ask_pass(doctor_lab: DoctorLab, run_doctor: RunDoctor, monkeypatch: pytest.MonkeyPatch) -> None:
    """--ask-pass stands in for an unset password_env, asked once for every host."""
    monkeypatch.delenv("PROVISION_DOCTOR_PASSWORD")
    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return PASSWORD

    monkeypatch.setattr("getpass.getpass", getpass)
    outcome = run_doctor("-i", doctor_lab.inventory(), "--limit", "healthy:old-build", "--ask-pass")
    assert outcome.code == 0, outcome.out
    assert len(asked) == 1
