"""One request's state (`Exchange`) and the steps every surface shares.

Each step is a named function: admit (method, key, body), refuse (undo what was reserved, answer in the surface's
dialect), read_answer (a non-streaming upstream answer, parsed and metered), finish (price, then settle and record in
the background). The surfaces that speak a dialect directly (messages, chat) also share `serve`: translate the body
to each host's dialect, call with failover, then answer whole or as a stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.http import HttpResponse, StreamingHttpResponse

from catalog import byok
from catalog.snapshot import HostInfo
from gateway import errors, pipeline, ratelimit, reasoning_memory
from gateway.errors import GatewayError
from gateway.pipeline import Outcome, Upstream
from gateway.providers import openai_compat
from gateway.providers.base import ProviderModule
from gateway.surfaces import streaming
from gateway.translate import caching, dialects, relay
from gateway.translate.request import (
    TranslationError,
    anthropic_to_openai,
    openai_to_anthropic,
    shape_anthropic,
    shape_openai,
)
from gateway.translate.shaping import Target
from gateway.usage import Usage
from lib import jsonio

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Surface:
    name: str  # RequestLog.surface
    dialect: str  # the client's wire format and error shape (see gateway.translate)
    validate: Callable[[dict[str, Any]], None]


TRANSLATE: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
    (relay.ANTHROPIC, relay.OPENAI): anthropic_to_openai,
    (relay.OPENAI, relay.ANTHROPIC): openai_to_anthropic,
    (relay.ANTHROPIC, relay.ANTHROPIC): shape_anthropic,
    (relay.OPENAI, relay.OPENAI): shape_openai,
}


class Incoming(Protocol):
    """What the views read of a request: gateway.asgi's ApiRequest on the served path, Django's
    HttpRequest when the site's handler calls them (tests, the URLconf)."""

    @property
    def method(self) -> str | None: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(slots=True)
