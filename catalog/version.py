"""The catalog version number shared by every worker: through the Django cache (Redis) in
production, through a file (`lib.shared_state.FileValue`) in embedded mode, where the cache is
per process and `manage.py setprovider` / `loadcatalog` run in processes of their own.

Any catalog write bumps it; each process compares it (at most once a second) with the version
its in-memory snapshot was built from, so a command's change reaches a running server within
about a second. Values are nanosecond timestamps, so a flushed cache simply yields a fresh,
different version rather than an old one coming back.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from lib import shared_state

VERSION_KEY = "catalog:version"
_listeners: list = []


def on_bump(callback) -> None:
    """Called (in this process) after every bump: lets the snapshot recheck at once."""
    _listeners.append(callback)


def _file() -> shared_state.FileValue | None:
    """The version's file in embedded mode (no Redis), else None (the cache is shared)."""
    if shared_state.redis_url():
        return None
    return shared_state.file_value("catalog-version")


def bump() -> int:
    version = time.time_ns()
    shared = _file()
    if shared is not None:
        shared.write(str(version))
    cache.set(VERSION_KEY, version, timeout=None)
    for callback in _listeners:
        callback()
    return version


def current() -> int:
    shared = _file()
    if shared is not None:
        return int(shared.read_or_start(lambda: str(time.time_ns())))
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    return int(version)


async def acurrent() -> int:
    shared = _file()
    if shared is not None:  # one os.stat, at most once a second per process: no thread hop
        return int(shared.read_or_start(lambda: str(time.time_ns())))
    version = await cache.aget(VERSION_KEY)
    if version is None:
        await cache.aadd(VERSION_KEY, time.time_ns(), timeout=None)
        version = await cache.aget(VERSION_KEY)
    return int(version)
