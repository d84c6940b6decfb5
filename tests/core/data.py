"""Shared data for the core tests: facts fixtures, the site specs, and every rendered script."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from provisioner.facts import Facts
from provisioner.plan import Plan, facts_request, plan
from provisioner.render import Renderer
from provisioner.spec import HostSpec, RebootPolicy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FACTS_DIR = FIXTURES / "facts"
SPECS_DIR = FIXTURES / "specs"
GOLDEN_DIR = FIXTURES / "golden"

FACT_NAMES = sorted(p.stem for p in FACTS_DIR.glob("*.json"))
VERIFY_NONCE = "provision-nonce-0123456789abcdef"
"""The fixed nonce of the golden and parsed VERIFY scripts (the engine makes a random one)."""

# Values chosen to break out of any PowerShell context that is not a properly quoted literal:
# all five single-quote characters, a line break, a statement separator, a subexpression, a
# backtick, a comment start and a command name that must never appear as a command.
PAYLOAD = "x'\u2018\u2019\u201a\u201b\"; Injected-Command -Now #\r\n$(Injected-Command) `n @' \n Injected-Command\n"
ARGV_PAYLOAD = (
    "x'\u2018\u2019\u201a\u201b\u201c\u201d; Injected-Command -Now # $(Injected-Command) `n @' Injected-Command"
)
"""The same for ``verify.command``, whose elements docker.exe receives through Windows PowerShell 5.1's
native argument passing: the load refuses a double quote, a control character and an empty or
backslash-ended argument there (spec.py), so this payload tries PowerShell breakouts without them."""
DIR_PAYLOAD = "x'\u2018\u2019\u201a\u201b $(Injected-Command) `n @' Injected-Command #"
"""The same for ``engine.install_dir``, which the load limits to characters Windows allows in a folder
name and refuses ``;`` and wildcards in (spec.py, security review F1): the breakouts that are left."""


def facts_path(name: str) -> Path:
    return FACTS_DIR / f"{name}.json"


@cache
def load_facts(name: str) -> Facts:
    return Facts.model_validate(json.loads(facts_path(name).read_text(encoding="utf-8")))


@cache
def load_spec(name: str) -> HostSpec:
    return HostSpec.model_validate(yaml.safe_load((SPECS_DIR / f"{name}.yml").read_text(encoding="utf-8")))


def site_spec() -> HostSpec:
    return load_spec("site-spec")


def containers_spec() -> HostSpec:
    return load_spec("containers-only-spec")


def desktop_spec() -> HostSpec:
    return load_spec("desktop-spec")


def k8s_spec() -> HostSpec:
    return load_spec("k8s-spec")


WORKSTATION_PREFIX = "workstation-"
"""Fixtures of developer workstations: their golden files are rendered under the desktop spec."""
K8S_PREFIX = "k8s-"
"""Fixtures of Kubernetes nodes: their golden files are rendered under the containerd spec."""


def spec_for(fixture: str) -> HostSpec:
    """The spec a fixture's golden files use: Docker Desktop on workstations, the site spec elsewhere."""
    if fixture.startswith(K8S_PREFIX):
        return k8s_spec()
    return desktop_spec() if fixture.startswith(WORKSTATION_PREFIX) else site_spec()


def spec_with(base: HostSpec, **changes: Any) -> HostSpec:
    """A copy of ``base`` with top-level sections replaced, validated again."""
    data = base.model_dump(mode="json")
    data.update(changes)
    return HostSpec.model_validate(data)


def hostile_spec() -> HostSpec:
    """The site spec with the payload in every free-text field a user controls."""
    return HostSpec.model_validate(
        {
            "features": ["Containers", "Hyper-V"],
            "engine": {
                "version": "27.3.1",
                "sha256": "ab" * 32,
                "url": "https://example.invalid/docker.zip?" + PAYLOAD,
                "install_dir": "C:\\Program Files\\" + DIR_PAYLOAD,
                "service": "docker-engine",  # validated at load: letters, digits, _ . - only
            },
            "daemon": {"labels": [PAYLOAD, "b=\u2019"], "log-level": PAYLOAD},
            "verify": {
                "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022",
                "isolation": "process",
                "command": ["cmd", "/c", "echo", "<nonce>", ARGV_PAYLOAD],
            },
        }
    )


