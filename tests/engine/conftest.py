"""Engine tests run on MemoryConnection: no socket, no lab, no real sleep.

Every test here runs with ``socket.socket``, ``socket.create_connection`` and
``socket.getaddrinfo`` refusing to work (``no_sockets``), so a test that reached a transport by
accident fails instead of passing slowly; ``test_the_socket_guard_fires`` proves the guard does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from core.data import SPECS_DIR

from provisioner.playbook import Playbook, Target, load_playbook


class SocketUsed(AssertionError):
    """A test of the engine opened a socket."""


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise SocketUsed(f"{name} called in an engine test")

        return refused

    monkeypatch.setattr(socket, "socket", refuse("socket.socket"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))


@dataclass
class FakeTime:
    """A clock and a sleep for HostRunner: sleeping moves the clock, and every sleep is kept."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


MakeBook = Callable[..., Playbook]


@pytest.fixture
def make_book(tmp_path: Path) -> MakeBook:
    """``make_book(hosts=["h1"], reboot={...}, rollout={...}, spec={...})``: a loaded playbook of one
    play over those hosts, with the containers-only spec (tests/fixtures/specs) updated by ``spec``."""

    def make(
        hosts: list[str] | None = None,
        *,
        reboot: dict[str, Any] | None = None,
        rollout: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
    ) -> Playbook:
        names = hosts or ["h1"]
        inventory = tmp_path / "inventory.yml"
        document = {
            "all": {
                "vars": {"user": "provision", "password_env": "UNUSED_PASSWORD", "scheme": "http"},
                "hosts": {name: {"address": f"127.0.0.{index + 1}"} for index, name in enumerate(names)},
            }
        }
        inventory.write_text(yaml.safe_dump(document), encoding="utf-8")
        body = yaml.safe_load((SPECS_DIR / "containers-only-spec.yml").read_text(encoding="utf-8"))
        body.update(spec or {})
        play: dict[str, Any] = {"name": "engine", "hosts": "all", "inventory": str(inventory), "spec": body}
        if reboot:
            play["reboot"] = reboot
        if rollout:
            play["rollout"] = rollout
        book = tmp_path / "playbook.yml"
        book.write_text(yaml.safe_dump([play]), encoding="utf-8")
        return load_playbook(book)

    return make


def target(book: Playbook, name: str = "h1") -> Target:
    return next(t for t in book.targets if t.name == name)
