"""The gateway's own ASGI path (gateway/asgi.py), driven directly with ASGI messages."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core import signals
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import resolve, reverse

from gateway import asgi, errors, outbound, pipeline


async def the_site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"site"})


KEY = b"ak_fast_path_test"


@pytest.fixture(autouse=True)
def _a_test_key_is_valid(monkeypatch):
    """The fast path verifies a POST's key before it reads the body; these tests' views need no real tenant."""
    real = pipeline.authenticate

    async def authenticate(headers: Any) -> Any:
        return object() if headers.get("x-api-key") == KEY.decode() else await real(headers)

    monkeypatch.setattr(pipeline, "authenticate", authenticate)


def scope_for(
    path: str, method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None, key: bool = True
) -> dict[str, Any]:
    headers = list(headers or [])
    if key and not any(name.lower() == b"x-api-key" for name, _ in headers):
        headers.append((b"x-api-key", KEY))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Exchange:
    """One ASGI conversation: the body in chunks, what the app sent, and a client that can leave."""

    def __init__(self, *chunks: bytes) -> None:
        last = len(chunks) - 1
        self.inbox = [{"type": "http.request", "body": c, "more_body": i < last} for i, c in enumerate(chunks)]
        self.left = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.inbox:
            return self.inbox.pop(0)
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def serve(path: str, *chunks: bytes, **scope: Any) -> Exchange:
    exchange = Exchange(*(chunks or (b"",)))
    await asgi.with_fast_path(the_site)(scope_for(path, **scope), exchange.receive, exchange.send)
    return exchange


async def test_only_the_gateways_paths_take_the_fast_path():
    assert (await serve("/v1/models", method="GET")).status == 299
    assert (await serve("/v1/chat/completions", key=False)).status == 401


async def test_a_v1_path_no_view_serves_is_refused_in_json_before_the_site_sees_it():
    unknown = await serve("/v1/chat/completions/")
    assert unknown.status == 404 and json.loads(unknown.body)["error"]["type"] == "invalid_request_error"
    wrong_method = await serve("/v1/models")
    assert wrong_method.status == 405 and json.loads(wrong_method.body)["error"]["code"] == "method_not_allowed"


def test_every_fast_path_names_the_same_view_as_the_sites_urls():
    """gateway/urls*.py keep working for reverse() and for any request that reaches the site's handler."""
    for path, (view, _) in asgi.ROUTES.items():
        assert resolve(path).func is view
    assert reverse("gateway-chat-completions") == "/v1/chat/completions"


async def test_a_gateway_request_sends_no_request_signals():
    seen: list[str] = []

    def started(**kwargs: Any) -> None:
        seen.append("started")

    def finished(**kwargs: Any) -> None:
        seen.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        exchange = await serve("/v1/chat/completions", b"{}", key=False)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert exchange.status == 401
    assert json.loads(exchange.body)["error"]["type"] == "authentication_error"
    assert seen == []


@pytest.mark.parametrize(
    ("path", "dialect"),
    [("/v1/messages", errors.ANTHROPIC), ("/v1/chat/completions", errors.OPENAI), ("/v1/responses", errors.OPENAI)],
)
async def test_a_view_exception_is_a_500_in_the_surfaces_shape_not_an_html_page(monkeypatch, path, dialect):
    async def broken(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("a bug")

    monkeypatch.setitem(asgi.ROUTES, path, (broken, dialect))
    exchange = await serve(path, b"{}")
    assert exchange.status == 500
    assert (b"Content-Type", b"application/json") in exchange.sent[0]["headers"]
    body = json.loads(exchange.body)
    if dialect == errors.ANTHROPIC:
        assert body == {"type": "error", "error": {"type": "api_error", "message": "Internal error."}}
    else:
        assert body["error"]["type"] == "api_error" and "a bug" not in exchange.body.decode()


async def test_the_view_gets_the_whole_body_sent_in_chunks(monkeypatch):
    async def echo(request: HttpRequest) -> HttpResponse:
        return HttpResponse(request.body, content_type="application/json")

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (echo, errors.ANTHROPIC))
    exchange = await serve("/v1/messages", b'{"a":', b' "b"', b"}")
    assert (exchange.status, exchange.body) == (200, b'{"a": "b"}')


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_over_the_limit_is_never_kept_and_djangos_upload_limit_does_not_apply(
    monkeypatch, settings, declared
):
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10  # Django's own check would raise RequestDataTooBig on request.body
    seen: list[tuple[int, bool]] = []

    async def measure(request: Any) -> HttpResponse:
        seen.append((len(request.body), request.too_large))
        return HttpResponse(status=413)

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (measure, errors.ANTHROPIC))
    headers = [(b"content-length", b"6000")] if declared else []
    exchange = await serve("/v1/messages", *[b"x" * 600] * 10, headers=headers)
    assert exchange.status == 413
    assert seen == [(0, True)]  # the view refuses it (after authentication, so it is logged) and holds none of it


async def test_an_unauthenticated_post_is_refused_before_its_body_is_read(monkeypatch):
    exchange = Exchange(*[b"x" * 1000] * 20)
    await asgi.with_fast_path(the_site)(scope_for("/v1/chat/completions", key=False), exchange.receive, exchange.send)
    assert exchange.status == 401 and json.loads(exchange.body)["error"]["type"] == "authentication_error"
    assert len(exchange.inbox) == 20  # not one chunk of the upload was read


async def test_a_declared_body_over_the_limit_on_a_site_api_path_is_a_json_413_before_django_reads_it(settings):
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    exchange = Exchange(*[b"x" * 600] * 10)
    scope = scope_for("/v1/credits", "GET", [(b"content-length", b"6000")])
    await asgi.with_fast_path(the_site)(scope, exchange.receive, exchange.send)
    assert exchange.status == 413 and json.loads(exchange.body)["error"]["type"] == "invalid_request_error"
    assert len(exchange.inbox) == 10


