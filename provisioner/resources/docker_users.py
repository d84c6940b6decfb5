"""docker_users: the developers in the docker-users group that Docker Desktop's installer creates.

The installer creates ``docker-users`` and adds the account that runs it [docker/for-win#6080;
DD-PERM], which over WinRM is the admin account, not the developer (docker-desktop.md 1.1), so
the block adds each ``engine.users`` member. Members reach com.docker.service's pipe, which
Windows containers and the Hyper-V VM need; without it Desktop starts with "Docker Desktop -
Access Denied" [DD-PERM; DD-TS]. Membership applies at the user's next logon [DD-WIN]. Security:
with Windows containers on, members can elevate to administrators on the host [DD-PERM].

``Add-LocalGroupMember`` throws MemberExistsException for a member already there, which the
block takes as in state, so a retried block changes nothing.
"""

from __future__ import annotations

from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Change, DiffEntry, Finding, RecordData, Resource
from provisioner.resources.docker_desktop import GROUP, desktop_facts, docker_desktop
from provisioner.spec import HostSpec

__all__ = ["RESOURCE", "TYPE", "UsersData", "UsersParams", "changes", "preflight"]

TYPE = "docker_users"


class UsersParams(BlockParams):
    group: str
    members: list[str]
    """The accounts to add, as the spec names them (NAME or DOMAIN\\NAME)."""


class UsersData(RecordData):
    added: list[str]
    """The members the block added (the others were members already)."""


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    engine = docker_desktop(spec)
    if not engine.users or not facts.os.is_client:
        return []  # on a server, virtualization's desktop.server error is the one that matters
    found = desktop_facts(facts)
    findings = []
    if found.installed and found.group_exists and found.group_members is None:
        findings.append(
            Finding(
                "warning",
                "desktop.users",
                f"the members of {GROUP} could not be read (Get-LocalGroupMember failed); membership is not checked",
            )
        )
    unknown = [u for u in engine.users if (entry := found.users.get(u)) is not None and entry.sid is None]
    if unknown:
        findings.append(
            Finding(
                "error",
                "desktop.users",
                f"no account named {', '.join(unknown)} on this host: create it (or join the domain) "
                "before it can be added to docker-users",
            )
        )
    return findings


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine = docker_desktop(spec)
    if not engine.users:
        return []
    found = desktop_facts(facts)
    if found.installed and found.group_exists and found.group_members is None:
        return []  # unreadable: preflight says so; adding blind would never show as converged
    missing = [u for u in engine.users if not found.installed or not found.group_exists or found.member(u) is False]
    if not missing:
        return []
    diff = [DiffEntry(f"desktop.users.{u}", "absent", "member") for u in missing]
    return [
        Change(
            id="desktop/docker-users",
            type=TYPE,
            params=UsersParams(group=GROUP, members=missing),
            diff=diff,
        )
    ]


RESOURCE = Resource(
    name=TYPE,
    params=UsersParams,
    data=UsersData,
    changes=changes,
    preflight=preflight,
    requires=("docker_desktop",),  # the installer creates docker-users
)
