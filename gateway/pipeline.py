"""The gateway's request steps, each a named function taking plain arguments.

authenticate -> parse_body / validate -> resolve_route -> place_hold -> call_with_failover
-> (relay) -> settle -> record. The views for /v1/messages and /v1/chat/completions (and the
Responses API) compose these; none of them knows which view called it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx
from django.conf import settings

from accounts.keys import KeyContext, KeyRefused, raw_key_from_headers, verify_key
from catalog import byok, health, routing, sticky
from catalog.aliases import org_aliases
from catalog.snapshot import HostInfo, get_snapshot, provider_api_key
from gateway import errors, estimate, outbound, records
from gateway.errors import GatewayError
from gateway.providers import module_for
from gateway.providers.base import Call, ProviderModule, UpstreamError
from gateway.providers.common import error_message
from gateway.translate import schema
from gateway.translate.history import TranslationError
from gateway.translate.reasoning import Sealer
from gateway.usage import Usage
from lib import jsonio
from wallet import leases, ledger, money

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096
_background: set[asyncio.Task[Any]] = set()


# Request ids are unique, not secret (every lookup by id also checks the caller's key), so they come
# from a generator seeded from os.urandom per process, not from uuid4: one getrandom() syscall per
# request, which also let a pool thread take the GIL from the event loop. Reseeded in forked children.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    return f"req_{_ids.getrandbits(128):032x}"


@lru_cache(maxsize=4)
def _sealer(secret: str) -> Sealer:
    return Sealer(hashlib.sha256(b"qlaud.thinking\x00" + secret.encode()).digest())


def sealer() -> Sealer:
    """Signs reasoning qlaud relays in Anthropic thinking blocks (see gateway.translate.reasoning)."""
    return _sealer(settings.SECRET_KEY)


def background(coro: Any) -> asyncio.Task[Any]:
    """Run bookkeeping after the response without blocking it; keeps a reference until done."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    records.track(task)
    return task


# --- authenticate ---------------------------------------------------------------------------


async def authenticate(headers: Mapping[str, str]) -> KeyContext:
    raw = raw_key_from_headers(headers)
    if not raw:
        raise GatewayError(
            "authentication", "Missing API key: send `x-api-key: ak_...` or `Authorization: Bearer ak_...`."
        )
    try:
        return await verify_key(raw)
    except KeyRefused as exc:
        raise GatewayError("authentication", exc.message) from None


# --- parse and validate ----------------------------------------------------------------------


def too_large() -> GatewayError:
    return GatewayError("too_large", f"Request body exceeds {settings.GATEWAY_MAX_BODY_BYTES} bytes.")


def parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > settings.GATEWAY_MAX_BODY_BYTES:
        raise too_large()
    try:
        body = jsonio.loads(raw, max_depth=settings.GATEWAY_MAX_JSON_DEPTH)
    except jsonio.InvalidJSON as exc:
        raise GatewayError("invalid_request", f"Request body refused: {exc}") from None
    except UnicodeDecodeError:
        raise GatewayError("invalid_request", "Request body is not valid UTF-8.") from None
    except ValueError:
        raise GatewayError("invalid_request", "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise GatewayError("invalid_request", "Request body must be a JSON object.")
    return body


def _require(condition: bool, param: str, message: str) -> None:
    if not condition:
        raise GatewayError("invalid_request", f"{param}: {message}", param=param)


def conforms(body: dict[str, Any], spec: schema.Obj) -> None:
    """The types every translator reads (gateway.translate.schema), checked once, before any of them runs."""
    try:
        schema.check(body, spec)
    except TranslationError as exc:
        raise GatewayError("invalid_request", exc.message, param=exc.param) from None


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_messages(body: dict[str, Any], *, count_only: bool = False) -> None:
    """The Anthropic Messages fields qlaud relies on (everything else passes to the translator)."""
    _require(isinstance(body.get("model"), str) and body["model"] != "", "model", "Field required (a model id).")
    _require(isinstance(body.get("messages"), list), "messages", "Field required (a list of messages).")
    for i, message in enumerate(body["messages"]):
        _require(isinstance(message, dict), f"messages.{i}", "must be an object.")
        _require(
            message.get("role") in ("user", "assistant", "system"), f"messages.{i}.role", "must be user or assistant."
        )
        _require(isinstance(message.get("content"), str | list), f"messages.{i}.content", "must be a string or a list.")
    if not count_only:
        _require(_positive_int(body.get("max_tokens")), "max_tokens", "Field required (a non-negative integer).")
    _require(
        body.get("system") is None or isinstance(body["system"], str | list), "system", "must be a string or a list."
    )
    _require(body.get("tools") is None or isinstance(body["tools"], list), "tools", "must be a list.")
    conforms(body, schema.ANTHROPIC)


def validate_chat(body: dict[str, Any]) -> None:
    _require(isinstance(body.get("model"), str) and body["model"] != "", "model", "Field required (a model id).")
    _require(
        isinstance(body.get("messages"), list) and body["messages"] != [],
        "messages",
        "Field required (a non-empty list).",
    )
    for i, message in enumerate(body["messages"]):
        _require(
            isinstance(message, dict) and isinstance(message.get("role"), str), f"messages.{i}.role", "Field required."
        )
    for name in ("max_tokens", "max_completion_tokens"):
        _require(body.get(name) is None or _positive_int(body[name]), name, "must be a non-negative integer.")
    _require(body.get("n") in (None, 1), "n", "only n=1 is supported.")
    _require(body.get("tools") is None or isinstance(body["tools"], list), "tools", "must be a list.")
    conforms(body, schema.OPENAI)


def requested_max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens")
    return value if value is not None else body.get("max_tokens")


# --- resolve the route -----------------------------------------------------------------------


async def _health(host_ids: list[int]) -> Mapping[int, Any]:
    try:
        return await health.host_health(host_ids)
    except Exception:  # health is advisory; a broken cache must not stop traffic
        log.exception("host health unavailable")
        return {}


async def resolve_route(key: KeyContext, body: dict[str, Any]) -> routing.Route:
    """The hosts to try, in order. 404 unknown model, 403 not allowed for this key, 503 none usable."""
    snapshot = await get_snapshot()
    aliases = await org_aliases(key.org_id)
    try:
        options = routing.RoutingOptions.from_request(body)
    except routing.InvalidRoutingOptions as exc:
        raise GatewayError("invalid_request", str(exc)) from None
    options = replace(options, own_providers=frozenset(await byok.org_keys(key.org_id)))
    requested = body.get("model") or ""
    try:
        model, _ = routing.lookup(snapshot, routing.split_variant(aliases.get(requested, requested))[0], aliases)
    except routing.UnknownModel as exc:
        raise GatewayError("not_found", str(exc), param="model") from None
    if not routing.model_allowed(key.allowed_models, model.id) and not routing.model_allowed(
        key.allowed_models, requested
    ):
        raise GatewayError("permission", f"This API key is not allowed to use model {requested!r}.", param="model")
    health = await _health([h.id for h in model.hosts])
    try:
        route = routing.resolve(
            snapshot,
            requested,
            aliases=aliases,
            needs=routing.Needs.from_body(body),
            options=options,
            health=health,
            nitro_min_samples=settings.NITRO_MIN_CUSTOMER_SAMPLES,
        )
    except routing.UnknownModel as exc:
        raise GatewayError("not_found", str(exc), param="model") from None
    except routing.ProviderNotConfigured as exc:
        raise GatewayError("not_configured", str(exc), param="model") from None
    except routing.PromptTooLong as exc:
        raise GatewayError("invalid_request", str(exc), param="messages") from None
    except routing.NoHostAvailable as exc:
        raise GatewayError("invalid_request" if exc.request_fault else "overloaded", str(exc)) from None
    if options.order:  # the client chose the order itself
        return route
    return await _sticky(key, route, body, health)


async def _sticky(
    key: KeyContext, route: routing.Route, body: dict[str, Any], health: Mapping[int, Any]
) -> routing.Route:
    """A conversation goes back to the host that holds its implicit prompt cache (catalog.sticky)."""
    if not sticky.worth_it(route):
        return route
    conversation = sticky.conversation_key(key.org_id, route.model.id, body)
    route = sticky.prefer(route, await sticky.remembered(conversation), health)
    return replace(route, conversation=conversation)


# --- hold ---------------------------------------------------------------------------------------


def estimate_input_tokens(body: dict[str, Any], model_id: str = estimate.ANY_MODEL) -> int:
    """The prompt's size in tokens, by the estimator that learns from real traffic per model."""
    return estimate.estimate_tokens(body, model_id)


def estimate_input(body: dict[str, Any], model_id: str) -> tuple[int, int]:
    """(estimate, heuristic): the estimate for the hold, the raw heuristic to learn from later."""
    heuristic = estimate.heuristic_tokens(body)
    return estimate.ESTIMATOR.scale(model_id, heuristic), heuristic


def learn_tokens(model_id: str, heuristic: int, actual_prompt: int) -> None:
    """Feed the estimator a (heuristic, actual) pair so count_tokens and holds get closer over time."""
    if heuristic > 0 and actual_prompt > 0:
        estimate.learn(heuristic, actual_prompt, model_id)


def output_budget(max_tokens: int | None, host: HostInfo) -> int:
    limit = host.max_output_tokens or DEFAULT_MAX_TOKENS
    return min(max_tokens, limit) if max_tokens is not None else limit


def hold_amount(
    route: routing.Route, input_tokens: int, max_tokens: int | None, own_keys: Mapping[int, byok.OrgKey] | None = None
) -> int:
    """Enough for the dearest host failover may reach, at the dearest of its rates that can apply (any time of
    day; a long-context tier once the prompt may reach it), so a failover stays within the hold.

    `own_keys` (provider id -> the org's own key): a host the org reaches only on its own key ("only mine") can
    never cost more than the BYOK fee, so it needs only that; "mine first" may fall back to qlaud's key at full
    price, so it is held at full price."""
    keys = own_keys or {}
    hosts = route.hosts[: settings.GATEWAY_MAX_ATTEMPTS]
    return max(
        money.hold_for(
            input_tokens,
            output_budget(max_tokens, h),
            h.sheet,
            settings.QLAUD_MARKUP_BPS,
            hold_fee_bps(keys.get(h.provider.id) if keys else None, h),
        )
        for h in hosts
    )


def hold_fee_bps(own: byok.OrgKey | None, host: HostInfo) -> int:
    """The share of qlaud's price a request on this host can cost at most: the BYOK fee only where it can be
    served on the org's own key alone."""
    if own is not None and only_own(own, host):
        return _fee_bps(str(settings.BYOK_FEE_RATE))
    return money.BPS


def only_own(own: byok.OrgKey, host: HostInfo) -> bool:
    """No fallback to qlaud's key: the org chose "only mine", or qlaud holds no key for this provider."""
    return own.mode == byok.ONLY_MINE or bool(getattr(host.provider, "missing", ()))


def wall_clock() -> datetime:
    """Now, in UTC: when an upstream call starts, which picks a time-of-day rate. Tests replace `clock`."""
    return datetime.now(UTC)


clock: Callable[[], datetime] = wall_clock


# A request's reservation: a ticket on this worker's lease, or (keys with a spend limit) a hold row's id.
HoldRef = leases.Ticket | int | None


async def place_hold(key: KeyContext, amount: int, request_id: str) -> HoldRef:
    try:
        if key.spend_limit is None:
            return await leases.reserve(org_id=key.org_id, key_id=key.key_id, amount=amount, request_id=request_id)
        return await leases.place_hold(org_id=key.org_id, key_id=key.key_id, amount=amount, request_id=request_id)
    except ledger.InsufficientFunds as exc:
        raise GatewayError("billing", exc.message) from None


# --- call the upstream, with failover ---------------------------------------------------------


@dataclass(slots=True)
class Upstream:
    """An answered upstream call: the host that answered and its open (streaming) response."""

    host: HostInfo
    module: ProviderModule
    response: httpx.Response
    content: bytes | None  # the whole body for non-streaming calls
    attempts: int
    started: float
    byok: bool = False  # served on the org's own provider key
    started_at: datetime = field(default_factory=wall_clock)  # UTC, when the answering call started (its rate)


def make_call(
    host: HostInfo,
    body: dict[str, Any],
    stream: bool,
    headers: Mapping[str, str],
    tags: Mapping[str, Any],
    own: byok.OrgKey | None = None,
    at: datetime | None = None,
) -> Call:
    """One upstream call; `own`: the requesting org's own key for this host's provider (BYOK), else qlaud's.

    Cloudflare's cost tag carries the host's time-of-day rate at `at` (when the call starts); a long-context tier
    cannot be known before the upstream counts the prompt, so the tag leaves tiers out (the ledger does not)."""
    prices = host.sheet.rate_for(0, at).prices if at is not None else host.prices
    return Call(
        host=host,
        body=body,
        stream=stream,
        api_key=own.bearer if own is not None else provider_api_key(host.provider),
        credential=own.fields if own is not None else None,
        incoming_headers=headers,
        metadata={**tags, "model": host.model_id},
        customer_prices=money.customer_prices(prices, settings.QLAUD_MARKUP_BPS),
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


async def report_outcome(host_id: int, *, ok: bool, status: int, ttft_ms: float | None = None, **more: Any) -> None:
    """Feed the host's live stats and circuit breaker; never fails the request. `more`: the rest of
    `health.record_outcome`'s keywords (output_tokens, duration_ms, error_type, fingerprint)."""
    try:
        await health.record_outcome(host_id, ok=ok, ttft_ms=ttft_ms, status=status, **more)
    except Exception:
        log.exception("could not record the outcome of host %s", host_id)


async def report_answered(host_id: int) -> None:
    """The host answered with headers: its circuit closes now, not when a long stream ends."""
    try:
        await health.answered(host_id)
    except Exception:
        log.exception("could not note that host %s answered", host_id)


def fingerprint(body: Mapping[str, Any], org_id: int | None) -> str:
    """Names a request for the breaker (only on the failure path): the same tenant's same request failing
    again adds no strike against the host. The tenant is part of the name: a poison request repeated costs
    only the tenant that sends it, while many tenants sending one common body (a health-check prompt) to a
    failing host still count, each once."""
    return hashlib.blake2b(b"%d:%b" % (org_id or 0, jsonio.dumps(body)), digest_size=12).hexdigest()


async def prepare(call: Call, module: ProviderModule) -> None:
    """A provider's async set-up before its (sync) request builder: Vertex mints its token here,
    off the event loop."""
    if module.prepare is not None:
        await module.prepare(call)


async def _send(
    call: Call, module: ProviderModule, read_body: bool, idle: float | None = None
) -> tuple[httpx.Response, bytes | None]:
    await prepare(call, module)
    req = module.build_request(call)
    response = await outbound.send(req.method, req.url, req.headers, req.content)
    if response.status_code >= 400 or read_body:
        try:
            content = await _read(response, idle)
        finally:
            await response.aclose()
        return response, content
    return response, None


async def _read(response: httpx.Response, idle: float | None) -> bytes:
    """The whole body. With `idle`, a body that stops coming for that long raises TimeoutError: an upstream
    that sent its headers and then nothing would otherwise hold the request until GATEWAY_READ_TIMEOUT."""
    if idle is None:
        return await response.aread()
    parts = []
    chunks = response.aiter_bytes()
    while True:
        try:
            async with asyncio.timeout(idle):
                parts.append(await anext(chunks))
        except StopAsyncIteration:
            return b"".join(parts)


def first_byte_timeout(host: HostInfo) -> float:
    """Seconds a stream may wait for the upstream's first event (headers included)."""
    return host.first_byte_timeout or settings.GATEWAY_FIRST_BYTE_TIMEOUT


def idle_timeout(host: HostInfo) -> float:
    """Seconds a stream may wait between two upstream events."""
    return host.idle_timeout or settings.GATEWAY_IDLE_TIMEOUT


BodyFor = Callable[[Any, Any], dict[str, Any]]  # (host, provider module) -> body in the module's dialect


# An org's own key refused with one of these: fail over to qlaud's key (mine_first) or answer it (only_mine).
OWN_KEY_REFUSALS = {401: "authentication", 403: "authentication", 429: "rate_limit"}


async def _attempt(
    host: HostInfo, module: ProviderModule, call: Call, stream: bool
) -> tuple[httpx.Response | None, bytes | None, GatewayError | None, int]:
    """(response, body, error, status): one upstream call; the error is set when no answer came."""
    try:
        if stream:  # the first-byte deadline covers the wait for the headers too
            async with asyncio.timeout(first_byte_timeout(host)):
                response, content = await _send(call, module, read_body=False)
        else:
            response, content = await _send(call, module, read_body=True, idle=idle_timeout(host))
    except (httpx.TimeoutException, TimeoutError):
        return None, None, GatewayError("timeout", f"The upstream provider {host.provider.slug} timed out."), 504
    except httpx.HTTPError:
        return None, None, GatewayError("upstream", f"Could not reach the upstream provider {host.provider.slug}."), 502
    except UpstreamError as refused:  # raised before sending: the host is misconfigured (credentials...)
        log.warning("host %s cannot be called: %s", host.id, refused.message)
        unavailable = GatewayError("upstream", f"The upstream provider {host.provider.slug} is not available.")
        return None, None, unavailable, 502
    return response, content, None, response.status_code


def own_key_refused(host: HostInfo, own: byok.OrgKey, status: int, content: bytes) -> GatewayError:
    """Note the refusal on the org's credential (the dashboard shows it); the error "only mine" answers."""
    slug = host.provider.slug
    background(byok.anote_failure(own.credential_id, f"{status}: {error_message(content)}"[:300]))
    why = (
        "this organization uses only its own key for this provider"
        if own.mode == byok.ONLY_MINE
        else ("qlaud holds no key of its own for this provider")
    )
    return GatewayError(
        OWN_KEY_REFUSALS[status],
        f"The upstream provider {slug} refused your organization's own {slug} key ({status}); "
        f"{why}, so qlaud's key was not tried.",
    )


async def call_with_failover(
    route: routing.Route,
    body_for: BodyFor,
    *,
    stream: bool,
    headers: Mapping[str, str],
    tags: Mapping[str, Any],
    org_id: int | None = None,
) -> Upstream:
    """Try the route's hosts in order until one answers; failover on connection errors, timeouts,
    429 and 5xx (and host-specific refusals) before any byte reached the client.

    With `org_id`, a host whose provider that org holds its own key for is called with that key first (BYOK);
    a 401/403/429 on it falls back to qlaud's key on the same host (mine_first) or is answered (only_mine)."""
    last: GatewayError | None = None
    keys = await byok.org_keys(org_id) if org_id is not None else {}
    hosts = route.hosts[: settings.GATEWAY_MAX_ATTEMPTS]
    for attempt, host in enumerate(hosts, start=1):
        module = module_for(host.provider.protocol)
        body = body_for(host, module)
        own = keys.get(host.provider.id)
        started, started_at = time.perf_counter(), clock()
        response, content, last, status = await _attempt(
            host, module, make_call(host, body, stream, headers, tags, own, started_at), stream
        )
        if own is not None and response is not None and status in OWN_KEY_REFUSALS:
            refusal = own_key_refused(host, own, status, content or b"")
            if only_own(own, host):
                raise refusal
            own, started, started_at = None, time.perf_counter(), clock()
            response, content, last, status = await _attempt(
                host, module, make_call(host, body, stream, headers, tags, at=started_at), stream
            )
        if response is not None:
            if response.status_code < 400:
                background(report_answered(host.id))
                if route.conversation and sticky.caches_implicitly(host):
                    background(sticky.remember(route.conversation, host.id))
                return Upstream(
                    host, module, response, content, attempt, started, byok=own is not None, started_at=started_at
                )
            err: UpstreamError = module.parse_error(response.status_code, content or b"")
            last = errors.from_upstream(
                err.status, err.type, err.message, _retry_after(response), host.provider.slug, err.provider_type
            )
            status = err.status
            if not err.retryable or err.type in health.REQUEST_FAULT_TYPES:
                # The request's fault (a bad or too long prompt): no strike, and no other host will differ.
                background(report_outcome(host.id, ok=False, status=err.status, error_type=err.type))
                raise last
            strike = report_outcome(
                host.id, ok=False, status=status, error_type=err.type, fingerprint=fingerprint(body, org_id)
            )
            background(strike)
            continue
        background(report_outcome(host.id, ok=False, status=status))
    raise last or GatewayError("overloaded", "No upstream host could serve this request.")


# --- settle and record -----------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What happened, for the ledger and the request log."""

    usage: Usage = field(default_factory=Usage)
    usage_estimated: bool = False
    status: int = 200
    error_type: str = ""
    finish_reason: str = ""
    ttft_ms: float | None = None


def billable_usage(reported: Usage, chars: int, input_estimate: int, delivered: bool) -> tuple[Usage, bool]:
    """The upstream's usage, or an estimate of what was delivered when it reported none."""
    if reported.output or (reported and not chars):
        if reported.prompt:
            return reported, False
        return Usage(input=input_estimate, output=reported.output, reasoning=reported.reasoning), True
    if not delivered and not chars:
        return reported, False
    output = -(-chars // 4)
    if reported.prompt:
        return Usage(reported.input, reported.cache_read, reported.cache_write, output, reported.reasoning), True
    return Usage(input=input_estimate, output=output), True


@lru_cache(maxsize=4)
def _fee_bps(rate: str) -> int:
    return money.rate_to_bps(rate)


def rate_for(usage: Usage, host: HostInfo, at: datetime) -> money.Rate:
    """The host's rate for this usage when the upstream call started `at` (prompt-size tier, time of day)."""
    return host.sheet.rate_for(money.prompt_tokens(usage), at)


def charge_for(usage: Usage, host: HostInfo, at: datetime, own_key: bool = False) -> money.Charge:
    """What the request costs at the rate that applied when its upstream call started `at`; served on the org's
    own key (BYOK): no upstream cost, only the BYOK fee."""
    return _pricer(own_key)(usage, rate_for(usage, host, at).prices)


def _pricer(own_key: bool) -> Callable[[Usage, money.Prices], money.Charge]:
    """What a usage costs at some prices, with today's markup (and BYOK fee, served on the org's own key)."""
    markup = settings.QLAUD_MARKUP_BPS
    if own_key:
        fee = _fee_bps(str(settings.BYOK_FEE_RATE))
        return lambda usage, prices: money.byok_cost(usage, prices, markup, fee)
    return lambda usage, prices: money.cost(usage, prices, markup)


def receipt(
    request_id: str,
    host: HostInfo,
    requested: str,
    usage: Usage,
    estimated: bool,
    own_key: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    rate = rate_for(usage, host, at) if at is not None else None
    return {
        "request_id": request_id,
        "requested_model": requested,
        "model": host.model_id,
        "provider": host.provider.slug,
        "upstream_model": host.upstream_model,
        "host_id": host.id,
        "price_version_id": host.price_version_id,
        "usage": _usage_fields(usage),
        "usage_estimated": estimated,
        "byok": own_key,
        **({"rate": rate.name, "upstream_started_at": at.isoformat()} if rate is not None and at is not None else {}),
    }


def _usage_fields(usage: Usage) -> dict[str, int]:
    return {
        "input": usage.input,
        "cache_read": usage.cache_read,
        "cache_write": usage.cache_write,
        "output": usage.output,
        "reasoning": usage.reasoning,
    }


async def settle(hold: HoldRef, charge: money.Charge | None, receipt_: dict[str, Any]) -> None:
    """Charge (or release) the hold. Call shielded: it must finish even if the client left."""
    if hold is None:
        return
    try:
        if isinstance(hold, leases.Ticket):
            if charge is None:
                leases.release(hold)
            else:
                leases.settle(hold, charge=charge.total, upstream_cost=charge.upstream, receipt=receipt_)
        elif charge is None:
            leases.unwatch_hold(hold)
            await ledger.arelease(hold)
        else:
            leases.unwatch_hold(hold)
            await ledger.asettle(hold, charge=charge.total, upstream_cost=charge.upstream, receipt=receipt_)
    except Exception:  # the reconciler settles or releases an open hold later
        log.exception("could not settle hold %s; leaving it to the reconciler", hold)


def watch(
    hold: HoldRef,
    usage: Callable[[], Usage],
    host: HostInfo,
    request_id: str,
    requested: str,
    at: datetime,
    own_key: bool = False,
) -> None:
    """Meter a stream on its hold from now on: the wallet's flusher samples `usage` (what was
    delivered) every flush and writes it when it changed, so a worker that dies mid-stream leaves
    the reconciler a charge to settle (at most one flush interval short) instead of a hold to
    release. Nothing here runs per chunk, nor for a stream that ends before the next flush."""
    if hold is None:
        return
    meter = StreamMeter(usage, host, request_id, requested, at, own_key)
    if isinstance(hold, leases.Ticket):
        leases.watch(hold, meter)
    else:
        leases.watch_hold(hold, meter)


class StreamMeter:
    """A watched stream's checkpoint, {charge, upstream_cost, receipt}, for the wallet's flusher. A sample of a stream
    that delivered nothing since the last one (a model thinking, a slow client) is the last point, the same object.
    What does not change while the stream runs (the receipt's other fields, the markup, the rate while the prompt's
    size stays the same) is looked up at the first sample, not at every one, and not at all for a short stream."""

    __slots__ = (
        "at",
        "base",
        "host",
        "last",
        "own_key",
        "point",
        "price",
        "prompt",
        "rate",
        "request_id",
        "requested",
        "usage",
    )

    def __init__(
        self, usage: Callable[[], Usage], host: HostInfo, request_id: str, requested: str, at: datetime, own_key: bool
    ) -> None:
        self.usage, self.host, self.at, self.own_key = usage, host, at, own_key
        self.request_id, self.requested = request_id, requested
        self.last: Usage | None = None
        self.point: dict[str, Any] = {}
        self.base: dict[str, Any] | None = None
        self.prompt = -1

    def __call__(self) -> dict[str, Any]:
        delivered = self.usage()
        if delivered == self.last:
            return self.point
        if self.base is None:
            self.base = receipt(self.request_id, self.host, self.requested, Usage(), True, self.own_key, self.at)
            self.price = _pricer(self.own_key)
        prompt = money.prompt_tokens(delivered)
        if prompt != self.prompt:
            self.prompt, self.rate = prompt, self.host.sheet.rate_for(prompt, self.at)
        charge = self.price(delivered, self.rate.prices)
        note = {**self.base, "usage": _usage_fields(delivered), "rate": self.rate.name}
        self.last, self.point = delivered, {"charge": charge.total, "upstream_cost": charge.upstream, "receipt": note}
        return self.point


async def settle_shielded(hold: HoldRef, charge: money.Charge | None, receipt_: dict[str, Any]) -> None:
    task = background(settle(hold, charge, receipt_))
    await asyncio.shield(task)


def log_fields(
    *,
    request_id: str,
    key: KeyContext,
    surface: str,
    stream: bool,
    requested: str,
    host: HostInfo | None,
    attempts: int,
    outcome: Outcome,
    charge: money.Charge | None,
    started: float,
    upstream_ms: float,
    user_agent: str,
    own_key: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    total_ms = (time.perf_counter() - started) * 1000
    u = outcome.usage
    return {
        "request_id": request_id,
        "org_id": key.org_id,
        "api_key_id": key.key_id,
        "user_id": key.user_id,
        "surface": surface,
        "stream": stream,
        "requested_model": requested[:200],
        "model": host.model_id if host else "",
        "provider": host.provider.slug if host else "",
        "host_id": host.id if host else None,
        "upstream_model": host.upstream_model if host else "",
        "price_version_id": host.price_version_id if host else None,
        "rate": rate_for(u, host, at).name if host is not None and at is not None else "",
        "attempts": attempts,
        "status": outcome.status,
        "error_type": outcome.error_type[:60],
        "finish_reason": (outcome.finish_reason or "")[:40],
        "input_tokens": u.input,
        "cache_read_tokens": u.cache_read,
        "cache_write_tokens": u.cache_write,
        "output_tokens": u.output,
        "reasoning_tokens": u.reasoning,
        "usage_estimated": outcome.usage_estimated,
        "byok": own_key,
        "upstream_cost": charge.upstream if charge else 0,
        "cost": charge.total if charge else 0,
        "ttft_ms": outcome.ttft_ms,
        "total_ms": total_ms,
        "overhead_ms": max(total_ms - upstream_ms, 0.0),
        "user_agent": user_agent[:300],
    }


def record(fields: dict[str, Any]) -> None:
    records.record(fields)
