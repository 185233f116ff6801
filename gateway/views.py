"""The gateway's HTTP surfaces: thin async views over gateway.pipeline.

POST /v1/messages (Anthropic Messages), POST /v1/messages/count_tokens, POST /v1/chat/completions
(OpenAI Chat Completions). Streaming is chosen by the body's `stream`; query strings are
ignored; both auth headers work everywhere; every error is in the surface's own shape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import errors, pipeline, ratelimit
from gateway.errors import GatewayError
from gateway.pipeline import Outcome, Upstream
from gateway.translate import relay
from gateway.translate.request import (
    Target,
    TranslationError,
    anthropic_to_openai,
    openai_to_anthropic,
    shape_anthropic,
    shape_openai,
)
from lib import jsonio

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Surface:
    name: str  # RequestLog.surface
    dialect: str  # anthropic | openai: the client's wire format and error shape
    validate: Callable[[dict[str, Any]], None]


# Streams stay alive through long upstream silences: Anthropic's own `ping`, an SSE comment for OpenAI.
KEEPALIVE_SECONDS = 15.0
# While streaming, what was delivered is noted on the hold this often (crash recovery).
CHECKPOINT_SECONDS = 5.0
KEEPALIVE = {relay.ANTHROPIC: b'event: ping\ndata: {"type":"ping"}\n\n', relay.OPENAI: b": keep-alive\n\n"}
MESSAGES = Surface("messages", relay.ANTHROPIC, pipeline.validate_messages)
CHAT = Surface("chat", relay.OPENAI, pipeline.validate_chat)
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


def target_for(host: Any, module: Any) -> Target:
    caps = host.capabilities
    return Target(
        dialect=module.DIALECT,
        provider=host.provider.config.get("family") or host.provider.slug,
        upstream_model=host.upstream_model,
        max_output_tokens=host.max_output_tokens,
        supports_reasoning="reasoning" in caps,
        supports_tools="tools" in caps or not caps,
        supports_vision="vision" in caps or not caps,
    )


def body_for(dialect: str, body: dict[str, Any]) -> Callable[[Any, Any], dict[str, Any]]:
    """The pipeline's hook: this request's body in a host's dialect, shaped for that host."""

    def build(host: Any, module: Any) -> dict[str, Any]:
        translate = TRANSLATE[(dialect, module.DIALECT)]
        try:
            return translate(body, target_for(host, module), sealer=pipeline.sealer())
        except TranslationError as exc:
            raise GatewayError("invalid_request", exc.message, param=exc.param) from None

    return build


# --- the surfaces ------------------------------------------------------------------------------


@csrf_exempt
async def messages(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    return await serve(Exchange(MESSAGES, request))


@csrf_exempt
async def chat_completions(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    return await serve(Exchange(CHAT, request))


@csrf_exempt
async def count_tokens(request: Incoming) -> HttpResponse:
    ex = Exchange(Surface("count_tokens", relay.ANTHROPIC, _validate_count), request)
    try:
        await _admit(ex)
        return JsonResponse({"input_tokens": await _count(ex)}, headers=ex.headers())
    except GatewayError as err:
        return errors.render(err, relay.ANTHROPIC, ex.request_id)
    except Exception:
        log.exception("count_tokens failed (request %s)", ex.request_id)
        return errors.render(GatewayError("api_error", "Internal error."), relay.ANTHROPIC, ex.request_id)


def _validate_count(body: dict[str, Any]) -> None:
    pipeline.validate_messages(body, count_only=True)


# --- the flow -------------------------------------------------------------------------------------


async def serve(ex: Exchange) -> HttpResponse | StreamingHttpResponse:
    try:
        await _admit(ex)
        ex.lease = await ratelimit.acquire(ex.key)
        route = await pipeline.resolve_route(ex.key, ex.body)
        ex.model_id = route.model.id
        ex.input_estimate, ex.input_heuristic = pipeline.estimate_input(ex.body, ex.model_id)
        amount = pipeline.hold_amount(route, ex.input_estimate, pipeline.requested_max_tokens(ex.body))
        ex.hold = await pipeline.place_hold(ex.key, amount, ex.request_id)
        ex.upstream = await pipeline.call_with_failover(
            route,
            body_for(ex.surface.dialect, ex.body),
            stream=ex.stream,
            headers=ex.request.headers,
            tags=ex.tags,
        )
        if ex.stream:
            return _stream(ex)
        return await _answer(ex)
    except GatewayError as err:
        return await _refuse(ex, err)
    except Exception:
        log.exception("gateway request %s failed", ex.request_id)
        return await _refuse(ex, GatewayError("api_error", "Internal error. The request was not charged."))


async def _admit(ex: Exchange) -> None:
    """authenticate, then parse and validate the body."""
    if ex.request.method != "POST":
        raise GatewayError("method", f"{ex.request.method} is not allowed here; use POST.")
    ex.key = await pipeline.authenticate(ex.request.headers)
    ex.body = pipeline.parse_body(ex.request.body)
    ex.surface.validate(ex.body)


async def _refuse(ex: Exchange, err: GatewayError) -> HttpResponse:
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
        )
    )


