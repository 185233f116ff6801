"""The one outbound HTTP seam of the gateway: a pooled `httpx.AsyncClient` per event loop.

One process normally runs one loop, so this is one client per process. Tests and threaded
servers run several loops; an aiohttp session is bound to the loop that made it, so the
pool is keyed by loop. The transport is `httpx_aiohttp.AiohttpTransport` (several times
cheaper than httpx's own under load, see STACK.md) unless GATEWAY_HTTP_TRANSPORT=httpx.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx
from django.conf import settings

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60.0)


def timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.GATEWAY_CONNECT_TIMEOUT,
        read=settings.GATEWAY_READ_TIMEOUT,
        write=settings.GATEWAY_READ_TIMEOUT,
        pool=settings.GATEWAY_CONNECT_TIMEOUT,
    )


def _transport() -> httpx.AsyncBaseTransport:
    if getattr(settings, "GATEWAY_HTTP_TRANSPORT", "aiohttp") == "httpx":
        return httpx.AsyncHTTPTransport(limits=LIMITS, http1=True, http2=False)
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=LIMITS, http1=True, http2=False, trust_env=False)


def client() -> httpx.AsyncClient:
    """The pooled client for the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    existing = _clients.get(loop)
    if existing is None or existing.is_closed:
        existing = httpx.AsyncClient(transport=_transport(), timeout=timeout(), trust_env=False)
        _clients[loop] = existing
    return existing


async def aclose() -> None:
    """Close the running loop's client (server shutdown, test teardown)."""
    loop = asyncio.get_running_loop()
    existing = _clients.pop(loop, None)
    if existing is not None:
        await existing.aclose()
