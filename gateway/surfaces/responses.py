"""The OpenAI Responses API surface: POST /v1/responses (streaming and not), GET /v1/responses/{id}.

The same pipeline steps as /v1/chat/completions (authenticate, resolve route, hold, call with failover, settle
shielded, record with surface "responses"), errors in the OpenAI shape. The translation lives in the pure core,
gateway.translate.responses; stored responses (previous_response_id, item_reference) in gateway.surfaces.stored.

`GET /v1/responses` with `Upgrade: websocket` (Codex's first try) gets an immediate 426 so the client falls back
to POST + SSE.
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from catalog import byok
from catalog.snapshot import HostInfo
from gateway import pipeline, ratelimit
from gateway import usage as usage_mod
from gateway.errors import GatewayError
from gateway.providers.base import ProviderModule
from gateway.surfaces import exchange, stored, streaming
from gateway.surfaces.exchange import Exchange, Incoming, Surface, admit, cache_breakpoints, refuse, target_for
from gateway.translate import relay, schema, sse
from gateway.translate.request import shape_anthropic, shape_openai
from gateway.translate.responses import blob, chat_output
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

log = logging.getLogger(__name__)
INCLUDE_REASONING = "reasoning.encrypted_content"
TERMINAL = frozenset({"response.completed", "response.incomplete"})


def validate_responses(body: dict[str, Any]) -> None:
    def require(condition: bool, param: str, message: str) -> None:
        if not condition:
            raise GatewayError("invalid_request", f"{param}: {message}", param=param)

    require(isinstance(body.get("model"), str) and body["model"] != "", "model", "Field required (a model id).")
    require(isinstance(body.get("input"), str | list), "input", "Field required (a string or a list of items).")
    limit = body.get("max_output_tokens")
    require(limit is None or (isinstance(limit, int) and limit > 0), "max_output_tokens", "must be a positive integer.")
    require(body.get("tools") is None or isinstance(body["tools"], list), "tools", "must be a list.")
    pipeline.conforms(body, schema.RESPONSES)


RESPONSES = Surface("responses", relay.OPENAI, validate_responses)


# Reasoning handed to the client in `encrypted_content` is sealed with its own key (gateway.translate.responses.blob);
# thinking-block signatures are pipeline.sealer()'s business.
@lru_cache(maxsize=4)
def _blob_key(secret: str) -> bytes:
    return blob.derive_key(secret)


def open_blob(value: object) -> dict[str, Any] | None:
    return blob.unseal(value, _blob_key(settings.RESPONSES_SEAL_KEY))


def seal_blob(payload: dict[str, Any]) -> str:
    return blob.seal(payload, _blob_key(settings.RESPONSES_SEAL_KEY))


# --- views ----------------------------------------------------------------------------------------


@csrf_exempt
async def responses(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    if request.method == "GET":
        return _no_websocket(request)
    if request.method != "POST":
        message = f"{request.method} is not allowed here; use POST."
        response = _openai_error(405, message, "invalid_request_error", "method_not_allowed")
        response["Allow"] = "GET, POST"
        return response
    return await create(Exchange(RESPONSES, request))


@csrf_exempt
async def retrieve(request: HttpRequest, response_id: str) -> HttpResponse:
    """A stored response of the caller's org (kept for an hour unless created with store:false)."""
    if request.method != "GET":
        response = _openai_error(405, "Use GET to retrieve a response.", "invalid_request_error", "method_not_allowed")
        response["Allow"] = "GET"
        return response
    try:
        key = await pipeline.authenticate(request.headers)
    except GatewayError as err:
        return _openai_error(401, err.message, "authentication_error", "invalid_api_key")
    kept = await stored.load(key.org_id, response_id)
    if kept is None:
        return _openai_error(404, f"Response with id '{response_id}' not found.", "invalid_request_error", None)
    return JsonResponse(kept)


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
    """What this request adds to the Exchange: the resolved conversation and how to present output (as a
    Response, or as a Chat Completion for a Responses body posted to /v1/chat/completions: Cursor)."""

    def __init__(
        self,
        body: dict[str, Any],
        conversation: list[dict[str, Any]],
        request_id: str,
        as_chat: bool = False,
        *,
        auto_cache: bool = False,
    ) -> None:
        self.body = {**body, "input": conversation}
        self.auto_cache = auto_cache
        self.conversation = conversation
        self.meta = ResponseMeta.from_request(body, response_id="resp_" + request_id.removeprefix("req_"))
        self.wants_blob = INCLUDE_REASONING in (body.get("include") or [])
        self.translated: Translated | None = None
        self.as_chat = as_chat
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def shaping(self, host: HostInfo, module: ProviderModule) -> Shaping:
        assert self.translated is not None
        provider = target_for(host, module).provider
        return Shaping(self.translated.tools, provider, seal_blob if self.wants_blob else None)

    def build(self, host: HostInfo, module: ProviderModule) -> dict[str, Any]:
        """The pipeline's hook: this turn in the host's dialect, shaped for the host."""
        target = target_for(host, module)
        translate = responses_to_chat if module.DIALECT == relay.OPENAI else responses_to_anthropic
        shape = shape_openai if module.DIALECT == relay.OPENAI else shape_anthropic
        self.translated = translate(
            self.body, provider=target.provider, max_output_tokens=host.max_output_tokens, unseal=open_blob
        )
        shaped = shape(self.translated.body, target, sealer=pipeline.sealer())
        return cache_breakpoints(shaped, host, module, auto=self.auto_cache)


