"""The OpenAI-compatible and Anthropic provider modules, Cloudflare AI Gateway mode, and the pooled client."""

from __future__ import annotations

import asyncio
import gc
import json
import types
from typing import Any

import httpx
import pytest
from aiohttp import web

from catalog.snapshot import HostInfo, ProviderInfo
from gateway import outbound
from gateway.providers import PROTOCOLS, anthropic, cloudflare, openai_compat
from gateway.providers.base import Call
from lib import jsonio
from wallet.money import Prices


def provider(slug: str, protocol: str = "openai", base: str = "https://api.example.test/v1", **kw: Any) -> ProviderInfo:
    fields = {"via_cloudflare": False, "cf_segment": "", "config": {}, **kw}
    return ProviderInfo(1, slug, slug.title(), protocol, base, "", **fields)


def host(p: ProviderInfo, upstream: str = "up-model") -> HostInfo:
    return HostInfo(7, "public-model", p, upstream, Prices(1, 2), 3, None, 128_000, 0, True, frozenset({"tools"}))


def call(p: ProviderInfo, stream: bool = False, **kw: Any) -> Call:
    body = kw.pop("body", {"model": "ignored", "messages": [{"role": "user", "content": "hi"}]})
    return Call(host=host(p), body=body, stream=stream, api_key="sk-secret", **kw)


def test_the_registry_maps_protocols_to_modules():
    assert PROTOCOLS["openai"] is openai_compat and PROTOCOLS["anthropic"] is anthropic
    assert openai_compat.DIALECT == "openai" and anthropic.DIALECT == "anthropic"


@pytest.mark.parametrize(
    ("slug", "base", "url"),
    [
        ("deepseek", "https://api.deepseek.com", "https://api.deepseek.com/chat/completions"),
        ("groq", "https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1/chat/completions"),
        (
            "google-ai-studio",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
    ],
)
def test_openai_compatible_requests_go_to_the_providers_chat_endpoint_with_a_bearer_key(slug, base, url):
    req = openai_compat.build_request(call(provider(slug, base=base), stream=True))
    body = json.loads(req.content)
    assert (req.method, req.url) == ("POST", url)
    assert req.headers["authorization"] == "Bearer sk-secret"
    assert body["model"] == "up-model" and body["stream"] is True


def test_openrouter_requests_carry_attribution_headers_naming_this_instances_site_url(settings):
    settings.SITE_URL = "https://gateway.example.test"
    req = openai_compat.build_request(call(provider("openrouter", base="https://openrouter.ai/api/v1")))
    assert req.headers["X-Title"] == "qlaud"
    assert req.headers["HTTP-Referer"] == "https://gateway.example.test"
    other = openai_compat.build_request(call(provider("deepseek", base="https://api.deepseek.com")))
    assert "HTTP-Referer" not in other.headers


def test_anthropic_requests_use_x_api_key_a_known_version_and_forward_beta():
    p = provider("anthropic", "anthropic", "https://api.anthropic.com")
    incoming = {"Anthropic-Beta": "interleaved-thinking-2025-05-14", "anthropic-version": "2026-10-21"}
    req = anthropic.build_request(call(p, incoming_headers=incoming))
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers["x-api-key"] == "sk-secret" and "authorization" not in req.headers
    assert req.headers["anthropic-version"] == anthropic.API_VERSION
    assert req.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


def test_anthropic_count_tokens_keeps_only_the_fields_the_endpoint_accepts():
    p = provider("anthropic", "anthropic", "https://api.anthropic.com")
    body = {"model": "x", "messages": [], "max_tokens": 5, "stream": True, "tools": [], "metadata": {}}
    req = anthropic.build_count_tokens(call(p, body=body))
    assert req is not None and req.url.endswith("/v1/messages/count_tokens")
    assert json.loads(req.content) == {"model": "up-model", "messages": [], "tools": []}
    assert openai_compat.build_count_tokens(call(provider("deepseek"))) is None
    assert anthropic.parse_count_tokens(b'{"input_tokens": 9}') == 9


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (429, b'{"error":{"message":"slow down","type":"requests"}}', "rate_limit_error", True),
        (503, b"<html>busy</html>", "overloaded_error", True),
        (500, b'{"error":{"message":"boom"}}', "api_error", True),
        (401, b'{"error":{"message":"bad key"}}', "authentication_error", True),
        (400, b'{"error":{"message":"bad field"}}', "invalid_request_error", False),
        (
            422,
            b'{"object":"error","message":"extra_forbidden","type":"invalid_request_error"}',
            "invalid_request_error",
            False,
        ),
    ],
)
def test_openai_compatible_errors_are_classified_for_failover(status, body, kind, retryable):
    err = openai_compat.parse_error(status, body)
    assert (err.status, err.type, err.retryable) == (status, kind, retryable)
    assert err.message


