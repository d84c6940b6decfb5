"""The lab server: every simulated host's WinRM and SSH endpoints, in one background thread.

:class:`LabServer` takes the host objects (anything satisfying :class:`~provision_lab.api.LabHost`)
and serves, on each host's own loopback address (127.0.0.0/8, all bindable on Linux without
configuration), WS-Man over HTTP and HTTPS and SSH. One asyncio event loop in one thread does
all the accepting and the HTTP; paramiko's transports and the scripts run in worker threads.

Start-up binds three listeners per host and issues nothing else eagerly: TLS certificates are
issued on a host's first HTTPS connection (:mod:`provision_lab.tls`) and SSH host keys are
derived on first use (:mod:`provision_lab.sshd`), so a 1,000-host lab starts in well under a second.

The lab directory holds what must outlive one run: the CA (``tls/ca.pem``, which clients trust),
the seed of the SSH host keys, and the ``known_hosts`` file written from them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import resource
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from provision_lab.api import LabHost
from provision_lab.sshd import SshHostKeys, SshServer
from provision_lab.tls import LabCA
from provision_lab.wsman import LabCredentials, WinRSLimits, WsmanServer

__all__ = ["LabServer"]

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_WATCH_SECONDS = 0.2
"""How often hosts are checked for going down, to drop their connections as Windows would."""
_DEFAULT_LIMITS = WinRSLimits()
_FILES_PER_HOST = 8
"""Open files a host may need besides its listeners: client connections, TLS files."""


class LabServer:
    """Serve WinRM (HTTP, HTTPS) and SSH for a set of lab hosts, from a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The lab directory is
    prepared when the server is built, so :attr:`ca_path`, :attr:`known_hosts_path` and
    :meth:`host_key_fingerprint` are usable before :meth:`start`.

    Args:
        hosts: the hosts; each ``address`` must be a distinct address in 127.0.0.0/8.
        user, password: the local account every host accepts (WinRM Basic and NTLM, SSH).
        lab_dir: where the CA, the SSH host-key seed and ``known_hosts`` are kept.
        http_port, https_port, ssh_port: ports on each host address; None turns an endpoint off.
        authorized_keys: OpenSSH public key lines accepted for SSH public-key logon.
        allow_unencrypted: like WinRM's AllowUnencrypted; False (the Windows default) refuses
            Basic and unencrypted messages over plain HTTP.
        limits: WinRS quotas and the envelope and timeout limits of the WinRM service.
        script_workers: threads that run scripts (``LabHost.run_script``).
        seed: seeds the random draws of the ``http_500_rate`` and ``reset_rate`` faults.
    """

    def __init__(
        self,
        hosts: Sequence[LabHost],
        *,
        user: str,
        password: str,
        lab_dir: Path | str,
        http_port: int | None = 5985,
        https_port: int | None = 5986,
        ssh_port: int | None = 2222,
        authorized_keys: Sequence[str] = (),
        allow_unencrypted: bool = False,
        limits: WinRSLimits = _DEFAULT_LIMITS,
        script_workers: int = 32,
        seed: int | None = None,
    ) -> None:
        _check_addresses(hosts)
        self._hosts = {host.name: host for host in hosts}
        if len(self._hosts) != len(hosts):
            raise ValueError("lab host names must be distinct")
        self._ports = {"http": http_port, "https": https_port, "ssh": ssh_port}
        credentials = LabCredentials(user, password)
        self._lab_dir = Path(lab_dir)
        self._lab_dir.mkdir(parents=True, exist_ok=True)
        self._ca = LabCA(self._lab_dir / "tls")
        self._keys = SshHostKeys(self._lab_dir / "ssh")
        if ssh_port is not None:
            self._keys.write_known_hosts(self.known_hosts_path, hosts, ssh_port)
        rng = random.Random(seed)
        self._executor = ThreadPoolExecutor(max_workers=script_workers, thread_name_prefix="lab-script")
        self._wsman = WsmanServer(
            credentials=credentials,
            ca=self._ca,
            executor=self._executor,
            http_port=http_port,
            https_port=https_port,
            allow_unencrypted=allow_unencrypted,
            limits=limits,
            rng=rng,
        )
        self._ssh = (
            SshServer(credentials=credentials, authorized_keys=authorized_keys, keys=self._keys, port=ssh_port, rng=rng)
            if ssh_port is not None
            else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def ca_path(self) -> Path:
        """The lab CA's PEM file: pywinrm's ``ca_trust_path``, the inventory's ``ca_bundle``."""
        return self._ca.ca_path

    @property
    def known_hosts_path(self) -> Path:
        """An OpenSSH known_hosts file with every host's key, by address and by name."""
        return self._lab_dir / "known_hosts"

    @property
    def hosts(self) -> tuple[LabHost, ...]:
        """The hosts served, in the order given."""
        return tuple(self._hosts.values())

    def host_key_fingerprint(self, name: str) -> str:
        """A host's SSH host-key fingerprint, as OpenSSH prints it (``SHA256:...``)."""
        return self._keys.fingerprint(self._hosts[name].name)

    def counters(self, name: str) -> Counter[str]:
        """A host's request counters (the host's own ``counters``, updated live)."""
        return self._hosts[name].counters

    def wsman_url(self, name: str, *, https: bool = False) -> str:
        """The WS-Man endpoint of a host, as pywinrm's ``Protocol`` takes it."""
        port = self._ports["https" if https else "http"]
        if port is None:
            raise ValueError(f"the lab serves no {'HTTPS' if https else 'HTTP'} endpoint")
        return f"{'https' if https else 'http'}://{self._hosts[name].address}:{port}/wsman"

    def ssh_endpoint(self, name: str) -> tuple[str, int]:
        """The (address, port) of a host's SSH server, as paramiko's ``connect`` takes them."""
        port = self._ports["ssh"]
        if port is None:
            raise ValueError("the lab serves no SSH endpoint")
        return self._hosts[name].address, port

    def start(self) -> None:
        """Bind every endpoint and serve from a background thread; returns once all listen."""
        if self._started:
            raise RuntimeError("a LabServer starts once")
        self._started = True
        endpoints = sum(1 for port in self._ports.values() if port is not None)
        _raise_open_files_limit(len(self._hosts) * (endpoints + _FILES_PER_HOST) + 256)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="lab-server", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_endpoints(), loop).result()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close every listener and connection, and stop the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        asyncio.run_coroutine_threadsafe(self._stop_endpoints(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    async def _start_endpoints(self) -> None:
        hosts = list(self._hosts.values())
        await self._wsman.start(hosts)
        if self._ssh is not None:
            await self._ssh.start(hosts)
        self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def _stop_endpoints(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        await self._wsman.stop()
        if self._ssh is not None:
            await self._ssh.stop()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _watch(self) -> None:
        """Drop what hosts that went down would drop: connections, and shells after a reboot."""
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            self._wsman.check_hosts()
            if self._ssh is not None:
                self._ssh.check_hosts()


def _check_addresses(hosts: Sequence[LabHost]) -> None:
    """The lab binds only to loopback, one distinct address per host."""
    seen: set[str] = set()
    for host in hosts:
        address = ipaddress.ip_address(host.address)
        if address not in _LOOPBACK:
            raise ValueError(f"lab host {host.name} has address {host.address}, outside 127.0.0.0/8")
        if host.address in seen:
            raise ValueError(f"two lab hosts share address {host.address}")
        seen.add(host.address)


def _raise_open_files_limit(needed: int) -> None:
    """Raise the soft limit on open files towards ``needed``, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