class Exchange:
    """One request's state while it moves through the pipeline."""

    surface: Surface
    request: Incoming
    request_id: str = field(default_factory=pipeline.new_request_id)
    started: float = field(default_factory=time.perf_counter)
    key: Any = None
    body: dict[str, Any] = field(default_factory=dict)
    lease: ratelimit.Lease = field(default_factory=ratelimit.Lease)
    hold: pipeline.HoldRef = None
    input_estimate: int = 0
    input_heuristic: int = 0
    model_id: str = "*"
    upstream: Upstream | None = None
    attempts: int = 0
    upstream_ms: float = 0.0  # until the upstream's answer began (streams: its headers)
    recalled: dict[str, tuple[str, str]] = field(default_factory=dict)  # reasoning_memory.recall

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def requested(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def tags(self) -> dict[str, Any]:
        return {"org": self.key.org_id, "key": self.key.prefix, "user": self.key.user_id, "surface": self.surface.name}

    def headers(self, upstream_ms: float = 0.0) -> dict[str, str]:
        overhead = (time.perf_counter() - self.started) * 1000 - upstream_ms
        out = {"x-qlaud-request-id": self.request_id, "request-id": self.request_id}
        out["Server-Timing"] = f"qlaud;dur={overhead:.1f}, upstream;dur={upstream_ms:.1f}"
        if self.upstream is not None:
            host = self.upstream.host
            out["x-qlaud-host"] = f"{host.provider.slug}/{host.upstream_model}"
        return out


def provider_of(host: HostInfo) -> str:
    """The provider whose dialect and rules a host follows (a provider row may name its family)."""
    return str(host.provider.config.get("family") or host.provider.slug)


def target_for(host: HostInfo, module: ProviderModule) -> Target:
    caps = host.capabilities
    return Target(
        dialect=module.DIALECT,
        provider=provider_of(host),
        upstream_model=host.upstream_model,
        max_output_tokens=host.max_output_tokens,
        supports_reasoning="reasoning" in caps,
        supports_tools="tools" in caps or not caps,
        supports_vision="vision" in caps or not caps,
    )


def body_for(
    dialect: str,
    body: dict[str, Any],
    recalled: Mapping[str, tuple[str, str]] | None = None,
    *,
    auto_cache: bool = False,
) -> pipeline.BodyFor:
    """The pipeline's hook: this request's body in a host's dialect, shaped for that host."""

    def build(host: HostInfo, module: ProviderModule) -> dict[str, Any]:
        translate = TRANSLATE[(dialect, module.DIALECT)]
        extra = {"reasoning": recalled} if recalled is not None and translate is shape_openai else {}
        try:
            out = translate(body, target_for(host, module), sealer=pipeline.sealer(), **extra)
        except TranslationError as exc:
            raise GatewayError("invalid_request", exc.message, param=exc.param) from None
        return cache_breakpoints(out, host, module, auto=auto_cache)

    return build


def cache_breakpoints(body: dict[str, Any], host: HostInfo, module: ProviderModule, *, auto: bool) -> dict[str, Any]:
    """Claude hosts cache only at explicit breakpoints: keep the client's (within the limit of four) or, for an org
    that lets qlaud place them, mark the prompt's stable prefix. Other hosts cache implicitly (or not at all)."""
    if module.DIALECT != relay.ANTHROPIC or not caching.claude_model(host.upstream_model):
        return body
    return caching.prepare(body, auto=auto)


# --- the steps every surface shares ---------------------------------------------------------------


async def admit(ex: Exchange) -> None:
    """authenticate, then parse and validate the body."""
    if ex.request.method != "POST":
        raise GatewayError("method", f"{ex.request.method} is not allowed here; use POST.")
    # gateway.asgi verifies the key before it reads the body, and says if the body was too large to read.
    ex.key = getattr(ex.request, "key", None) or await pipeline.authenticate(ex.request.headers)
    if getattr(ex.request, "too_large", False):
        raise pipeline.too_large()
    ex.body = pipeline.parse_body(ex.request.body)
    ex.surface.validate(ex.body)


async def refuse(ex: Exchange, err: GatewayError) -> HttpResponse:
    """Undo what was reserved, log the refusal (if we know whose it was), answer in the surface's shape."""
    await ex.lease.release()
    if ex.hold is not None:
        await pipeline.settle_shielded(ex.hold, None, {})
    if ex.key is not None and isinstance(ex.body, dict):
        outcome = Outcome(status=errors.status_for(err.kind, ex.surface.dialect), error_type=err.kind)
        _record(ex, outcome, None)
    return errors.render(err, ex.surface.dialect, ex.request_id)


def _record(ex: Exchange, outcome: Outcome, charge: Any, upstream_ms: float = 0.0) -> None:
    host = ex.upstream.host if ex.upstream else None
    attempts = ex.upstream.attempts if ex.upstream else ex.attempts
    pipeline.record(
        pipeline.log_fields(
            request_id=ex.request_id,
            key=ex.key,
            surface=ex.surface.name,
            stream=ex.stream,
            requested=ex.requested,
            host=host,
            attempts=attempts,
            outcome=outcome,
            charge=charge,
            started=ex.started,
            upstream_ms=upstream_ms,
            user_agent=ex.request.headers.get("user-agent", ""),
            own_key=ex.upstream.byok if ex.upstream else False,
            at=ex.upstream.started_at if ex.upstream else None,
        )
    )


async def finish(ex: Exchange, outcome: Outcome, delivered: bool, upstream_ms: float) -> Any:
    """Price the request, then settle and record in a background task (never cancelled by the
    client leaving, and never delaying the end of the response). Returns the charge."""
    up = ex.upstream
    assert up is not None
    charge = (
        pipeline.charge_for(outcome.usage, up.host, up.started_at, up.byok) if (outcome.usage or delivered) else None
    )
    pipeline.background(_settle_and_record(ex, outcome, charge, upstream_ms))
    return charge


async def _settle_and_record(ex: Exchange, outcome: Outcome, charge: Any, upstream_ms: float) -> None:
    up = ex.upstream
    assert up is not None
    note = pipeline.receipt(
        ex.request_id, up.host, ex.requested, outcome.usage, outcome.usage_estimated, up.byok, up.started_at
    )
    try:
        await pipeline.settle(ex.hold, charge, note)
    finally:
        await ex.lease.release()
        _record(ex, outcome, charge, upstream_ms)
        if not outcome.usage_estimated and outcome.usage:
            pipeline.learn_tokens(ex.model_id, ex.input_heuristic, outcome.usage.prompt)
        await pipeline.report_outcome(
            up.host.id,
            ok=not outcome.error_type or outcome.error_type == "client_disconnected",
            status=502 if outcome.error_type == "api_error" else 200,
            ttft_ms=outcome.ttft_ms,
            output_tokens=outcome.usage.output,
            duration_ms=(time.perf_counter() - up.started) * 1000,
        )


def watch(ex: Exchange, delivered: Callable[[], tuple[Usage, int]]) -> None:
    """Meter the stream on its hold (crash recovery): `delivered` gives (reported usage, characters)."""
    assert ex.upstream is not None

    def usage() -> Usage:
        reported, chars = delivered()
        return pipeline.billable_usage(reported, chars, ex.input_estimate, True)[0]

    up = ex.upstream
    pipeline.watch(ex.hold, usage, up.host, ex.request_id, ex.requested, up.started_at, up.byok)


async def settle_stream(
    ex: Exchange, reported: Usage, chars: int, delivered: bool, first_at: float | None, error_type: str, reason: str
) -> None:
    """The end of a stream, however it ended: bill what was delivered."""
    up = ex.upstream
    assert up is not None
    usage, estimated = pipeline.billable_usage(reported, chars, ex.input_estimate, delivered)
    ttft = (first_at - up.started) * 1000 if first_at else None
    status = 499 if error_type == "client_disconnected" else 200
    outcome = Outcome(usage, estimated, status, error_type, reason, ttft)
    await finish(ex, outcome, delivered, ex.upstream_ms)


def read_answer(ex: Exchange) -> tuple[dict[str, Any], Outcome, float]:
    """A non-streaming upstream answer, parsed and metered: (body, outcome, upstream ms)."""
    up = ex.upstream
    assert up is not None and up.content is not None
    upstream_ms = (time.perf_counter() - up.started) * 1000
    dialect = up.module.DIALECT
    try:
        body = up.module.parse_response(up.content)
    except ValueError:
        raise GatewayError("upstream", "The upstream provider sent an unreadable answer.") from None
    reported = relay.upstream_usage(dialect, body)
    chars = relay.message_chars(dialect, body)
    usage, estimated = pipeline.billable_usage(reported, chars, ex.input_estimate, delivered=True)
    outcome = Outcome(usage, estimated, finish_reason=relay.finish_reason_of(dialect, body), ttft_ms=upstream_ms)
    return body, outcome, upstream_ms


# --- the flow of the surfaces that speak a dialect directly -------------------------------------------


async def serve(ex: Exchange, *, admitted: bool = False) -> HttpResponse | StreamingHttpResponse:
    try:
        if not admitted:
            await admit(ex)
        ex.lease = await ratelimit.acquire(ex.key)
        route = await pipeline.resolve_route(ex.key, ex.body)
        ex.model_id = route.model.id
        ex.input_estimate, ex.input_heuristic = pipeline.estimate_input(ex.body, ex.model_id)
        own_keys = await byok.org_keys(ex.key.org_id)
        amount = pipeline.hold_amount(route, ex.input_estimate, pipeline.requested_max_tokens(ex.body), own_keys)
        ex.hold = await pipeline.place_hold(ex.key, amount, ex.request_id)
        await _recall_reasoning(ex, route.hosts)
        ex.upstream = await pipeline.call_with_failover(
            route,
            body_for(ex.surface.dialect, ex.body, ex.recalled, auto_cache=ex.key.auto_cache),
            stream=ex.stream,
            headers=ex.request.headers,
            tags=ex.tags,
            org_id=ex.key.org_id,
        )
        if ex.stream:
            return _stream(ex)
        return await _answer(ex)
    except GatewayError as err:
        return await refuse(ex, err)
    except Exception:
        log.exception("gateway request %s failed", ex.request_id)
        return await refuse(ex, GatewayError("api_error", "Internal error. The request was not charged."))


def _remembers(ex: Exchange) -> bool:
    """Should this answer's reasoning be kept for the next turn (an OpenAI client on a host that needs it back)?"""
    up = ex.upstream
    assert up is not None
    both_openai = ex.surface.dialect == relay.OPENAI and up.module.DIALECT == relay.OPENAI
    return both_openai and "reasoning" in up.host.capabilities and reasoning_memory.wanted(provider_of(up.host))


async def _recall_reasoning(ex: Exchange, hosts: Any) -> None:
    if ex.surface.dialect != relay.OPENAI or not any(reasoning_memory.wanted(provider_of(h)) for h in hosts):
        return
    ids = reasoning_memory.missing_ids(ex.body)
    if ids:
        ex.recalled = await reasoning_memory.recall(ex.key.org_id, ids)


async def _remember(ex: Exchange, by_tool: dict[str, str]) -> None:
    up = ex.upstream
    if by_tool and up is not None:
        await reasoning_memory.remember(ex.key.org_id, provider_of(up.host), up.host.id, by_tool)


async def _answer(ex: Exchange) -> HttpResponse:
    """A non-streaming answer: translate, meter, settle, then respond."""
    body, outcome, upstream_ms = read_answer(ex)
    up = ex.upstream
    assert up is not None
    usage = outcome.usage
    answer = relay.translate_answer(
        ex.surface.dialect,
        up.module.DIALECT,
        body,
        requested_model=ex.requested,
        provider=provider_of(up.host),
        sealer=pipeline.sealer(),
    )
    if _remembers(ex):  # before answering: the client's next turn must find it
        await _remember(ex, dialects.reasoning_of_answer(answer))
    charge = await finish(ex, outcome, True, upstream_ms)
    answer = relay.with_usage(ex.surface.dialect, answer, usage, charge.total if charge else 0)
    return HttpResponse(jsonio.dumps(answer), content_type="application/json", headers=ex.headers(upstream_ms))


def _stream(ex: Exchange) -> StreamingHttpResponse:
    up = ex.upstream
    assert up is not None
    ex.upstream_ms = (time.perf_counter() - up.started) * 1000
    headers = ex.headers(ex.upstream_ms)
    r = relay.stream_relay(
        ex.surface.dialect,
        up.module.DIALECT,
        requested_model=ex.requested,
        request_id=ex.request_id.removeprefix("req_"),
        input_hint=ex.input_estimate,
        provider=provider_of(up.host),
        include_usage=bool((ex.body.get("stream_options") or {}).get("include_usage")),
        sealer=pipeline.sealer(),
        remember_reasoning=_remembers(ex),
    )
    r.price = lambda usage: _price(ex, r, usage)
    decoder = up.module.stream_decoder
    if decoder is openai_compat.stream_decoder and (
        isinstance(r, relay.OpenAIToAnthropicRelay) or (isinstance(r, relay.OpenAIPassRelay) and r.normaliser is None)
    ):
        decoder = openai_compat.text_decoder  # chunks as text: the relay parses only the ones it must
    return streaming.response(up, DialectStream(ex, r), ex.request_id, headers, decoder)


def _price(ex: Exchange, r: Any, reported: Usage) -> int:
    """What settling this stream will charge for `reported`, when the final usage goes out before settlement."""
    assert ex.upstream is not None
    usage, _ = pipeline.billable_usage(reported, r.chars, ex.input_estimate, r.delivered)
    up = ex.upstream
    return int(pipeline.charge_for(usage, up.host, up.started_at, up.byok).total)


class DialectStream:
    """A stream in the surface's own dialect: a translate.relay Relay, billed through the Exchange."""

    __slots__ = ("ex", "feed", "r")

    def __init__(self, ex: Exchange, r: Any) -> None:
        self.ex, self.r, self.feed = ex, r, r.feed

    @property
    def delivered(self) -> bool:
        return bool(self.r.delivered)

    def opening(self) -> bytes:
        return b""

    def feed_all(self, batch: list[Any]) -> bytes:
        feed = self.feed
        if len(batch) == 1:  # a paced stream: one event per read
            return feed(*batch[0])
        return b"".join([feed(*item) for item in batch])

    def keepalive(self) -> bytes:
        return streaming.KEEPALIVE[self.ex.surface.dialect] if self.r.delivered else b""

    def watch(self) -> None:
        r = self.r
        watch(self.ex, lambda: (r.usage, r.chars))

    def finish(self) -> bytes:
        r, ex = self.r, self.ex
        usage, estimated = pipeline.billable_usage(r.usage, r.chars, ex.input_estimate, r.delivered)
        tail = bytes(r.finish(usage if estimated else None))
        if not r.error and isinstance(r, relay.OpenAIPassRelay):
            # Scheduled before [DONE] leaves; the cache's writes and reads share one thread, in order.
            pipeline.background(_remember(ex, r.reasoning_by_tool()))
        return tail

    def fail(self, message: str) -> bytes:
        return bytes(self.r.fail("api_error", message))

    def error_type(self) -> str:
        return str(self.r.error[0]) if self.r.error else ""

    async def settle(self, error_type: str) -> None:
        r = self.r
        r.price = None  # it closes over the relay: without it an ended stream is freed at once, not by the collector
        reason = r.finish_reason or ""
        await settle_stream(self.ex, r.usage, r.chars, r.delivered, r.first_event_at, error_type, reason)