def test_error_messages_are_read_from_every_known_shape():
    assert (
        openai_compat.parse_error(422, b'{"object":"error","message":"extra_forbidden"}').message == "extra_forbidden"
    )
    cf = b'{"success":false,"result":[],"messages":[],"error":[{"code":2001,"message":"gateway says no"}]}'
    assert openai_compat.parse_error(400, cf).message == "gateway says no"
    overloaded = b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'
    err = anthropic.parse_error(529, overloaded)
    assert (err.type, err.message, err.retryable) == ("overloaded_error", "busy", True)


def test_cloudflare_mode_rewrites_the_url_and_tags_the_request(settings):
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "acct", "gw", "cf-token"
    p = provider("groq", base="https://api.groq.com/openai/v1", via_cloudflare=True)
    tags = {"org": 5, "key": "AbC", "user": 9, "model": "public-model", "surface": "chat", "extra": "dropped"}
    req = openai_compat.build_request(call(p, metadata=tags, customer_prices=Prices(input=1_070_000, output=0)))
    assert req.url == "https://gateway.ai.cloudflare.com/v1/acct/gw/groq/chat/completions"
    assert req.headers["cf-aig-authorization"] == "Bearer cf-token"
    assert req.headers["authorization"] == "Bearer sk-secret"
    assert json.loads(req.headers["cf-aig-metadata"]) == {
        "org": 5,
        "key": "AbC",
        "user": 9,
        "model": "public-model",
        "surface": "chat",
    }
    assert json.loads(req.headers["cf-aig-custom-cost"]) == {"per_token_in": pytest.approx(1.07e-6)}


@pytest.mark.parametrize(
    ("slug", "segment", "url"),
    [
        ("anthropic", "", "/anthropic/v1/messages"),
        ("mistral", "", "/mistral/v1/chat/completions"),
        ("xai", "", "/grok/v1/chat/completions"),
        ("my-claude", "anthropic", "/anthropic/v1/messages"),
        ("my-gemini", "google-ai-studio/v1beta/openai", "/google-ai-studio/v1beta/openai/chat/completions"),
        ("mistral", "mistral/v1", "/mistral/v1/chat/completions"),
    ],
)
def test_cloudflare_paths_follow_each_providers_convention(settings, slug, segment, url):
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "a", "g", ""
    protocol = "anthropic" if url.endswith("/messages") else "openai"
    p = provider(slug, protocol, via_cloudflare=True, cf_segment=segment)
    module = anthropic if protocol == "anthropic" else openai_compat
    req = module.build_request(call(p))
    assert req.url == "https://gateway.ai.cloudflare.com/v1/a/g" + url
    assert "cf-aig-authorization" not in req.headers


def test_direct_requests_carry_no_cloudflare_headers():
    req = openai_compat.build_request(call(provider("deepseek"), metadata={"org": 1}))
    assert not [h for h in req.headers if h.startswith("cf-aig")]
    assert not cloudflare.enabled(provider("deepseek"))


async def test_streams_are_decoded_into_events_and_done_ends_them():
    body = (
        b': keep-alive\n\ndata: {"choices":[{"delta":{"content":"a"}}]}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\ndata: {"late":1}\n\n'
    )
    response = httpx.Response(200, content=body)
    events = [e async for e in openai_compat.iter_events(response)]
    assert events == [
        ("", {"choices": [{"delta": {"content": "a"}}]}),
        ("", {"choices": [], "usage": {"prompt_tokens": 1}}),
    ]
    sse = b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    got = [e async for e in anthropic.iter_events(httpx.Response(200, content=sse))]
    assert got == [("message_start", {"type": "message_start"}), ("ping", {"type": "ping"})]


async def test_the_pooled_client_is_one_per_loop_with_the_configured_timeouts(settings):
    settings.GATEWAY_CONNECT_TIMEOUT, settings.GATEWAY_READ_TIMEOUT = 3.0, 7.0
    await outbound.aclose()
    first = outbound.client()
    assert outbound.client() is first
    assert (first.timeout.connect, first.timeout.read) == (3.0, 7.0)
    await outbound.aclose()
    assert first.is_closed and outbound.client() is not first
    await outbound.aclose()


async def test_the_httpx_transport_fallback_can_be_chosen(settings):
    settings.GATEWAY_HTTP_TRANSPORT = "httpx"
    await outbound.aclose()
    assert isinstance(outbound.client()._transport, httpx.AsyncHTTPTransport)
    await outbound.aclose()


