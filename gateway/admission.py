"""Per-worker admission: refuse new gateway requests early and cleanly when this worker is full.

A worker that takes more streams than it can pace does not fail cleanly: every open stream slows down, first
chunks wait for seconds and, past that, connections reset. So a new request is refused (529 `overloaded_error`
on /v1/messages, as Anthropic answers overload; 503 `server_is_overloaded` on the OpenAI surfaces; both with
`Retry-After`) before any key lookup, hold or upstream call when either

- this worker already serves GATEWAY_MAX_OPEN_STREAMS requests (each open stream is one), or
- its event loop runs late by more than GATEWAY_MAX_LOOP_LAG_MS: a callback due every LAG_INTERVAL seconds
  measures how late it ran, which is how long every ready stream waited for its turn. Two ticks in a row must be
  that late: one late tick is a pause (a collection, the CPU lent to another process), not an overload.

Streams already running are never touched. `snapshot()` gives the numbers /v1/status shows the load balancer.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from django.conf import settings

from gateway.errors import GatewayError

LAG_INTERVAL = 0.1  # seconds between the lag monitor's ticks
RETRY_AFTER = 1.0  # seconds: long enough for a load balancer to pick another worker, short for a client


class _Counts:
    """This process's gateway requests in flight, streams open and requests refused."""

    __slots__ = ("open", "refused", "streams")

    def __init__(self) -> None:
        self.open = 0
        self.streams = 0
        self.refused = 0


counts = _Counts()


class LagMonitor:
    """One per event loop: a timer due every LAG_INTERVAL that notes how late it ran."""

    __slots__ = ("__weakref__", "_due", "_last", "_loop", "lag")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.lag = 0.0  # seconds late, the lesser of the last two ticks
        self._last = 0.0  # seconds late at the last tick
        self._due = loop.time() + LAG_INTERVAL
        loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        late = max(0.0, now - self._due)
        self.lag, self._last = min(late, self._last), late
        self._due = now + LAG_INTERVAL
        self._loop.call_at(self._due, self._tick)


_monitors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LagMonitor] = weakref.WeakKeyDictionary()


def monitor() -> LagMonitor:
    """The running loop's lag monitor (started on first use)."""
    loop = asyncio.get_running_loop()
    found = _monitors.get(loop)
    if found is None:
        found = _monitors[loop] = LagMonitor(loop)
    return found


def refusal() -> GatewayError | None:
    """Why this worker must not take a new request now (None: take it)."""
    if counts.open >= settings.GATEWAY_MAX_OPEN_STREAMS:
        reason = "This server is at its limit of open streams."
    elif monitor().lag * 1000 > settings.GATEWAY_MAX_LOOP_LAG_MS:
        reason = "This server is overloaded."
    else:
        return None
    counts.refused += 1
    return GatewayError("overloaded", f"{reason} Retry shortly.", retry_after=RETRY_AFTER)


def snapshot() -> dict[str, Any]:
    """This worker's load, for /v1/status (read from any thread)."""
    lag = max((m.lag for m in list(_monitors.values())), default=0.0)
    return {
        "open_requests": counts.open,
        "open_streams": counts.streams,
        "max_open_streams": settings.GATEWAY_MAX_OPEN_STREAMS,
        "loop_lag_ms": round(lag * 1000, 1),
        "max_loop_lag_ms": settings.GATEWAY_MAX_LOOP_LAG_MS,
        "refused": counts.refused,
    }
