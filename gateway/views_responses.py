"""The OpenAI Responses API surface: POST /v1/responses (streaming and not), GET /v1/responses/{id}.

Thin: the same pipeline steps as /v1/chat/completions (authenticate, resolve route, hold, call with failover,
settle shielded, record with surface "responses"), errors in the OpenAI shape. What differs lives in the pure
core, gateway.translate.responses (request, answer, stream, blob), and in gateway.responses_store
(previous_response_id, item_reference).

`GET /v1/responses` with `Upgrade: websocket` (Codex's first try) gets an immediate 426 so the client falls back
to POST + SSE.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import pipeline, ratelimit, responses_store
from gateway import usage as usage_mod
from gateway import views as base
from gateway.errors import GatewayError
from gateway.pipeline import Outcome
from gateway.translate import relay
from gateway.translate.request import shape_anthropic, shape_openai
from gateway.translate.responses import blob as seal
from gateway.translate.responses.answer import (
    ResponseMeta,
    Shaping,
    anthropic_to_response,
    chat_to_response,
    responses_usage,
)
from gateway.translate.responses.request import RequestError, Translated, responses_to_anthropic, responses_to_chat
from gateway.translate.responses.stream import AnthropicToResponses, ChatToResponses, encode
from gateway.usage import Usage
from gateway.views import Exchange, Incoming, Surface, _finish, _paced, _refuse, target_for

log = logging.getLogger(__name__)
INCLUDE_REASONING = "reasoning.encrypted_content"


def validate_responses(body: dict[str, Any]) -> None:
    def require(condition: bool, param: str, message: str) -> None:
        if not condition:
            raise GatewayError("invalid_request", f"{param}: {message}", param=param)

    require(isinstance(body.get("model"), str) and body["model"] != "", "model", "Field required (a model id).")
    require(isinstance(body.get("input"), str | list), "input", "Field required (a string or a list of items).")
    limit = body.get("max_output_tokens")
    require(limit is None or (isinstance(limit, int) and limit > 0), "max_output_tokens", "must be a positive integer.")
    require(body.get("tools") is None or isinstance(body["tools"], list), "tools", "must be a list.")


RESPONSES = Surface("responses", relay.OPENAI, validate_responses)


@lru_cache(maxsize=4)
def _seal_key(secret: str) -> bytes:
    return seal.derive_key(secret)


def seal_key() -> bytes:
    return _seal_key(settings.RESPONSES_SEAL_KEY)


def unseal(blob: object) -> dict[str, Any] | None:
    return seal.unseal(blob, seal_key())


def sealer(payload: dict[str, Any]) -> str:
    return seal.seal(payload, seal_key())


# --- views ----------------------------------------------------------------------------------------


@csrf_exempt
async def responses(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    if request.method == "GET":
        return _no_websocket(request)
    if request.method != "POST":
        message = f"{request.method} is not allowed here; use POST."
        return _openai_error(405, message, "invalid_request_error", "method_not_allowed")
    return await create(Exchange(RESPONSES, request))


@csrf_exempt
async def retrieve(request: HttpRequest, response_id: str) -> HttpResponse:
    """A stored response of the caller's org (kept for an hour unless created with store:false)."""
    if request.method != "GET":
        return _openai_error(405, "Use GET to retrieve a response.", "invalid_request_error", "method_not_allowed")
    try:
        key = await pipeline.authenticate(request.headers)
    except GatewayError as err:
        return _openai_error(401, err.message, "authentication_error", "invalid_api_key")
    stored = await responses_store.load(key.org_id, response_id)
    if stored is None:
        return _openai_error(404, f"Response with id '{response_id}' not found.", "invalid_request_error", None)
    return JsonResponse(stored)


def _no_websocket(request: Incoming) -> HttpResponse:
    # Codex tries a websocket first; a fast non-101 answer makes it fall back to HTTP streaming.
    upgrade = request.headers.get("upgrade", "").lower() == "websocket"
    message = "WebSockets are not supported on /v1/responses; POST with stream:true instead."
    response = _openai_error(426 if upgrade else 405, message, "invalid_request_error", "unsupported")
    response["Allow"] = "POST"
    return response


def _openai_error(status: int, message: str, type_: str, code: str | None, param: str | None = None) -> HttpResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


# --- the flow -------------------------------------------------------------------------------------