async def test_upstream_calls_carry_the_clients_defaults_and_the_timeouts_but_no_cookies(settings, monkeypatch):
    settings.GATEWAY_CONNECT_TIMEOUT, settings.GATEWAY_READ_TIMEOUT = 3.0, 7.0
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "__cf_bm=one-customer; Path=/"}, json={"ok": True})

    await outbound.aclose()
    monkeypatch.setattr(outbound, "_transport", lambda: httpx.MockTransport(upstream))
    for key in ("sk-a", "sk-b"):
        response = await outbound.send("POST", "https://api.example/v1/x", {"Authorization": f"Bearer {key}"}, b"{}")
        assert response.status_code == 200 and json.loads(await response.aread()) == {"ok": True}
        await response.aclose()
    first, second = seen
    assert first.headers["authorization"] == "Bearer sk-a" and second.headers["authorization"] == "Bearer sk-b"
    assert first.headers["user-agent"] == "qlaud" and "gzip" in first.headers["accept-encoding"]
    assert first.headers["content-length"] == "2" and first.url == "https://api.example/v1/x"
    assert first.extensions["timeout"] == {"connect": 3.0, "read": 7.0, "write": 7.0, "pool": 3.0}
    assert "cookie" not in second.headers  # one customer's upstream cookie never rides on another's call
    await outbound.aclose()


async def test_a_callers_own_user_agent_wins_over_the_default(monkeypatch):
    seen: list[httpx.Request] = []
    await outbound.aclose()
    monkeypatch.setattr(
        outbound, "_transport", lambda: httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(204))
    )
    await outbound.send("GET", "https://api.example/", {"User-Agent": "custom/1"}, None)
    assert seen[0].headers.get_list("user-agent") == ["custom/1"]
    await outbound.aclose()


async def live_upstream(method: str, path: str, handler: Any) -> tuple[Any, int]:
    """A real HTTP server on 127.0.0.1 (an aiohttp app with one route): (its runner, its port)."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def test_the_aiohttp_session_keeps_no_upstream_cookie_between_customers(settings):
    # aiohttp's default cookie jar would store `__cf_bm` from the first call and send it on the
    # second. (It ignores cookies from bare IP addresses, so the upstream is named `localhost`.)
    settings.GATEWAY_HTTP_TRANSPORT = "aiohttp"
    seen: list[tuple[str | None, str | None, str | None]] = []

    async def upstream(request: web.Request) -> web.Response:
        seen.append((request.headers.get("cookie"), request.headers.get("authorization"), await request.text()))
        return web.json_response({"ok": True}, headers={"set-cookie": "__cf_bm=one-customer; Path=/"})

    runner, port = await live_upstream("POST", "/v1/x", upstream)
    await outbound.aclose()
    try:
        for key in ("sk-a", "sk-b"):
            url = f"http://localhost:{port}/v1/x"
            response = await outbound.send("POST", url, {"Authorization": f"Bearer {key}"}, b'{"n": 1}')
            assert response.status_code == 200 and json.loads(await response.aread()) == {"ok": True}
            assert response.headers["set-cookie"].startswith("__cf_bm=")  # passed back, not kept
            await response.aclose()
    finally:
        await outbound.aclose()
        await runner.cleanup()
    assert seen == [(None, "Bearer sk-a", '{"n": 1}'), (None, "Bearer sk-b", '{"n": 1}')]


async def test_a_streaming_answer_does_not_keep_the_body_of_its_request(settings):
    # The response lives as long as the answer streams; the prompt it answers was sent when the head came back.
    settings.GATEWAY_HTTP_TRANSPORT = "aiohttp"
    received: list[int] = []

    async def upstream(request: web.Request) -> web.StreamResponse:
        received.append(len(await request.read()))
        answer = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await answer.prepare(request)
        await answer.write(b"data: {}\n\n")
        return answer

    runner, port = await live_upstream("POST", "/v1/x", upstream)
    await outbound.aclose()
    body = jsonio.dumps({"messages": [{"role": "user", "content": "x" * 100_000}]})
    try:
        response = await outbound.send("POST", f"http://127.0.0.1:{port}/v1/x", {}, body)
        assert response.status_code == 200 and response.request.content == b""
        holders = [r for r in gc.get_referrers(body) if not isinstance(r, types.FrameType)]
        assert holders == [] and received == [len(body)]
        assert await response.aread() == b"data: {}\n\n"
        await response.aclose()
    finally:
        await outbound.aclose()
        await runner.cleanup()


async def test_upstream_timeouts_reach_the_aiohttp_session_as_set(settings):
    settings.GATEWAY_HTTP_TRANSPORT = "aiohttp"
    settings.GATEWAY_READ_TIMEOUT = 0.2

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    runner, port = await live_upstream("GET", "/slow", slow)
    await outbound.aclose()
    try:
        with pytest.raises(httpx.TimeoutException):
            await outbound.send("GET", f"http://127.0.0.1:{port}/slow", {}, None)
    finally:
        await outbound.aclose()
        await runner.cleanup()
