"""containerd_config (engine type containerd): provision's config.toml keys and the registry mirrors'
hosts.toml files, written only on change, checked with ``containerd config dump`` before containerd
restarts, restored when it refuses them (provisioner/containerd/config.py has the rules).

The diff is key-level, as daemon.json's: ``containerd.config.<plugin>.<key>`` with the value found and
the value wanted, read from the file's text in the facts (research/containerd-scaleout-history.md §1.8).
"""

from __future__ import annotations

import hashlib

from provisioner.containerd import config as containerd_config
from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Change, DiffEntry, RecordData, Resource
from provisioner.resources.containerd_engine import containerd
from provisioner.spec import ContainerdEngineSpec, ContainerdSettings, HostSpec

__all__ = [
    "RESOURCE",
    "TYPE",
    "ContainerdConfigData",
    "ContainerdConfigParams",
    "ManagedFile",
    "changes",
    "managed_files",
]

TYPE = "containerd_config"


class ManagedFile(BlockParams):
    path: str
    content: str
    sha256: str


class ContainerdConfigParams(BlockParams):
    exe: str
    config: str
    """config.toml, which ``config dump`` loads (with its conf.d imports from 2.2)."""
    service: str
    files: list[ManagedFile]


class ContainerdConfigData(RecordData):
    written: list[str] = []
    """The files the block wrote (before the validation that could put them back)."""
    restarted: bool = False


def managed_files(engine: ContainerdEngineSpec, settings: ContainerdSettings) -> dict[str, str]:
    """Path -> text of every file provision owns for these settings: the config file, then hosts.toml files."""
    rendered = containerd_config.render(settings, engine.version, engine.install_dir)
    return {rendered.path: rendered.text, **containerd_config.hosts_files(settings)}


def _file(path: str, text: str) -> ManagedFile:
    return ManagedFile(path=path, content=text, sha256=hashlib.sha256(text.encode()).hexdigest())


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    engine, settings = containerd(spec), spec.containerd
    if settings is None:
        return []
    files = managed_files(engine, settings)
    config_path = next(iter(files))
    diff: list[DiffEntry] = []
    for path, text in files.items():
        found = facts.files.get(path)
        if found is not None and found.exists and found.sha256 == hashlib.sha256(text.encode()).hexdigest():
            continue
        current = found.content if found is not None and found.exists else None
        if found is not None and found.exists and current is None:
            # FACTS sends a file's text only up to 64 KiB: a larger one differs by its hash alone.
            diff.append(
                DiffEntry(f"containerd.file.{path}", f"<a larger file with sha256 {found.sha256}>", "provision's")
            )
        elif path == config_path:
            wanted = containerd_config.document(settings, engine.version)
            diff += [
                DiffEntry(f"containerd.config.{change.path}", change.before, change.after)
                for change in containerd_config.diff(current, wanted)
            ] or [DiffEntry("containerd.config.file", "reformatted", "provision's text")]
        else:
            diff.append(DiffEntry(f"containerd.hosts.{path}", "absent" if current is None else "differs", "present"))
    if not diff:
        return []
    params = ContainerdConfigParams(
        exe=engine.install_dir + r"\bin\containerd.exe",
        config=engine.install_dir + r"\config.toml",
        service=engine.service,
        files=[_file(path, text) for path, text in files.items()],
    )
    return [Change(id="containerd/config", type=TYPE, params=params, diff=diff)]


RESOURCE = Resource(
    name=TYPE,
    params=ContainerdConfigParams,
    data=ContainerdConfigData,
    changes=changes,
    # Validated with the installed containerd.exe, and the restart needs its service.
    requires=("containerd_engine",),
)