def hostile_desktop_spec() -> HostSpec:
    """The desktop spec with the payload in every free-text field its validation lets through."""
    return HostSpec.model_validate(
        {
            "engine": {
                "type": "docker-desktop",
                "version": "4.43.1",
                "build": 198352,
                "sha256": "cd" * 32,
                "url": "https://example.invalid/installer.exe?" + PAYLOAD,
                "install_dir": "C:\\Program Files\\" + PAYLOAD,
                # Account names refuse most punctuation at load time, but not the five single quotes.
                "users": ["o'brien\u2018\u2019\u201a\u201b", "CORP\\dev $(Injected-Command)"],
                "accept_license": True,
            },
            "daemon": {"labels": [PAYLOAD, "b=\u2019"], "log-level": PAYLOAD},
            "verify": {
                "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022",
                "isolation": "hyperv",
                "linux": True,
                "command": ["cmd", "/c", "echo", "<nonce>", ARGV_PAYLOAD],
            },
        }
    )


def hostile_k8s_spec() -> HostSpec:
    """The containerd spec with the payload in every free-text field its validation lets through."""
    return HostSpec.model_validate(
        {
            "features": ["Containers"],
            "engine": {
                "type": "containerd",
                "version": "2.1.5",
                "sha256": "ef" * 32,
                "url": "https://example.invalid/containerd.tar.gz?" + PAYLOAD,
                "install_dir": "C:\\Program Files\\" + DIR_PAYLOAD,
                "log_file": "C:\\logs\\" + ARGV_PAYLOAD,
                "crictl": {"version": "1.34.0", "sha256": "ab" * 32, "url": "https://example.invalid/c?" + PAYLOAD},
            },
            "containerd": {
                "cni": {"bin_dir": PAYLOAD, "conf_dir": PAYLOAD},
                "registry": {
                    "config_path": "C:\\certs\\" + DIR_PAYLOAD,
                    "mirrors": {"docker.io": ["https://m/" + "x'’$(Injected-Command)"]},
                },
                "plugins": {"io.containerd.cri.v1.images": {"pinned_images": {"sandbox": PAYLOAD}}},
            },
            "verify": {"command": ["cmd", "/c", "echo", "<nonce>", ARGV_PAYLOAD]},
        }
    )


@dataclass(frozen=True)
class Rendered:
    fixture: str
    spec_name: str
    phase: str
    script: str

    @property
    def label(self) -> str:
        return f"{self.fixture}/{self.spec_name}/{self.phase}"


PHASES = ("facts", "apply", "verify", "reboot")


def render_phases(host: str, spec: HostSpec, facts: Facts, renderer: Renderer | None = None) -> dict[str, str]:
    """FACTS, APPLY, VERIFY (when the plan has one) and REBOOT for one host, as the engine renders them."""
    renderer = renderer or Renderer()
    the_plan: Plan = plan(host, spec, facts)
    scripts = {
        "facts": renderer.facts(host, facts_request(spec)),
        "apply": renderer.apply(the_plan),
        "reboot": renderer.reboot(
            host, "feature/Containers needs a reboot to finish", RebootPolicy().warn_for(facts.os.is_client)
        ),
    }
    if the_plan.verify:
        scripts["verify"] = renderer.verify(the_plan, VERIFY_NONCE)
    return {phase: scripts[phase] for phase in PHASES if phase in scripts}


@lru_cache(maxsize=1)
def all_rendered() -> tuple[Rendered, ...]:
    """Every script for every fixture under the site spec, the containers-only spec, the desktop spec and
    the hostile specs (docker-ce and Docker Desktop)."""
    out = []
    specs = {
        "site": site_spec(),
        "containers": containers_spec(),
        "hostile": hostile_spec(),
        "desktop": desktop_spec(),
        "hostile-desktop": hostile_desktop_spec(),
        "k8s": k8s_spec(),
        "hostile-k8s": hostile_k8s_spec(),
    }
    for name in FACT_NAMES:
        facts = load_facts(name)
        for spec_name, spec in specs.items():
            host = name if not spec_name.startswith("hostile") else name + PAYLOAD
            for phase, script in render_phases(host, spec, facts).items():
                out.append(Rendered(name, spec_name, phase, script))
    return tuple(out)
