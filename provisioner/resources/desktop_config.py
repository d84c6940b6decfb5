"""desktop_config: the Windows engine's daemon settings where Docker Desktop reads them, per user.

Under Docker Desktop, ``C:\\ProgramData\\docker\\config\\daemon.json`` is not the place: Desktop
"will always rewrite it before start (this is by design)" [docker/for-win#473 (staff), #5936], and
``%ProgramData%\\Docker`` is cleaned on updates [docker/docs#15106]. Desktop keeps the Windows
engine's settings in ``%USERPROFILE%\\.docker\\windows-daemon.json`` (the Docker Engine settings
tab in Windows mode) [docker/for-win#13009, #14411], and passes them to dockerd, where "Invalid
or unsupported fields may prevent Docker Desktop from starting" [DD-SREF]: the keys are
validated at load time like daemon_config's (spec.DaemonSettings, windows-facts.md 5).

The file is written for each ``engine.users`` member whose profile exists, canonical JSON, UTF-8
without BOM, atomically, with a backup. A user who never logged on has no profile yet, and
creating its folder first would make Windows give the profile another name, so that user waits
(docker_desktop.pending). Desktop reads the file when its Windows engine starts; a restart from a
remote session is not possible (``docker desktop start`` hangs over WinRM [docker/for-win#14510]),
so a change applies at the next engine start (logon, engine switch, or the user's restart).
"""

from __future__ import annotations

import hashlib

from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Change, RecordData, Resource
from provisioner.resources.daemon_config import canonical_json, settings_diff
from provisioner.resources.docker_desktop import USER_DAEMON_JSON, desktop_facts, docker_desktop
from provisioner.spec import HostSpec

__all__ = ["RESOURCE", "TYPE", "DesktopConfigData", "DesktopConfigParams", "changes", "user_daemon_path"]

TYPE = "desktop_config"


class DesktopConfigParams(BlockParams):
    user: str
    path: str
    content: str
    sha256: str


class DesktopConfigData(RecordData):
    before_sha256: str | None
    """SHA-256 of the user's file before the block; None when there was none."""
    after_sha256: str


def user_daemon_path(profile: str) -> str:
    return profile.rstrip("\\") + "\\" + USER_DAEMON_JSON


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = docker_desktop(spec)
    if spec.daemon is None:
        return []
    found = desktop_facts(facts)
    desired = spec.daemon
    content = canonical_json(desired)
    result = []
    for user in engine.users:
        entry = found.users.get(user)
        if entry is None or entry.profile is None:
            continue  # never logged on (or unknown): docker_desktop.pending / docker_users.preflight say so
        diff = settings_diff(entry.daemon_json, desired, f"desktop.daemon.{user}")
        if not diff:
            continue
        params = DesktopConfigParams(
            user=user,
            path=user_daemon_path(entry.profile),
            content=content,
            sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
        )
        result.append(Change(id=f"desktop/config/{user}", type=TYPE, params=params, diff=diff))
    return result


RESOURCE = Resource(
    name=TYPE,
    params=DesktopConfigParams,
    data=DesktopConfigData,
    changes=changes,
    requires=("docker_desktop",),  # Desktop's own settings: written once Desktop is installed
)
