"""Per-key rate limits: requests per minute and concurrent requests.

With REDIS_URL the counters are shared by every worker (fixed one-minute windows via INCR +
EXPIRE; concurrency via INCR/DECR with a TTL so a crashed worker cannot pin a slot forever).
Without Redis they live in the process. A key with no limits costs nothing here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from gateway.errors import GatewayError
from lib import shared_state
from lib.redis_client import async_redis

WINDOW_SECONDS = 60


@dataclass(slots=True)
class Lease:
    """A held concurrency slot (or nothing to give back)."""

    key_id: int | None = None

    async def release(self) -> None:
        if self.key_id is not None:
            key_id, self.key_id = self.key_id, None
            await _backend().leave(key_id)


class LocalBackend:
    def __init__(self) -> None:
        self.windows: dict[tuple[int, int], int] = defaultdict(int)
        self.running: dict[int, int] = defaultdict(int)

    async def hit(self, key_id: int, window: int) -> int:
        if len(self.windows) > 50_000:  # old windows are never read again
            self.windows = defaultdict(int, {k: v for k, v in self.windows.items() if k[1] >= window})
        self.windows[(key_id, window)] += 1
        return self.windows[(key_id, window)]

    async def enter(self, key_id: int) -> int:
        self.running[key_id] += 1
        return self.running[key_id]

    async def leave(self, key_id: int) -> None:
        self.running[key_id] = max(0, self.running[key_id] - 1)


class RedisBackend:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix

    def _client(self) -> Any:
        return async_redis(self.url)

    async def hit(self, key_id: int, window: int) -> int:
        name = f"{self.prefix}:rl:rpm:{key_id}:{window}"
        async with self._client().pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(name).expire(name, WINDOW_SECONDS + 5).execute()
        return int(count)

    async def enter(self, key_id: int) -> int:
        name = f"{self.prefix}:rl:running:{key_id}"
        ttl = int(settings.GATEWAY_READ_TIMEOUT) + 120
        async with self._client().pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(name).expire(name, ttl).execute()
        return int(count)

    async def leave(self, key_id: int) -> None:
        await self._client().decr(f"{self.prefix}:rl:running:{key_id}")


_backends: dict[str, LocalBackend | RedisBackend] = {}


def _backend() -> LocalBackend | RedisBackend:
    url = settings.REDIS_URL
    backend = _backends.get(url)
    if backend is None:
        backend = _backends[url] = shared_state.choose_store(LocalBackend, RedisBackend)
    return backend


async def acquire(key: Any) -> Lease:
    """Count this request against the key's limits; GatewayError("rate_limit") when over."""
    if key.rpm_limit:
        await _check_rpm(key.key_id, key.rpm_limit)
    if not key.concurrency_limit:
        return Lease()
    backend = _backend()
    if await backend.enter(key.key_id) > key.concurrency_limit:
        await backend.leave(key.key_id)
        raise GatewayError(
            "rate_limit",
            f"This API key allows {key.concurrency_limit} concurrent requests; wait for one to finish.",
            retry_after=1,
        )
    return Lease(key.key_id)


async def _check_rpm(key_id: int, limit: int) -> None:
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    if await _backend().hit(key_id, window) > limit:
        retry_after = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        raise GatewayError(
            "rate_limit", f"This API key allows {limit} requests per minute; retry later.", retry_after=retry_after
        )


def reset() -> None:
    """Forget the in-process counters and clients (tests)."""
    _backends.clear()
