"""The per-site connect cap over real Redis: never more holders than the cap across workers (two
caps on one key stand for two worker processes), and a holder that died is dropped after its ttl."""

from __future__ import annotations

import threading
import time

import pytest
from servers import RedisServer

from provisioner.engine.celery_executor import ConnectCap


def test_the_cap_holds_across_workers_and_a_dead_holder_expires(redis_server: RedisServer | str) -> None:
    if isinstance(redis_server, str):
        pytest.skip(f"no Redis server could be started: {redis_server}")
    caps = [ConnectCap(redis_server.url, "dc-east", 2), ConnectCap(redis_server.url, "dc-east", 2)]
    holding, most = 0, 0
    lock = threading.Lock()

    def connect(cap: ConnectCap) -> None:
        nonlocal holding, most
        token = cap.acquire()
        with lock:
            holding += 1
            most = max(most, holding)
        time.sleep(0.05)
        with lock:
            holding -= 1
        cap.release(token)

    threads = [threading.Thread(target=connect, args=(caps[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert most == 2

    # Another site has its own places; a holder that never released is dropped after the ttl.
    other = ConnectCap(redis_server.url, "dc-west", 1, ttl=0.5)
    other.acquire()  # never released: its worker "died"
    started = time.monotonic()
    other.release(other.acquire())
    assert 0.4 < time.monotonic() - started < 5
