"""The one outbound HTTP seam of the gateway: a pooled `httpx.AsyncClient` per event loop.

One process normally runs one loop, so this is one client per process. Tests and threaded
servers run several loops; an aiohttp session is bound to the loop that made it, so the
pool is keyed by loop. The transport is `Transport`, httpx-aiohttp's (cheaper per request
than httpx's own pure-Python transport) on a session of our own, unless
GATEWAY_HTTP_TRANSPORT=httpx.

Upstream calls go through `send`, which hands an `httpx.Request` straight to the client's
transport. `AsyncClient.build_request` + `send` merge a base URL, default headers and the
cookie jar and run the auth and redirect machinery on every call, work the gateway has no use for. Upstream
URLs are absolute, credentials are per call, redirects are never followed, and a cookie jar
shared by every customer would carry cookies one customer's call received into another's.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

import aiohttp
import httpx
import yarl
from django.conf import settings
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

# At least one upstream connection per stream the worker admits (GATEWAY_MAX_OPEN_STREAMS), so an admitted
# stream never queues for a connection.
LIMITS = httpx.Limits(
    max_connections=max(1000, settings.GATEWAY_MAX_OPEN_STREAMS), max_keepalive_connections=200, keepalive_expiry=60.0
)
# What the client would add to every request (Accept, Accept-Encoding, Connection), with our own User-Agent.
DEFAULT_HEADERS = [(k, v) for k, v in httpx.AsyncClient().headers.items() if k != "user-agent"]
DEFAULT_HEADERS.append(("user-agent", "qlaud"))


@dataclass(slots=True)
class _Pool:
    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    timeout: dict[str, float | None]


# In-process upstreams by host name (gateway.providers.demo): `send` hands their requests to a function, not a socket.
LOCAL: dict[str, Callable[[httpx.Request], Awaitable[httpx.Response]]] = {}

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def timeout() -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.GATEWAY_CONNECT_TIMEOUT,
        read=settings.GATEWAY_READ_TIMEOUT,
        write=settings.GATEWAY_READ_TIMEOUT,
        pool=settings.GATEWAY_CONNECT_TIMEOUT,
    )


class Transport(AiohttpTransport):
    """httpx-aiohttp's transport on a session of our own, handed each request without rework.

    - No cookie jar. aiohttp's default jar keeps every cookie an upstream sets (Cloudflare's
      `__cf_bm`, say) and sends it on the next call to that host: one session serves every
      customer, so one customer's cookie would ride on another's call.
    - The aiohttp URL is parsed once per upstream URL and each timeout setting built once, not
      per call; headers go over as they are (no re-decoding through httpx's `Headers`).
    Requests carry their body as bytes (`send` builds them so); responses stream as in
    httpx-aiohttp, with its exception mapping.
    """

    def __init__(self) -> None:
        super().__init__(limits=LIMITS, trust_env=False)

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=LIMITS.max_connections or 0, keepalive_timeout=LIMITS.keepalive_expiry, ssl=self.ssl_context
        )
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with map_aiohttp_exceptions():
            response = await self.client.request(
                request.method,
                _aiohttp_url(str(request.url)),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                auto_decompress=False,
                timeout=_aiohttp_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            )
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )


@lru_cache(maxsize=4096)
def _aiohttp_url(url: str) -> yarl.URL:
    return yarl.URL(url, encoded=True)  # httpx's URL is percent-encoded already


@lru_cache(maxsize=64)
def _aiohttp_timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read, connect=pool)


def _transport() -> httpx.AsyncBaseTransport:
    if getattr(settings, "GATEWAY_HTTP_TRANSPORT", "aiohttp") == "httpx":
        return httpx.AsyncHTTPTransport(limits=LIMITS, http1=True, http2=False)
    return Transport()


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


_SENT = httpx.ByteStream(b"")  # a request's body once it is sent (`send`)


@lru_cache(maxsize=4096)
def _url(url: str) -> tuple[httpx.URL, str]:
    parsed = httpx.URL(url)  # parsed once per distinct upstream URL, not once per request
    return parsed, parsed.netloc.decode("ascii")


async def send(method: str, url: str, headers: dict[str, str], content: bytes | None) -> httpx.Response:
    """Send one upstream request on the pooled connections; the answer streams (read it or
    `aclose` it). Raises httpx's exceptions, as `AsyncClient.send` does."""
    pool = _pool()
    target, host = _url(url)
    names = {k.lower() for k in headers}
    full = [(k, v) for k, v in DEFAULT_HEADERS if k not in names]
    full.extend(headers.items())
    # The headers `Request(content=...)` would add, added here: with `stream=` httpx skips its
    # content encoding and header merging, which cost more than the rest of building a request.
    if "host" not in names:
        full.append(("host", host))
    if "content-length" not in names and (content is not None or method in ("POST", "PUT", "PATCH")):
        full.append(("content-length", str(len(content or b""))))
    stream = httpx.ByteStream(content or b"")
    request = httpx.Request(method, target, headers=full, stream=stream, extensions={"timeout": pool.timeout})
    request.read()
    local = LOCAL.get(host)
    response = await (local(request) if local is not None else pool.transport.handle_async_request(request))
    # The body is sent, and the response, which keeps its request, lives as long as the answer streams: an agent's
    # prompt (often the largest thing a stream holds: ~100 KB, and orjson's buffers are 4 KB at the least) is not
    # kept for minutes with it.
    request.stream, request._content = _SENT, b""
    response.request = request
    return response


async def aclose() -> None:
    """Close the running loop's client (server shutdown, test teardown)."""
    loop = asyncio.get_running_loop()
    existing = _pools.pop(loop, None)
    if existing is not None:
        await existing.client.aclose()