async def test_a_streamed_body_over_the_limit_on_a_site_api_path_is_a_json_413_and_the_site_reads_no_more(settings):
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    read: list[int] = []

    async def reading_site(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (message := await receive())["type"] == "http.request":
            read.append(len(message["body"]))
            if not message.get("more_body"):
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"site"})
                return

    exchange = Exchange(*[b"x" * 600] * 10)
    await asgi.with_fast_path(reading_site)(scope_for("/v1/credits", "GET"), exchange.receive, exchange.send)
    assert exchange.status == 413 and read == [600]
    assert len(exchange.inbox) == 8


async def test_a_client_disconnect_cancels_a_streaming_response(monkeypatch):
    ended: list[str] = []
    exchange = Exchange(b"{}")

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"data: first\n\n"
            exchange.left.set()  # the client reads the first event and hangs up
            await asyncio.sleep(30)
            yield b"data: never\n\n"
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def stream(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(events(), content_type="text/event-stream")

    monkeypatch.setitem(asgi.ROUTES, "/v1/chat/completions", (stream, errors.OPENAI))
    app = asgi.with_fast_path(the_site)
    await asyncio.wait_for(app(scope_for("/v1/chat/completions"), exchange.receive, exchange.send), timeout=5)
    assert ended == ["cancelled"]
    assert exchange.status == 200 and exchange.body == b"data: first\n\n"


async def test_a_client_that_leaves_cancels_the_view_and_the_request_ends_quietly(monkeypatch):
    exchange = Exchange(b"{}")
    ended: list[str] = []

    async def slow(request: Any) -> HttpResponse:
        exchange.left.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise
        return HttpResponse()

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (slow, errors.ANTHROPIC))
    await asyncio.wait_for(asgi.with_fast_path(the_site)(scope_for("/v1/messages"), exchange.receive, exchange.send), 5)
    assert ended == ["cancelled"] and exchange.sent == []
    this = asyncio.current_task()
    assert this is not None and this.cancelling() == 0  # the server's task carries no stray cancellation


async def test_a_cancellation_from_the_server_still_propagates(monkeypatch):
    started = asyncio.Event()

    async def slow(request: Any) -> HttpResponse:
        started.set()
        await asyncio.sleep(30)
        return HttpResponse()

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (slow, errors.ANTHROPIC))
    exchange = Exchange(b"{}")
    task = asyncio.create_task(
        asgi.with_fast_path(the_site)(scope_for("/v1/messages"), exchange.receive, exchange.send)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_view_reads_the_method_the_body_and_headers_by_lower_case_name(monkeypatch):
    seen: list[Any] = []

    async def view(request: Any) -> HttpResponse:
        seen.append((request.method, request.body, dict(request.headers)))
        return HttpResponse()

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (view, errors.ANTHROPIC))
    headers = [(b"X-Api-Key", KEY), (b"anthropic-beta", b"a"), (b"anthropic-beta", b"b"), (b"user-agent", b"\xe9")]
    await serve("/v1/messages", b'{"a":', b"1}", headers=headers)
    method, body, got = seen[0]
    assert (method, body) == ("POST", b'{"a":1}')
    assert got == {
        "content-type": "application/json",
        "x-api-key": KEY.decode(),
        "anthropic-beta": "a,b",  # repeated headers joined, as Django joins them
        "user-agent": "\xe9",
    }


async def test_a_client_that_leaves_before_the_body_ends_gets_nothing(monkeypatch):
    called: list[bool] = []

    async def view(request: HttpRequest) -> HttpResponse:
        called.append(True)
        return HttpResponse()

    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (view, errors.ANTHROPIC))
    exchange = Exchange(b"{", b"}")
    exchange.inbox[1] = {"type": "http.disconnect"}
    await asgi.with_fast_path(the_site)(scope_for("/v1/messages"), exchange.receive, exchange.send)
    assert called == [] and exchange.sent == []


async def test_the_heap_is_frozen_once_after_the_warm_up_requests(monkeypatch):
    async def ok(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"{}", content_type="application/json")

    frozen: list[int] = []
    monkeypatch.setitem(asgi.ROUTES, "/v1/messages", (ok, errors.ANTHROPIC))
    monkeypatch.setattr(asgi, "WARM_REQUESTS", 3)
    monkeypatch.setattr(asgi, "freeze_heap", lambda: frozen.append(1))
    app = asgi.with_fast_path(the_site)
    for _ in range(6):
        exchange = Exchange(b"{}")
        await app(scope_for("/v1/messages"), exchange.receive, exchange.send)
        assert exchange.status == 200
    assert frozen == [1]


def test_freezing_the_heap_moves_live_objects_out_of_the_collectors_reach_and_makes_full_collections_rarer():
    thresholds = gc.get_threshold()
    try:
        asgi.freeze_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (thresholds[0], thresholds[1], asgi.FULL_COLLECTION_EVERY)
        assert asgi.FULL_COLLECTION_EVERY > 10  # CPython's default
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.django_db(transaction=True)
async def test_lifespan_shutdown_closes_the_outbound_session_so_ctrl_c_says_nothing_of_unclosed_sessions(
    fake_upstream, caplog
):
    response = await outbound.send("GET", fake_upstream.url + "/health", {}, None)
    await response.aclose()
    pool = outbound._pools[asyncio.get_running_loop()]
    session = pool.transport.client
    assert session is not None and not session.closed  # the aiohttp session a request opened
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await asgi.lifespan({"type": "lifespan"}, receive, send)
        del session, pool
        gc.collect()
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert asyncio.get_running_loop() not in outbound._pools
    assert "Unclosed client session" not in caplog.text
