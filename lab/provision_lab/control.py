"""The background lab (``provision-lab up``): a daemon process and its control socket.

``up`` writes the lab inventory, then starts ``python -m provision_lab.control INVENTORY``
in a new session. The daemon serves the inventory's hosts (runtime.Lab), records itself in
``<lab dir>/daemon.json`` and answers one-line JSON requests on ``<lab dir>/control.sock``
(``status``, ``stats``, ``drift``, ``down``). On ``down`` or SIGTERM it saves host state and exits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from provision_lab.api import Faults
from provision_lab.fleet import build_fleet, parse_profiles
from provision_lab.profiles import K8S_NODE_PROFILES, WORKSTATION_PROFILES
from provision_lab.runtime import (
    LAB_USER,
    PASSWORD_ENV,
    Lab,
    default_lab_dir,
    running_daemon,
)
from provision_lab.windows.host import WindowsHost
from provision_lab.windows.natives import engine_sha256

__all__ = ["DEFAULT_LAB_PROFILES", "LabError", "apply_drift", "request", "start_daemon", "write_inventory"]

DEFAULT_LAB_PROFILES = (
    "server2022:2,server2025,server2019,win11-23h2-pro,vm-nested,workstation-win11-23h2-pro,k8s-node-2022,k8s-node-2025"
)
"""``provision-lab up``'s fleet: exactly the hosts of the committed inventories/lab.yml."""

_DAEMON_FILE = "daemon.json"
_SOCKET = "control.sock"


class LabError(Exception):
    """A lab command that cannot be done, with the reason in words."""


def _workstation_vars() -> list[str]:
    """The workstations group's vars: the lab's Docker Desktop and WSL stand-ins (lab/provision_lab/windows/natives/files.py), as
    playbooks/workstations.yml uses them."""
    from provision_lab.windows.natives import desktop_sha256, wsl_sha256, wsl_url

    return [
        "      # Developer workstations for Docker Desktop (playbooks/workstations.yml); playbooks/site.yml does",
        "      # not target them. `provision-lab drift HOST --logon dev` stands for the developer logging on.",
        "      vars:",
        '        desktop_version: "4.43.1"',
        "        desktop_build: 198352",
        "        # The lab's own installer and MSI stand-ins (lab/provision_lab/windows/natives/files.py), not Docker's or Microsoft's.",
        f'        desktop_sha256: "{desktop_sha256("4.43.1")}"',
        '        wsl_version: "2.5.10"',
        f'        wsl_url: "{wsl_url("2.5.10")}"',
        f'        wsl_sha256: "{wsl_sha256("2.5.10")}"',
    ]


def _k8s_vars() -> list[str]:
    """The k8s_nodes group's vars: the lab's containerd and crictl tarballs, as playbooks/k8s-nodes.yml uses them."""
    from provision_lab.windows.natives import containerd_sha256, crictl_sha256

    return [
        "      # Kubernetes Windows worker nodes for engine type containerd (playbooks/k8s-nodes.yml).",
        "      vars:",
        '        kubernetes_version: "1.36"',
        '        containerd_version: "2.3.0"',
        "        # The lab's own tarballs (lab/provision_lab/windows/natives/files.py), not containerd's or cri-tools'.",
        f'        containerd_sha256: "{containerd_sha256("2.3.0")}"',
        '        crictl_version: "1.34.0"',
        f'        crictl_sha256: "{crictl_sha256("1.34.0")}"',
    ]


