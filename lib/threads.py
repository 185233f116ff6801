"""One small, long-lived thread pool for the gateway's blocking work (ORM reads and money writes).

Django runs each ASGI request in its own thread-sensitive context, so a default
`sync_to_async` call starts a fresh thread per request, and with it a fresh database and
cache connection (Django's connections are per thread). Work sent here instead runs on a few
threads that live as long as the process, each keeping its connections warm, and the pool's
size bounds how many database connections one worker can hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

T = TypeVar("T")

POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="qlaud-db")


# Tests that run inside one uncommitted transaction need the test's own connection, which only
# Django's thread-sensitive path shares; the root conftest turns the pool off for those.
enabled = True


def in_pool(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as an awaitable that runs on the pool (not on the request's own thread)."""
    if not enabled:
        return sync_to_async(func)

    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()  # drop a broken or expired connection, as a request cycle would
        return func(*args, **kwargs)

    return sync_to_async(call, thread_sensitive=False, executor=POOL)


def yielding(items: Iterable[T], every: int = 32) -> Iterator[T]:
    """`items`, dropping the GIL (time.sleep(0)) every `every` of them.

    A pool thread's long Python loop (a batch of ledger entries or request log rows) otherwise
    holds the GIL in 5 ms slices against the event loop's thread: every request in flight then
    waits out the whole batch's CPU at once (it was most of the gateway's p99). Dropping it every
    few rows lets the loop run between them, so the batch costs each request a sliver instead.
    """
    for i, item in enumerate(items):
        if i and not i % every:
            time.sleep(0)
        yield item


def close_pool_connections() -> None:
    """Close the DB connection of every pool thread (tests call this before the test DB is dropped)."""
    threads = len(POOL._threads)
    if not threads:
        return
    barrier = threading.Barrier(threads)

    def close() -> None:
        barrier.wait(timeout=5)  # one job per thread: each waits until all threads hold one
        connections.close_all()

    for future in [POOL.submit(close) for _ in range(threads)]:
        future.result(timeout=10)
