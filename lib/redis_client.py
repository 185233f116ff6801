"""Native asyncio Redis clients for the hot path (no thread hop, unlike Django's cache API).

One client per (event loop, URL): a redis.asyncio connection pool is bound to the loop that
created it, and tests and servers may run several loops in one process.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def async_redis(url: str) -> Any:
    import redis.asyncio

    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return client


def redis_db(url: str, n: int) -> str:
    """`url` with logical database n (0 broker, 1 channels, 2 cache and shared state, 3 results)."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{n}"