async def create(ex: Exchange, *, as_chat: bool = False) -> HttpResponse | StreamingHttpResponse:
    """Serve a Responses body; `as_chat`: the body came to /v1/chat/completions already admitted (Cursor), so
    answer in Chat Completions."""
    try:
        if not as_chat:
            await admit(ex)
        conversation = await stored.resolve_input(ex.key.org_id, ex.body)
        turn = Turn(ex.body, conversation, ex.request_id, as_chat, auto_cache=ex.key.auto_cache)
        neutral = responses_to_chat(turn.body, provider="", max_output_tokens=None, unseal=open_blob).body
        ex.lease = await ratelimit.acquire(ex.key)
        route = await pipeline.resolve_route(ex.key, _routing_body(ex.body, neutral))
        ex.input_estimate = pipeline.estimate_input_tokens(neutral)
        own_keys = await byok.org_keys(ex.key.org_id)
        amount = pipeline.hold_amount(route, ex.input_estimate, ex.body.get("max_output_tokens"), own_keys)
        ex.hold = await pipeline.place_hold(ex.key, amount, ex.request_id)
        ex.upstream = await pipeline.call_with_failover(
            route, turn.build, stream=ex.stream, headers=ex.request.headers, tags=ex.tags, org_id=ex.key.org_id
        )
        return _stream(ex, turn) if ex.stream else await _answer(ex, turn)
    except RequestError as err:
        response = await refuse(ex, GatewayError("invalid_request", err.message, param=err.param))
        return _with_code(response, err.code) if err.code else response
    except GatewayError as err:
        return await refuse(ex, err)
    except Exception:
        log.exception("responses request %s failed", ex.request_id)
        return await refuse(ex, GatewayError("api_error", "Internal error. The request was not charged."))


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
    body, outcome, upstream_ms = exchange.read_answer(ex)
    up = ex.upstream
    assert up is not None
    translate = chat_to_response if up.module.DIALECT == relay.OPENAI else anthropic_to_response
    answer = translate(body, turn.meta, turn.shaping(up.host, up.module))
    charge = await exchange.finish(ex, outcome, True, upstream_ms)
    answer["usage"] = {**_billed_usage(outcome.usage), **relay.cost_fields(charge.total if charge else 0)}
    await _store(ex, turn, answer)
    if turn.as_chat:
        return JsonResponse(chat_output.response_to_completion(answer), headers=_headers(ex, turn, upstream_ms))
    return JsonResponse(answer, headers=_headers(ex, turn, upstream_ms))


