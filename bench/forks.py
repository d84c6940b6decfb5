"""What a fork costs: threads (what rollout.py uses) against asyncio driving the same blocking calls.

pywinrm and paramiko block, so an asyncio engine would call them through ``asyncio.to_thread``:
the threads stay and a loop is added. This measures the per-host overhead of both ways of
running N blocking calls with at most F at once, with a sleep standing in for the network wait.

    python bench/forks.py
"""

from __future__ import annotations

import asyncio
import queue
import resource
import statistics
import threading
import time

HOSTS = 1000
FORKS = 100
WAIT = 0.01


def blocking_call() -> None:
    time.sleep(WAIT)


def with_threads() -> None:
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(HOSTS):
        pending.put(index)

    def worker() -> None:
        while True:
            try:
                pending.get_nowait()
            except queue.Empty:
                return
            blocking_call()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(FORKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def with_asyncio() -> None:
    async def main() -> None:
        limit = asyncio.Semaphore(FORKS)

        async def one() -> None:
            async with limit:
                await asyncio.to_thread(blocking_call)

        loop = asyncio.get_running_loop()
        from concurrent.futures import ThreadPoolExecutor

        loop.set_default_executor(ThreadPoolExecutor(max_workers=FORKS))
        await asyncio.gather(*(one() for _ in range(HOSTS)))

    asyncio.run(main())


def measure(run: object) -> tuple[float, float]:
    assert callable(run)
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - cpu) * 1e6 / HOSTS, time.perf_counter() - wall


def main() -> None:
    print(f"{HOSTS} blocking calls of {WAIT * 1000:g} ms, {FORKS} at once; median of 5")
    for name, run in (("threads", with_threads), ("asyncio+to_thread", with_asyncio)):
        samples = [measure(run) for _ in range(5)]
        cpu = statistics.median(s[0] for s in samples)
        wall = statistics.median(s[1] for s in samples)
        print(f"{name:<18} controller CPU {cpu:6.0f} us/host   wall {wall:5.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