class Turn:
    """What this request adds to the Exchange: the resolved conversation and how to present output."""

    def __init__(self, body: dict[str, Any], conversation: list[dict[str, Any]], request_id: str) -> None:
        self.body = {**body, "input": conversation}
        self.conversation = conversation
        self.meta = ResponseMeta.from_request(body, response_id="resp_" + request_id.removeprefix("req_"))
        self.wants_blob = INCLUDE_REASONING in (body.get("include") or [])
        self.translated: Translated | None = None

    def shaping(self, host: Any, module: Any) -> Shaping:
        assert self.translated is not None
        provider = target_for(host, module).provider
        return Shaping(self.translated.tools, provider, sealer if self.wants_blob else None)

    def build(self, host: Any, module: Any) -> dict[str, Any]:
        """The pipeline's hook: this turn in the host's dialect, shaped for the host."""
        target = target_for(host, module)
        translate = responses_to_chat if module.DIALECT == relay.OPENAI else responses_to_anthropic
        shape = shape_openai if module.DIALECT == relay.OPENAI else shape_anthropic
        self.translated = translate(
            self.body, provider=target.provider, max_output_tokens=host.max_output_tokens, unseal=unseal
        )
        return shape(self.translated.body, target, sealer=pipeline.sealer())


async def create(ex: Exchange) -> HttpResponse | StreamingHttpResponse:
    try:
        await _admit(ex)
        conversation = await responses_store.resolve_input(ex.key.org_id, ex.body)
        turn = Turn(ex.body, conversation, ex.request_id)
        neutral = responses_to_chat(turn.body, provider="", max_output_tokens=None, unseal=unseal).body
        ex.lease = await ratelimit.acquire(ex.key)
        route = await pipeline.resolve_route(ex.key, _routing_body(ex.body, neutral))
        ex.input_estimate = pipeline.estimate_input_tokens(neutral)
        amount = pipeline.hold_amount(route, ex.input_estimate, ex.body.get("max_output_tokens"))
        ex.hold = await pipeline.place_hold(ex.key, amount, ex.request_id)
        ex.upstream = await pipeline.call_with_failover(
            route, turn.build, stream=ex.stream, headers=ex.request.headers, tags=ex.tags
        )
        return _stream(ex, turn) if ex.stream else await _answer(ex, turn)
    except RequestError as err:
        response = await _refuse(ex, GatewayError("invalid_request", err.message, param=err.param))
        return _with_code(response, err.code) if err.code else response
    except GatewayError as err:
        return await _refuse(ex, err)
    except Exception:
        log.exception("responses request %s failed", ex.request_id)
        return await _refuse(ex, GatewayError("api_error", "Internal error. The request was not charged."))


async def _admit(ex: Exchange) -> None:
    ex.key = await pipeline.authenticate(ex.request.headers)
    ex.body = pipeline.parse_body(ex.request.body)
    ex.surface.validate(ex.body)


def _routing_body(body: dict[str, Any], neutral: dict[str, Any]) -> dict[str, Any]:
    """Routing reads Chat-shaped fields (messages, tools) plus OpenRouter-style options from the client body."""
    return {**neutral, **{k: body[k] for k in ("provider", "models") if k in body}}


def _with_code(response: HttpResponse, code: str) -> HttpResponse:
    body = json.loads(response.content)
    body["error"]["code"] = code
    response.content = json.dumps(body).encode()
    return response


def _headers(ex: Exchange, turn: Turn, upstream_ms: float) -> dict[str, str]:
    headers = ex.headers(upstream_ms)
    if turn.translated and turn.translated.dropped_tools:
        headers["x-qlaud-dropped-tools"] = ",".join(turn.translated.dropped_tools)
    return headers


def _billed_usage(usage: Usage) -> dict[str, Any]:
    return responses_usage(
        input_tokens=usage.prompt,
        cached=usage.cache_read,
        cache_write=usage.cache_write,
        output=usage.output,
        reasoning=usage.reasoning,
    )


async def _answer(ex: Exchange, turn: Turn) -> HttpResponse:
    body, outcome, upstream_ms = base.read_answer(ex)
    up = ex.upstream
    assert up is not None
    translate = chat_to_response if up.module.DIALECT == relay.OPENAI else anthropic_to_response
    answer = translate(body, turn.meta, turn.shaping(up.host, up.module))
    await _finish(ex, outcome, True, upstream_ms)
    answer["usage"] = _billed_usage(outcome.usage)
    await _store(ex, turn, answer)
    return JsonResponse(answer, headers=_headers(ex, turn, upstream_ms))