def _stream(ex: Exchange, turn: Turn) -> StreamingHttpResponse:
    up = ex.upstream
    assert up is not None
    ex.upstream_ms = (time.perf_counter() - up.started) * 1000
    return streaming.response(up, ResponsesStream(ex, turn), ex.request_id, _headers(ex, turn, ex.upstream_ms))


class ResponsesStream:
    """Upstream events in either dialect as Responses events; counts delivered characters and the first event's
    time, for billing a stream whose upstream reported no usage."""

    def __init__(self, ex: Exchange, turn: Turn) -> None:
        up = ex.upstream
        assert up is not None
        self.ex, self.turn, self.dialect = ex, turn, up.module.DIALECT
        shaping = turn.shaping(up.host, up.module)
        self.openai = self.dialect == relay.OPENAI
        self.machine = ChatToResponses(turn.meta, shaping) if self.openai else AnthropicToResponses(turn.meta, shaping)
        self.chars = 0
        self.first_at: float | None = None
        self.chat = chat_output.ResponsesToChat(turn.include_usage) if turn.as_chat else None

    @property
    def delivered(self) -> bool:
        return self.first_at is not None

    def _emit(self, events: list[dict[str, Any]]) -> bytes:
        """The events as SSE bytes (Responses events, or Chat chunks for Cursor); the terminal one carries the
        cost of the usage it reports, priced as the settlement will price it."""
        for event in events:
            if event["type"] in TERMINAL:
                event["response"]["usage"] = {**event["response"]["usage"], **self._cost()}
        if self.chat is None:
            return _frames(events)
        feed = self.chat.feed
        return b"".join([_chat_frame(chunk) for event in events for chunk in feed(event)])

    def _cost(self) -> dict[str, Any]:
        ex = self.ex
        assert ex.upstream is not None
        usage, _ = pipeline.billable_usage(self._reported(), self.chars, ex.input_estimate, self.delivered)
        return relay.cost_fields(
            pipeline.charge_for(usage, ex.upstream.host, ex.upstream.started_at, ex.upstream.byok).total
        )

    def _reported(self) -> Usage:
        raw = self.machine.upstream_usage or {}
        return usage_mod.from_openai(raw) if self.openai else usage_mod.from_anthropic(raw)

    def opening(self) -> bytes:
        return self._emit(self.machine.start())

    def feed_all(self, batch: list[Any]) -> bytes:
        out = []
        machine, dialect = self.machine, self.dialect
        for event, data in batch:
            self.first_at = self.first_at or time.perf_counter()
            self.chars += relay.delivered_chars(dialect, data)
            out += machine.feed(data) if self.openai else machine.feed(event, data)  # type: ignore[call-arg]
        return self._emit(out) if out else b""

    def keepalive(self) -> bytes:
        return streaming.KEEPALIVE[relay.OPENAI]  # an SSE comment keeps proxies from timing out

    def watch(self) -> None:
        exchange.watch(self.ex, lambda: (Usage(), self.chars))

    def finish(self) -> bytes:
        return self._emit(self.machine.finish())

    def fail(self, message: str) -> bytes:
        return self._emit(self.machine.fail("server_error", message))

    def error_type(self) -> str:
        response = self.machine.response
        return "upstream_error" if response is not None and response["status"] == "failed" else ""

    async def settle(self, error_type: str) -> None:
        machine = self.machine
        reported = self._reported()
        reason = machine.finish_reason or ""
        await exchange.settle_stream(self.ex, reported, self.chars, self.delivered, self.first_at, error_type, reason)
        if machine.response is not None and machine.response["status"] != "failed":
            await _store(self.ex, self.turn, machine.response)


async def _store(ex: Exchange, turn: Turn, response: dict[str, Any]) -> None:
    if not stored.wants_storage(ex.body):
        return
    try:
        await stored.save(ex.key.org_id, response, turn.conversation)
    except Exception:  # storage is a convenience; the answer already went out
        log.exception("could not store response %s", response.get("id"))


def _frames(events: list[dict[str, Any]]) -> bytes:
    return b"".join(encode(event) for event in events)


def _chat_frame(chunk: dict[str, Any] | str) -> bytes:
    return sse.DONE if chunk == chat_output.DONE else sse.encode_json(None, chunk)
