"""The one outbound HTTP seam of the gateway: a pooled `httpx.AsyncClient` per event loop.

One process normally runs one loop, so this is one client per process. Tests and threaded
servers run several loops; an aiohttp session is bound to the loop that made it, so the
pool is keyed by loop. The transport is `httpx_aiohttp.AiohttpTransport` (several times
cheaper than httpx's own under load, see STACK.md) unless GATEWAY_HTTP_TRANSPORT=httpx.

Upstream calls go through `send`, which hands an `httpx.Request` straight to the client's
transport. `AsyncClient.build_request` + `send` merge a base URL, default headers and the
cookie jar and run the auth and redirect machinery on every call: under load that was about a
sixth of the gateway's CPU (py-spy on the benchmark), for nothing the gateway uses. Upstream
URLs are absolute, credentials are per call, redirects are never followed, and a cookie jar
shared by every customer would carry cookies one customer's call received into another's.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings

LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60.0)
# What the client would add to every request (Accept, Accept-Encoding, Connection), with our own User-Agent.
DEFAULT_HEADERS = [(k, v) for k, v in httpx.AsyncClient().headers.items() if k != "user-agent"]
DEFAULT_HEADERS.append(("user-agent", "qlaud"))


@dataclass(slots=True)
class _Pool:
    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    timeout: dict[str, float | None]


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


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


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.client.is_closed:
        transport, limits = _transport(), timeout()
        client = httpx.AsyncClient(transport=transport, timeout=limits, trust_env=False)
        pool = _pools[loop] = _Pool(client, transport, limits.as_dict())
    return pool


def client() -> httpx.AsyncClient:
    """The pooled client for the running loop (created on first use)."""
    return _pool().client


@lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsed once per distinct upstream URL, not once per request


async def send(method: str, url: str, headers: dict[str, str], content: bytes | None) -> httpx.Response:
    """Send one upstream request on the pooled connections; the answer streams (read it or
    `aclose` it). Raises httpx's exceptions, as `AsyncClient.send` does."""
    pool = _pool()
    names = {k.lower() for k in headers}
    full = [(k, v) for k, v in DEFAULT_HEADERS if k not in names]
    full.extend(headers.items())
    request = httpx.Request(method, _url(url), headers=full, content=content, extensions={"timeout": pool.timeout})
    response = await pool.transport.handle_async_request(request)
    response.request = request
    return response


async def aclose() -> None:
    """Close the running loop's client (server shutdown, test teardown)."""
    loop = asyncio.get_running_loop()
    existing = _pools.pop(loop, None)
    if existing is not None:
        await existing.client.aclose()
