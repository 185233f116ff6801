"""State shared by every worker: in Redis when REDIS_URL is set, else in this process's memory.

Without Redis one process is the whole deployment, so a dict in memory is shared by everyone who
needs to see it. Each user (host health, rate limits, the API-key epoch) supplies both stores;
this module makes the one choice between them, on the cache's Redis database, under the cache's
key prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from lib.redis_client import redis_db

L = TypeVar("L")
S = TypeVar("S")

SHARED_STATE_DB = 2  # the cache's database: flushing the cache forgets shared state too


def key_prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "qlaud"


def redis_url() -> str:
    """The shared-state Redis URL, or "" when there is no Redis."""
    return redis_db(settings.REDIS_URL, SHARED_STATE_DB) if settings.REDIS_URL else ""


def choose_store(local: Callable[[], L], shared: Callable[[str, str], S]) -> L | S:
    """`shared(redis_url, key_prefix)` when REDIS_URL is set, else `local()`."""
    url = redis_url()
    return shared(url, key_prefix()) if url else local()