async def _finish(ex: Exchange, outcome: Outcome, delivered: bool, upstream_ms: float) -> Any:
    """Price the request, then settle and record in a background task (never cancelled by the
    client leaving, and never delaying the end of the response). Returns the charge."""
    up = ex.upstream
    assert up is not None
    charge = pipeline.charge_for(outcome.usage, up.host) if (outcome.usage or delivered) else None
    pipeline.background(_settle_and_record(ex, outcome, charge, upstream_ms))
    return charge


async def _settle_and_record(ex: Exchange, outcome: Outcome, charge: Any, upstream_ms: float) -> None:
    up = ex.upstream
    assert up is not None
    note = pipeline.receipt(ex.request_id, up.host, ex.requested, outcome.usage, outcome.usage_estimated)
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


def read_answer(ex: Exchange) -> tuple[dict[str, Any], Outcome, float]:
    """A non-streaming upstream answer, parsed and metered: (body, outcome, upstream ms).
    Shared by every surface's non-streaming path."""
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
        provider=up.host.provider.slug,
        sealer=pipeline.sealer(),
    )
    charge = await _finish(ex, outcome, True, upstream_ms)
    answer = relay.with_usage(ex.surface.dialect, answer, usage, charge.total if charge else 0)
    return HttpResponse(jsonio.dumps(answer), content_type="application/json", headers=ex.headers(upstream_ms))


