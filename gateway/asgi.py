"""An early-return path for the API: gateway requests skip Django's request cycle.

The site's middleware (sessions, CSRF, auth, messages, allauth, htmx, the org middleware) is
sync and exists for pages; on an async view each sync middleware costs a thread hop. Django's
ASGI handler itself also costs a per-request thread-sensitive context, `request_started` /
`request_finished` signals whose sync receivers run through `sync_to_async`, and URL resolution.
None of that serves the gateway: its views authenticate with API keys, answer every error
themselves, and use the database only through lib.threads' pool (which closes stale
connections itself). So requests to the gateway's own paths are served here: read the body,
call the view found in a dict, send the response with Django's own `send_response`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import aclosing
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponseBase
from django.urls import Resolver404, resolve
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as HttptoolsCycle

from accounts.keys import KeyContext
from gateway import admission, errors, https, outbound, pipeline, records, surfaces
from gateway.errors import GatewayError
from gateway.surfaces import View
from gateway.translate import relay
from wallet import leases

log = logging.getLogger(__name__)

# path -> (view, the error shape of its surface), from the one route registry (gateway.surfaces.ROUTES), which
# also builds gateway/urls.py for reverse() and the site's own handler; this dict spares the gateway the URL
# resolver. /v1/responses is served here too: under the site's sync middleware its view would run under
# async_to_sync, and the bookkeeping tasks it starts (settle, record, host health) would inherit a thread executor
# that is gone once the response is returned.
ROUTES: dict[str, tuple[View, str]] = surfaces.fast_paths()
# The site's own /v1/ views (status, catalog, models, credits, key, generation) are all read-only.
SITE_API_METHODS = ("GET",)


async def read_body(receive: Any, limit: int) -> tuple[bytes, bool]:
    """(the request body, whether it is over `limit`). Reading stops at the first chunk past the limit: the rest is
    never kept (the disconnect watcher reads and drops it), so a huge upload never sits in memory."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def declared_length(scope: dict[str, Any]) -> int:
    """The Content-Length the client declared (0 when absent or unreadable: the streamed size is checked anyway)."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class ApiRequest:
    """What the gateway's views read of a request: its method, headers and body.

    Django's `ASGIRequest` builds META from the scope, then `request.headers` builds a second
    mapping from META: two full copies of the headers to read three fields. ASGI servers give header names
    in lower case; repeated headers are joined with a comma, as Django joins them.
    """

    __slots__ = ("body", "headers", "key", "method", "path", "too_large")

    def __init__(self, scope: dict[str, Any], body: bytes = b"") -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        self.headers = headers
        self.body = body
        self.key: KeyContext | None = None  # verified before the body was read (POST only)
        self.too_large = False  # the body was over GATEWAY_MAX_BODY_BYTES and was not read


# After this many requests the caches the first requests filled (catalog snapshot, keys, clients) are
# long-lived too: freeze them once more.
WARM_REQUESTS = 1000
# Generation-1 collections between two full ones (CPython's default is 10).
FULL_COLLECTION_EVERY = 100


def freeze_heap() -> None:
    """Move every object alive now into the permanent generation, out of the cyclic GC's reach.

    A worker's heap is mostly Django, its apps and their caches, all alive for the life of the
    process; a full (generation 2) collection would walk all of it every few seconds under load,
    stalling the event loop long enough to dominate tail latency. Frozen, a full collection only
    walks what requests allocated since. Reference counting still frees frozen
    objects that are dropped; only cycles among them would stay (and there are none to speak of).

    What a full collection then walks is mostly the open streams' objects, which end freed by reference counting
    (no cycles: gateway/tests/test_e2e_streaming.py), so it finds little; at 1,000 open streams it took ~100 ms
    and came every 3-4 s. FULL_COLLECTION_EVERY makes it ten times rarer (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


class GatewayHandler(ASGIHandler):
    """Serves ROUTES with no middleware, signals, thread-sensitive context or URL resolver."""

    served = 0

    def load_middleware(self, is_async: bool = False) -> None:
        """No middleware chain: __call__ calls the views itself."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        view, dialect = ROUTES[scope["path"]]
        self.served += 1
        if self.served == WARM_REQUESTS:
            freeze_heap()
        refused = admission.refusal()
        if refused is not None:  # before any key lookup, hold or upstream call
            await self.send_response(errors.render(refused, dialect), send)
            return
        request = ApiRequest(scope)
        refusal = await admit(request, dialect)
        if refusal is not None:
            await self.send_response(refusal, send)
            return
        limit = settings.GATEWAY_MAX_BODY_BYTES
        try:
            if declared_length(scope) > limit:
                request.too_large = True
            else:
                request.body, request.too_large = await read_body(receive, limit)
        except RequestAborted:
            return
        admission.counts.open += 1
        try:
            await self.serve(view, dialect, request, receive, send)
        finally:
            admission.counts.open -= 1

    async def serve(self, view: View, dialect: str, request: ApiRequest, receive: Any, send: Any) -> None:
        # As ASGIHandler.handle does, a client that leaves cancels the view or its response iterator
        # (the views settle what they started, shielded from that cancellation). Django runs the
        # response in a second task and joins both with asyncio.wait; here it runs in this task and
        # only the watcher is a task of its own, which halves the scheduling per request.
        this = asyncio.current_task()
        assert this is not None
        watcher = asyncio.create_task(_cancel_on_disconnect(receive, this))
        try:
            await self.respond(view, dialect, request, send)
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled():
                raise  # cancelled from outside (server shutdown), not by the client leaving
        finally:
            if watcher.done() and not watcher.cancelled():
                this.uncancel()  # the watcher's cancel is handled: nothing after this may see it
            else:
                watcher.cancel()

    async def respond(self, view: View, dialect: str, request: ApiRequest, send: Any) -> None:
        response = await answer(view, dialect, request)
        try:
            await self.send_response(response, send)
        except asyncio.CancelledError:
            pass  # the client left while the response was being sent, as in ASGIHandler.handle

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        """Django's send_response, without two layers per streamed part: the response's own `__aiter__`
        (there to map sync iterators; the gateway's are async) and the 64 KB re-chunking generator (uvicorn
        takes a body of any size). A stream's parts are what the stream loop yields, one send each."""
        if not response.streaming:
            await super().send_response(response, send)
            return
        headers = [(k.encode("ascii"), v.encode("latin-1")) for k, v in response.items()]
        headers.extend((b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values())
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        splice = getattr(response, "splice", None)
        client = ClientSocket.of(send) if splice is not None else None
        if splice is None or client is None or not await splice.run(client):
            async with aclosing(response.streaming_content) as content:  # type: ignore[attr-defined]
                async for part in content:
                    await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body"})


class ClientSocket:
    """The client's socket under uvicorn's httptools protocol, for a stream's body (gateway/surfaces/streaming.py,
    `Splice`): each write is one chunk of the chunked body, straight to the transport, as uvicorn's `send` writes
    it, without an ASGI message and an await per part. The head and the closing chunk still go through `send`, so
    uvicorn's own state (keep-alive, the response's end) is what it expects."""

    __slots__ = ("cycle", "flow", "transport")

    def __init__(self, cycle: Any) -> None:
        self.cycle, self.flow, self.transport = cycle, cycle.flow, cycle.transport

    @classmethod
    def of(cls, send: Any) -> ClientSocket | None:
        """The socket behind `send` once the head is out, when `send` is uvicorn's httptools cycle sending a chunked
        body; else None (the parts go through `send`)."""
        cycle = getattr(send, "__self__", None)
        if type(cycle) is not HttptoolsCycle or not cycle.chunked_encoding or cycle.response_complete:
            return None
        return cls(cycle)

    def write(self, data: bytes) -> bool:
        """Write `data`; whether the socket's buffer is now over its high-water mark (the caller should drain)."""
        if self.cycle.disconnected:
            return False
        self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        return bool(self.flow.write_paused)

    async def drain(self) -> None:
        if self.flow.write_paused and not self.cycle.disconnected:
            await self.flow.drain()


async def _cancel_on_disconnect(receive: Any, task: asyncio.Task[Any]) -> None:
    """Wait for the client to go (or for the server to say the response is complete), then cancel `task`."""
    while (await receive())["type"] != "http.disconnect":
        pass
    task.cancel()


async def admit(request: ApiRequest, dialect: str) -> HttpResponseBase | None:
    """Authenticate a POST before its body is read: a request without a valid key never makes the worker hold its
    upload. The refusal to send, or None (the key, if any, is on `request.key` for the view)."""
    if request.method != "POST":
        return None  # the views answer other methods without reading a body
    try:
        request.key = await pipeline.authenticate(request.headers)
    except GatewayError as err:
        return errors.render(err, dialect)
    except Exception:
        log.exception("authentication for %s failed", request.path)
        return errors.render(GatewayError("api_error", "Internal error."), dialect)
    return None


async def answer(view: View, dialect: str, request: ApiRequest) -> HttpResponseBase:
    """The view's response; anything escaping it becomes a 500 in the surface's shape, never an HTML page."""
    try:
        return await view(request)
    except Exception:
        log.exception("gateway view for %s failed", request.path)
        return errors.render(GatewayError("api_error", "Internal error."), dialect)


async def shutdown() -> None:
    """The worker is stopping: finish the bookkeeping of answered requests (settlements, request
    log rows), write and give back this worker's wallet leases, then close the upstream connections
    (an aiohttp session left open says "Unclosed client session" on every Ctrl+C)."""
    try:
        await asyncio.gather(*list(pipeline._background), return_exceptions=True)
        await records.aflush()
        await leases.close()
    finally:
        await outbound.aclose()


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI lifespan app: nothing to start; on shutdown, `shutdown()` before the server exits."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await shutdown()
            except Exception:
                log.exception("gateway shutdown did not complete; the reconciler will settle what is left")
            await send({"type": "lifespan.shutdown.complete"})
            return


def api_refusal(method: str, path: str) -> HttpResponseBase | None:
    """A JSON 404 or 405 for a /v1/ path that no view serves with this method, in the shape of the nearest surface
    (Anthropic under /v1/messages, OpenAI elsewhere); None when a view serves it. It answers before the site's
    middleware, whose CSRF check would refuse a POST with an HTML page."""
    dialect = relay.ANTHROPIC if path.startswith("/v1/messages") else relay.OPENAI
    try:
        name = resolve(path).url_name
    except Resolver404:
        name = None
    if name is None or name == "v1_not_found":
        message = f"No API route {method} {path}. See {settings.SITE_URL}/docs/api/."
        return errors.render(GatewayError("no_route", message), dialect)
    allowed = surfaces.METHODS.get(name, SITE_API_METHODS)
    if method in allowed:
        return None
    refusal = errors.render(GatewayError("method", f"{method} is not allowed on {path}; use {allowed[0]}."), dialect)
    refusal["Allow"] = ", ".join(allowed)
    return refusal


# The site's own API paths (account API, catalog, stored responses): their bodies are limited here too, before Django
# reads them.
API_PREFIXES = ("/v1/", "/api/")


def limit_body(site: Any, handler: ASGIHandler) -> Any:
    """Wrap the site's ASGI app so an API path's body over GATEWAY_MAX_BODY_BYTES (declared or streamed) is a JSON
    413 before Django has read it."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = settings.GATEWAY_MAX_BODY_BYTES
        refusal = errors.render(GatewayError("too_large", f"Request body exceeds {limit} bytes."), errors.OPENAI)
        if declared_length(scope) > limit:
            await handler.send_response(refusal, send)
            return
        size = 0

        async def counted() -> dict[str, Any]:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > limit:
                if size - len(message.get("body", b"")) <= limit:  # the first chunk past the limit: answer once
                    await handler.send_response(refusal, send)
                return {"type": "http.disconnect"}  # Django stops reading and answers nothing more
            return message

        await site(scope, counted, send)

    return app


def with_fast_path(site: Any) -> Any:
    """Wrap the site's ASGI app so the gateway's paths bypass Django's request cycle, no /v1/ path answers
    with the site's HTML, and no API path is served over plain http when https is required (gateway/https.py)."""
    gateway = GatewayHandler()
    api = limit_body(site, gateway)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await site(scope, receive, send)
        elif refused := https.scope_refusal(scope):  # before any route reads a key or body
            await gateway.send_response(refused, send)
        elif scope["path"] in ROUTES:
            await gateway(scope, receive, send)
        elif scope["path"].startswith("/v1/") and (refusal := api_refusal(scope["method"], scope["path"])):
            await gateway.send_response(refusal, send)
        elif scope["path"].startswith(API_PREFIXES):
            await api(scope, receive, send)
        else:
            await site(scope, receive, send)

    return app
