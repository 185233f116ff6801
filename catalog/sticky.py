"""Sticky routing: the requests of one conversation prefer the host that holds its prompt cache.

DeepSeek, OpenAI, Gemini and Groq cache prompt prefixes implicitly, on the host that served them: a conversation
that hops between hosts pays full input price on every hop. A conversation is keyed by a hash of the org, the model
and its opening (system prompt and first user message), which stay the same while an agent's history grows.
After a host answers, it is remembered for the key (`CACHE_TTL_SECONDS`, about as long as providers keep a
prefix); the next request of the conversation tries that host first, unless its circuit is open or half-open (then
routing's own order stands) or the client set `provider.order` itself. Memory is shared by every worker through
Redis when REDIS_URL is set, else per process.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from catalog.routing import CIRCUIT_CLOSED, HostHealth, Route
from lib import shared_state
from lib.jsonio import dumps
from lib.redis_client import async_redis

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 600
LOCAL_MAX_KEYS = 50_000
# Provider families (or slugs) whose hosts cache prompt prefixes without breakpoints.
IMPLICIT_CACHE = frozenset(("deepseek", "openai", "gemini", "google-ai-studio", "groq"))


def caches_implicitly(host: Any) -> bool:
    family = host.provider.config.get("family") or host.provider.slug
    return family in IMPLICIT_CACHE or host.upstream_model.lower().startswith(("gemini", "google/gemini"))


def worth_it(route: Route) -> bool:
    """Stickiness matters only where there is a choice and the cache is implicit."""
    return len(route.hosts) > 1 and any(caches_implicitly(h) for h in route.hosts)


def conversation_key(org_id: int, model_id: str, body: Mapping[str, Any]) -> str:
    """The same for every turn of one conversation: org, model, system prompt and first user message."""
    messages = body.get("messages") or ()
    system = body.get("system") or [m.get("content") for m in messages if m.get("role") in ("system", "developer")]
    first_user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    opening = dumps([org_id, model_id, system, first_user])
    return hashlib.blake2b(opening, digest_size=16).hexdigest()


def prefer(route: Route, host_id: int | None, health: Mapping[int, HostHealth]) -> Route:
    """The route with the remembered host first, if it is in the route and its circuit is closed."""
    if host_id is None or (host_id in health and health[host_id].circuit != CIRCUIT_CLOSED):
        return route
    held = [h for h in route.hosts if h.id == host_id]
    if not held or route.hosts[0].id == host_id:
        return route
    return replace(route, hosts=(held[0], *(h for h in route.hosts if h.id != host_id)))


class _LocalStore:
    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    async def get(self, key: str) -> int | None:
        found = self.entries.get(key)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    async def set(self, key: str, host_id: int) -> None:
        self.entries[key] = (host_id, time.monotonic() + CACHE_TTL_SECONDS)
        self.entries.move_to_end(key)
        while len(self.entries) > LOCAL_MAX_KEYS:
            self.entries.popitem(last=False)


class _RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.ns = f"{prefix}:sticky:"

    async def get(self, key: str) -> int | None:
        value = await async_redis(self.url).get(self.ns + key)
        return int(value) if value is not None else None

    async def set(self, key: str, host_id: int) -> None:
        await async_redis(self.url).set(self.ns + key, host_id, ex=CACHE_TTL_SECONDS)


_stores: dict[tuple[str, str], Any] = {}


def _store() -> Any:
    where = (shared_state.redis_url(), shared_state.key_prefix())
    if where not in _stores:
        _stores[where] = shared_state.choose_store(_LocalStore, _RedisStore)
    return _stores[where]


async def remembered(key: str) -> int | None:
    try:
        return await _store().get(key)
    except Exception:  # stickiness is an optimisation: a broken store must not stop traffic
        log.exception("sticky routing store unavailable")
        return None


async def remember(key: str, host_id: int) -> None:
    try:
        await _store().set(key, host_id)
    except Exception:
        log.exception("sticky routing store unavailable")


def reset() -> None:
    """Forget every conversation (tests)."""
    _stores.clear()