def write_inventory(
    path: Path,
    *,
    count: int,
    profiles: str,
    seed: int,
    reboot_seconds: float,
    lab_dir: Path,
    faults: str | None = None,
    docker_version: str = "27.3.1",
    ports: tuple[int, int, int] | None = None,
) -> list[WindowsHost]:
    """Write a lab inventory for a new fleet; returns the fleet (not started).

    Each host's profile and faults are written beside its address, so the inventory alone
    describes the lab (runtime.hosts_of reads them back). ``ports`` (HTTP, HTTPS, SSH) replace
    the defaults 5985, 5986 and 2222, for a second lab beside one that runs on them.
    """
    fleet = build_fleet(count, profiles, seed, reboot_seconds=reboot_seconds, faults_spec=faults)
    workstation_vars = _workstation_vars()
    profile_of = parse_profiles(profiles, count, seed)
    http_port, https_port, ssh_port = ports or (5985, 5986, 2222)
    lab_ports = f", http_port: {http_port}, https_port: {https_port}, ssh_port: {ssh_port}" if ports else ""
    lines = [
        "# yaml-language-server: $schema=../schema/inventory.schema.json",
        "# Written by `provision-lab up`: simulated Windows hosts on 127.77.x.y that speak real WinRM and",
        "# SSH (see lab/). They answer while the lab runs (`provision-lab up`, `provision-lab down`).",
        '# The password is in the lab directory, not here: export PROVISION_LAB_PASSWORD="$(provision-lab password)"',
        "all:",
        "  vars:",
        f"    provision_lab: {{seed: {seed}, reboot_seconds: {reboot_seconds:g}{lab_ports}}}",
        "    connection: winrm",
        "    scheme: https",
        f"    port: {https_port}",
        "    transport: ntlm",
        f"    user: {LAB_USER}",
        f"    password_env: {PASSWORD_ENV}",
        f"    ca_bundle: {_lab_path(lab_dir, 'tls/ca.pem')}",
        f"    known_hosts: {_lab_path(lab_dir, 'known_hosts')}",
        f'    docker_version: "{docker_version}"',
        "    # The lab's own engine archive (lab/provision_lab/windows/natives/files.py engine_sha256), not Docker's zip.",
        f'    docker_sha256: "{engine_sha256(docker_version)}"',
        "  children:",
    ]
    default = Faults()
    groups: dict[str, list[str]] = {}
    for host, profile in zip(fleet, profile_of, strict=True):
        changed = {
            f.name: getattr(host.faults, f.name)
            for f in dataclasses.fields(Faults)
            if getattr(host.faults, f.name) != getattr(default, f.name)
        }
        extra = f", lab_faults: {json.dumps(changed)}" if changed else ""
        # Workstation profiles (Docker Desktop) go to their own group, which playbooks/site.yml does not target.
        group = "workstations" if profile in WORKSTATION_PROFILES else "windows"
        if profile in K8S_NODE_PROFILES:
            group = "k8s_nodes"
        groups.setdefault(group, []).append(
            f"        {host.name}: {{ address: {host.address}, lab_profile: {profile}{extra} }}"
        )
    group_vars = {"workstations": workstation_vars, "k8s_nodes": _k8s_vars()}
    for group, entries in groups.items():
        lines += [f"    {group}:", *group_vars.get(group, []), "      hosts:", *entries]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return fleet


def _lab_path(lab_dir: Path, name: str) -> str:
    """The default lab directory is written as a template that follows PROVISION_LAB_DIR, so the
    committed inventory works for anyone who checks it out, wherever their lab directory is."""
    if lab_dir.resolve() == default_lab_dir().resolve():
        return f"\"{{{{ env('PROVISION_LAB_DIR', '~/.cache/provision/lab') }}}}/{name}\""
    return str(lab_dir / name)


