"""The catalog version number shared by every worker through the Django cache.

Any catalog write bumps it; each process compares it (at most once a second) with the version
its in-memory snapshot was built from. Values are nanosecond timestamps, so a flushed cache
simply yields a fresh, different version rather than an old one coming back.
"""

from __future__ import annotations

import time

from django.core.cache import cache

VERSION_KEY = "catalog:version"
_listeners: list = []


def on_bump(callback) -> None:
    """Called (in this process) after every bump: lets the snapshot recheck at once."""
    _listeners.append(callback)


def bump() -> int:
    version = time.time_ns()
    cache.set(VERSION_KEY, version, timeout=None)
    for callback in _listeners:
        callback()
    return version


def current() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    return int(version)


async def acurrent() -> int:
    version = await cache.aget(VERSION_KEY)
    if version is None:
        await cache.aadd(VERSION_KEY, time.time_ns(), timeout=None)
        version = await cache.aget(VERSION_KEY)
    return int(version)