def _stream(ex: Exchange) -> StreamingHttpResponse:
    up = ex.upstream
    assert up is not None
    upstream_ms = (time.perf_counter() - up.started) * 1000
    headers = ex.headers(upstream_ms)
    r = relay.stream_relay(
        ex.surface.dialect,
        up.module.DIALECT,
        requested_model=ex.requested,
        request_id=ex.request_id.removeprefix("req_"),
        input_hint=ex.input_estimate,
        provider=up.host.provider.slug,
        include_usage=bool((ex.body.get("stream_options") or {}).get("include_usage")),
        sealer=pipeline.sealer(),
    )
    response = StreamingHttpResponse(_relay_stream(ex, r, upstream_ms), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    for name, value in headers.items():
        response[name] = value
    return response


async def _relay_stream(ex: Exchange, r: Any, upstream_ms: float) -> AsyncIterator[bytes]:
    """Upstream events in, client bytes out. Settles in `finally`, even when the client leaves."""
    up = ex.upstream
    assert up is not None
    error_type = ""
    next_checkpoint = 0.0  # the first one as soon as output reaches the client
    try:
        try:
            async for batch in _paced(up.module.iter_events(up.response), KEEPALIVE_SECONDS):
                if batch is None:  # a long upstream silence (a reasoning model thinking)
                    if r.delivered:
                        yield KEEPALIVE[ex.surface.dialect]
                    continue
                out = b"".join([r.feed(*item) for item in batch])
                if out:
                    yield out
                    if r.delivered and time.monotonic() >= next_checkpoint:
                        next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
                        _checkpoint(ex, r)
            tail = r.finish(_estimate(ex, r))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("upstream stream broke (request %s): %s", ex.request_id, type(exc).__name__)
            tail = r.fail("api_error", "The upstream connection broke mid-stream.")
        if tail:
            yield tail
        error_type = r.error[0] if r.error else ""
    except asyncio.CancelledError:
        error_type = "client_disconnected"
        raise
    finally:
        await _close_quietly(up.response)
        usage, estimated = pipeline.billable_usage(r.usage, r.chars, ex.input_estimate, r.delivered)
        ttft = (r.first_event_at - up.started) * 1000 if r.first_event_at else None
        status = 499 if error_type == "client_disconnected" else 200
        outcome = Outcome(usage, estimated, status, error_type, r.finish_reason or "", ttft)
        await _finish(ex, outcome, r.delivered, upstream_ms)


async def _paced(events: AsyncIterator[Any], interval: float) -> AsyncIterator[list[Any] | None]:
    """The events of `events` in batches, with a None whenever `interval` seconds pass without one.

    A batch is whatever has arrived when the consumer asks (at least one event), so a burst (several
    events in one upstream read) becomes one write to the client instead of one per event, and no
    event ever waits for company. One reader task per stream feeds a small bounded queue
    (backpressure to the upstream when the client is slow); waiting on the queue can time out
    without disturbing the upstream read. Upstream errors are re-raised here, in order.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for item in events:
                await queue.put(item)
        except Exception as exc:  # handed to the consumer, which decides what it means
            await queue.put(_Raised(exc))
        else:
            await queue.put(_END)

    reader = asyncio.ensure_future(pump())
    try:
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(interval):
                        item = await queue.get()
                except TimeoutError:
                    yield None
                    continue
            else:
                item = queue.get_nowait()
            batch: list[Any] = []
            while item is not _END and not isinstance(item, _Raised):
                batch.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            else:  # the stream ended or broke: first what came before that
                if batch:
                    yield batch
                if isinstance(item, _Raised):
                    raise item.exc
                return
            yield batch
    finally:
        reader.cancel()


_END = object()


@dataclass(frozen=True, slots=True)
class _Raised:
    exc: Exception


def _checkpoint(ex: Exchange, r: Any) -> None:
    assert ex.upstream is not None
    usage, _ = pipeline.billable_usage(r.usage, r.chars, ex.input_estimate, True)
    pipeline.checkpoint(ex.hold, usage, ex.upstream.host, ex.request_id, ex.requested)


def _estimate(ex: Exchange, r: Any) -> Any:
    usage, estimated = pipeline.billable_usage(r.usage, r.chars, ex.input_estimate, r.delivered)
    return usage if estimated else None


async def _close_quietly(response: httpx.Response) -> None:
    try:
        await asyncio.shield(response.aclose())
    except BaseException:  # closing a broken upstream must never mask the real outcome
        pass


async def _count(ex: Exchange) -> int:
    """The upstream's own count where the host has one, else the estimator."""
    route = await pipeline.resolve_route(ex.key, ex.body)
    build = body_for(relay.ANTHROPIC, {**ex.body, "max_tokens": 1})
    for host in route.hosts[:1]:
        module = pipeline.module_for(host.provider.protocol)
        call = pipeline.make_call(host, build(host, module), False, ex.request.headers, ex.tags)
        try:
            await pipeline.prepare(call, module)
            req = module.build_count_tokens(call)
            if req is None:
                break
            response = await pipeline.http.send(req.method, req.url, req.headers, req.content)
            try:
                await response.aread()
            finally:
                await response.aclose()
            if response.status_code < 400:
                return int(module.parse_count_tokens(response.content))
            log.info("native count_tokens got HTTP %s from host %s; estimating", response.status_code, host.id)
        except Exception:  # a count is advisory: no failure of the native endpoint may fail the request
            log.warning("native count_tokens failed on host %s; estimating", host.id, exc_info=True)
    return pipeline.estimate_input_tokens(ex.body, route.model.id)