def request(lab_dir: Path, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """One request to the running daemon; LabError when none runs."""
    if running_daemon(lab_dir) is None:
        raise LabError("no lab is running (start one with `provision-lab up`)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(lab_dir / _SOCKET))
        except OSError as exc:
            raise LabError(f"the lab's control socket does not answer: {exc.strerror}") from None
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer: dict[str, Any] = json.loads(data or b"{}")
    if "error" in answer:
        raise LabError(answer["error"])
    return answer


def apply_drift(
    model: WindowsHost,
    feature: str | None,
    daemon: str | None,
    stop_service: str | None,
    *,
    logon: str | None = None,
    logoff: str | None = None,
    switch_engine: str | None = None,
) -> str:
    """Change one host the way drift happens on Windows; returns what was done.

    On a workstation (windows/natives/desktop.py): ``logon`` is a user logging on and starting Docker Desktop,
    ``logoff`` signing out (Desktop quits), ``switch_engine`` the tray menu's switch to Windows or
    Linux containers.
    """
    if logon or logoff or switch_engine:
        from provision_lab.windows.natives import MachineView, desktop

        machine = MachineView(model.machine)
        if logon:
            return desktop.logon(machine, model.name, logon)
        if logoff:
            return desktop.logoff(machine, model.name, logoff)
        return desktop.switch_engine(machine, model.name, str(switch_engine))
    if feature:
        name, _, state = feature.partition("=")
        model.set_feature(name, state)
        return f"{model.name}: feature {name} set to {state}"
    if daemon:
        key, _, value = daemon.partition("=")
        try:
            json.loads(value)
        except json.JSONDecodeError:
            value = json.dumps(value)  # a bare word is a string
        model.set_daemon_key(key, value)
        return f"{model.name}: daemon.json {key} set to {value}"
    if stop_service:
        model.stop_service(stop_service)
        return f"{model.name}: service {stop_service} stopped"
    raise LabError(
        "say what drifts: --feature NAME=STATE, --daemon KEY=VALUE, --stop-service NAME, --logon USER, "
        "--logoff USER or --switch-engine windows|linux"
    )


def _handle(lab: Lab, payload: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    command = payload.get("command")
    if command == "status":
        return {
            "pid": os.getpid(),
            "hosts": [
                {"name": name, "address": model.address, "profile": lab.profiles[name], "up": model.is_up()}
                for name, model in lab.models.items()
            ],
        }
    if command == "stats":
        return {"hosts": {name: dict(model.counters) for name, model in lab.models.items()}}
    if command == "drift":
        model = lab.models.get(str(payload.get("host")))
        if model is None:
            return {"error": f"no lab host named {payload.get('host')!r}"}
        try:
            return {
                "message": apply_drift(
                    model,
                    payload.get("feature"),
                    payload.get("daemon"),
                    payload.get("stop_service"),
                    logon=payload.get("logon"),
                    logoff=payload.get("logoff"),
                    switch_engine=payload.get("switch_engine"),
                )
            }
        except (ValueError, KeyError, LabError) as exc:
            return {"error": str(exc)}
    if command == "down":
        stop.set()
        return {"message": "stopping"}
    return {"error": f"unknown lab command {command!r}"}


def serve(inventory_file: Path, lab_dir: Path) -> None:
    """The daemon's main loop (runs in the background process)."""
    lab = Lab.of_inventory(inventory_file, lab_dir)
    lab.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                payload = json.loads(self.rfile.readline() or b"{}")
                answer = _handle(lab, payload, stop)
                if payload.get("command") == "drift" and "error" not in answer:
                    lab.save()  # drift is what a user asked for: kept even if the lab is killed next
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the lab
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(answer).encode() + b"\n")

    sock_path = lab_dir / _SOCKET
    sock_path.unlink(missing_ok=True)
    server = socketserver.ThreadingUnixStreamServer(str(sock_path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=_autosave, args=(lab, stop), name="lab-autosave", daemon=True).start()
    record = lab_dir / _DAEMON_FILE
    record.write_text(json.dumps({"pid": os.getpid(), "inventory": str(inventory_file), "hosts": len(lab.models)}))
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        record.unlink(missing_ok=True)
        sock_path.unlink(missing_ok=True)
        lab.stop()


def _autosave(lab: Lab, stop: threading.Event) -> None:
    """Save host state every ``save_seconds`` while the daemon runs: a SIGKILLed lab used to lose
    everything since its last clean stop (security-review.md F16)."""
    while not stop.wait(lab.settings.save_seconds):
        lab.save()


def start_daemon(inventory_file: Path, lab_dir: Path, timeout: float = 60.0) -> int:
    """Start the background lab for ``inventory_file``; returns its pid once it answers."""
    if (existing := running_daemon(lab_dir)) is not None:
        raise LabError(f"a lab is already running (pid {existing['pid']}); stop it with `provision-lab down`")
    lab_dir.mkdir(parents=True, exist_ok=True)
    log = open(lab_dir / "daemon.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "provision_lab.control", str(inventory_file), str(lab_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabError(f"the lab exited at start (code {process.returncode}); see {lab_dir / 'daemon.log'}")
        if running_daemon(lab_dir) is not None:
            try:
                request(lab_dir, {"command": "status"}, timeout=5)
                return process.pid
            except LabError:
                pass
        time.sleep(0.1)
    process.terminate()
    raise LabError(f"the lab did not answer within {timeout:g} s; see {lab_dir / 'daemon.log'}")


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else default_lab_dir())
