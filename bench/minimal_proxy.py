"""The floor for any gateway: a raw ASGI pass-through on the same httpx + aiohttp transport as qlaud.

No auth, no database, no translation: read the body, forward it to BENCH_UPSTREAM + path, stream
the answer back chunk by chunk. Run: BENCH_UPSTREAM=http://127.0.0.1:N uvicorn bench.minimal_proxy:app
"""

from __future__ import annotations

import os
from typing import Any

import httpx

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9")
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        limits = httpx.Limits(max_connections=5000, max_keepalive_connections=200)
        if os.environ.get("GATEWAY_HTTP_TRANSPORT", "aiohttp") == "httpx":
            transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=limits)
        else:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        _client = httpx.AsyncClient(transport=transport, timeout=60.0)
    return _client


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = client().build_request(
        "POST", UPSTREAM + scope["path"], content=body, headers={"content-type": "application/json"}
    )
    response = await client().send(request, stream=True)
    try:
        headers = [(b"content-type", response.headers.get("content-type", "application/json").encode())]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await response.aclose()