def _stream(ex: Exchange, turn: Turn) -> StreamingHttpResponse:
    up = ex.upstream
    assert up is not None
    upstream_ms = (time.perf_counter() - up.started) * 1000
    response = StreamingHttpResponse(_events(ex, turn, upstream_ms), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    for name, value in _headers(ex, turn, upstream_ms).items():
        response[name] = value
    return response


class _Meter:
    """Delivered characters and first-event time, for billing a stream whose upstream reported no usage."""

    first_at: float | None

    def __init__(self, dialect: str) -> None:
        self.dialect, self.chars, self.first_at = dialect, 0, None

    def saw(self, data: dict[str, Any]) -> None:
        self.first_at = self.first_at or time.perf_counter()
        self.chars += relay.delivered_chars(self.dialect, data)


KEEPALIVE = b": keep-alive\n\n"


async def _events(ex: Exchange, turn: Turn, upstream_ms: float) -> AsyncIterator[bytes]:
    """Upstream events in, Responses events out. Settles in `finally`, even when the client leaves."""
    up = ex.upstream
    assert up is not None
    dialect = up.module.DIALECT
    shaping = turn.shaping(up.host, up.module)
    machine = (
        ChatToResponses(turn.meta, shaping) if dialect == relay.OPENAI else AnthropicToResponses(turn.meta, shaping)
    )
    meter = _Meter(dialect)
    error_type = ""
    next_checkpoint = 0.0  # the first one as soon as output reaches the client
    try:
        yield _frames(machine.start())
        try:
            async for batch in _paced(up.module.iter_events(up.response), base.KEEPALIVE_SECONDS):
                if batch is None:  # a long upstream silence: an SSE comment keeps proxies from timing out
                    yield KEEPALIVE
                    continue
                out = []
                for event, data in batch:
                    meter.saw(data)
                    out += machine.feed(data) if dialect == relay.OPENAI else machine.feed(event, data)  # type: ignore[call-arg]
                if out:
                    yield _frames(out)
                    if meter.first_at is not None and time.monotonic() >= next_checkpoint:
                        next_checkpoint = time.monotonic() + base.CHECKPOINT_SECONDS
                        usage, _ = pipeline.billable_usage(Usage(), meter.chars, ex.input_estimate, True)
                        pipeline.checkpoint(ex.hold, usage, up.host, ex.request_id, ex.requested)
            tail = machine.finish()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("upstream stream broke (request %s): %s", ex.request_id, type(exc).__name__)
            tail = machine.fail("server_error", "The upstream connection broke mid-stream.")
        if tail:
            yield _frames(tail)
        failed = machine.response is not None and machine.response["status"] == "failed"
        error_type = "upstream_error" if failed else ""
    except asyncio.CancelledError:
        error_type = "client_disconnected"
        raise
    finally:
        await _close_quietly(up.response)
        await _settle_stream(ex, turn, machine, meter, error_type, upstream_ms)


async def _settle_stream(ex: Exchange, turn: Turn, machine: Any, meter: _Meter, error: str, upstream_ms: float) -> None:
    dialect = ex.upstream.module.DIALECT  # type: ignore[union-attr]
    raw = machine.upstream_usage or {}
    reported = usage_mod.from_openai(raw) if dialect == relay.OPENAI else usage_mod.from_anthropic(raw)
    delivered = meter.first_at is not None
    usage, estimated = pipeline.billable_usage(reported, meter.chars, ex.input_estimate, delivered)
    ttft = (meter.first_at - ex.upstream.started) * 1000 if meter.first_at else None  # type: ignore[union-attr]
    status = 499 if error == "client_disconnected" else 200
    outcome = Outcome(usage, estimated, status, error, machine.finish_reason or "", ttft)
    await _finish(ex, outcome, delivered, upstream_ms)
    if machine.response is not None and machine.response["status"] != "failed":
        await _store(ex, turn, machine.response)


async def _store(ex: Exchange, turn: Turn, response: dict[str, Any]) -> None:
    if not responses_store.wants_storage(ex.body):
        return
    try:
        await responses_store.save(ex.key.org_id, response, turn.conversation)
    except Exception:  # storage is a convenience; the answer already went out
        log.exception("could not store response %s", response.get("id"))


def _frames(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode(event) for event in events)


async def _close_quietly(response: httpx.Response) -> None:
    try:
        await asyncio.shield(response.aclose())
    except BaseException:  # closing a broken upstream must never mask the real outcome
        pass
