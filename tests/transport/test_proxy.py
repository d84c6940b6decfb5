"""Proxies for WinRM only when the inventory names one (issue 12, item 3; security-review F4).

A tiny HTTP proxy on 127.0.0.1 (absolute-URI forwarding and CONNECT tunnels) records what passes
through it. With HTTP_PROXY, HTTPS_PROXY and ALL_PROXY pointing at it and no ``proxy`` setting,
neither WinRM client nor SSH goes near it; with ``proxy: http://127.0.0.1:PORT`` both WinRM
clients go through it, over HTTP and HTTPS.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from provisioner.transport import Connection
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.ssh import SSHConnection
from provisioner.transport.winrm import WinRMConnection
from provisioner.transport.wsman import LeanWinRMConnection
from transport.conftest import PASSWORD, SSH_PORT, USER, ScriptedLab

CLIENTS: dict[str, Callable[[str, ConnectionSettings, str | None], Connection]] = {
    "pywinrm": WinRMConnection,
    "lean": LeanWinRMConnection,
}


def _read_head(stream: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffer:
        data = stream.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


def _read_body(stream: socket.socket, buffer: bytearray, head: bytes) -> bytes:
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        data = stream.recv(65536)
        if not data:
            break
        buffer += data
    body = bytes(buffer[:length])
    del buffer[:length]
    return body


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LoopbackProxy:
    """An HTTP/1.1 forward proxy on 127.0.0.1; ``seen`` lists each request line it was sent."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffer = bytearray()
        upstream: socket.socket | None = None
        upstream_buffer = bytearray()
        try:
            while (head := _read_head(client, buffer)) is not None:
                method, target, version = head.split(b"\r\n")[0].decode().split(" ")
                self.seen.append(f"{method} {target}")
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    upstream = socket.create_connection((host, int(port)))
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if buffer:
                        upstream.sendall(bytes(buffer))
                    threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
                    _pipe(client, upstream)
                    return
                url = urlsplit(target)
                body = _read_body(client, buffer, head)
                if upstream is None:
                    upstream = socket.create_connection((url.hostname, url.port or 80))
                rest = head.split(b"\r\n", 1)[1]
                upstream.sendall(f"{method} {url.path} {version}\r\n".encode() + rest + b"\r\n\r\n" + body)
                answer = _read_head(upstream, upstream_buffer)
                if answer is None:
                    return
                client.sendall(answer + b"\r\n\r\n" + _read_body(upstream, upstream_buffer, answer))
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackProxy]:
    """The proxy, named by every proxy variable a library might read."""
    server = LoopbackProxy()
    url = f"http://127.0.0.1:{server.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield server
    server.close()


def _run(connection: Connection) -> str:
    try:
        return connection.run("echo\nthrough\n", timeout=30).stdout
    finally:
        connection.close()


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("auth", ["basic-http", "ntlm-http", "ntlm-https"])
def test_environment_proxies_are_ignored_by_winrm(
    scripted_lab: ScriptedLab, proxy: LoopbackProxy, client: str, auth: str
) -> None:
    host = scripted_lab.host()
    host.counters["reserved"] = 1
    settings = scripted_lab.settings(host, auth)

    assert _run(CLIENTS[client]("h", settings, PASSWORD)) == "through\r\n"
    assert proxy.seen == []
    assert host.counters["wsman.Create"] == 1


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("auth", ["basic-http", "ntlm-http", "ntlm-https"])
def test_the_inventory_proxy_carries_winrm(
    scripted_lab: ScriptedLab, proxy: LoopbackProxy, client: str, auth: str
) -> None:
    host = scripted_lab.host()
    host.counters["reserved"] = 1
    settings = scripted_lab.settings(host, auth, proxy=f"http://127.0.0.1:{proxy.port}")

    assert _run(CLIENTS[client]("h", settings, PASSWORD)) == "through\r\n"
    port = settings.effective_port
    if settings.scheme == "https":
        assert proxy.seen == [f"CONNECT {host.address}:{port}"]
    else:
        assert proxy.seen and all(line == f"POST http://{host.address}:{port}/wsman" for line in proxy.seen)
    assert host.counters["wsman.Create"] == 1


def test_environment_proxies_are_ignored_by_ssh(scripted_lab: ScriptedLab, proxy: LoopbackProxy) -> None:
    host = scripted_lab.host()
    host.counters["reserved"] = 1
    settings = ConnectionSettings(
        connection="ssh",
        address=host.address,
        port=SSH_PORT,
        user=USER,
        known_hosts=str(scripted_lab.server.known_hosts_path),
    )

    assert _run(SSHConnection("h", settings, PASSWORD)) == "through\r\n"
    assert proxy.seen == []


@pytest.mark.parametrize(
    "value", ["https://127.0.0.1:3128", "127.0.0.1:3128", "http://user:secret@127.0.0.1:3128", "http://h:x"]
)
def test_a_proxy_that_is_not_http_host_port_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectionSettings(address="127.0.0.1", proxy=value)
    (error,) = caught.value.errors()
    assert "proxy must be http://host:port" in error["msg"]
    assert "secret" not in error["msg"]  # the message the loader prints (loadutil.validation_errors)
