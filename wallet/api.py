"""Account API: /v1/credits, /v1/key, /v1/generation. Async views authenticated by the API key.

Money is given both as exact decimal strings in USD and as integer micro-dollars; never floats.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.keys import KeyContext, KeyRefused, raw_key_from_headers, verify_key
from accounts.periods import period_end, period_start
from catalog.models import PriceVersion  # upward: a receipt names the prices it was billed at
from requestlog.models import RequestLog
from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.money import usd_decimal


def usd(micros: int | None) -> str | None:
    """Exact USD as a decimal string: 1234567 -> "1.234567", 5000000 -> "5.000000"."""
    return None if micros is None else usd_decimal(micros, 6)


def _error(status: int, message: str, kind: str) -> JsonResponse:
    return JsonResponse({"error": {"code": status, "type": kind, "message": message}}, status=status)


async def _authenticate(request: HttpRequest) -> KeyContext | JsonResponse:
    raw = raw_key_from_headers(request.headers)
    if not raw:
        return _error(401, "Missing API key: send it as x-api-key or Authorization: Bearer.", "authentication_error")
    try:
        return await verify_key(raw)
    except KeyRefused as refused:
        return _error(401, refused.message, "authentication_error")


def _money(name: str, micros: int | None) -> dict[str, Any]:
    return {name: usd(micros), f"{name}_micros": micros}


@require_GET
async def credits(request: HttpRequest) -> JsonResponse:
    ctx = await _authenticate(request)
    if isinstance(ctx, JsonResponse):
        return ctx
    balance, held = await sync_to_async(balance_and_holds)(ctx.org_id)
    data = {"currency": "USD", **_money("balance", balance), **_money("on_hold", held)}
    return JsonResponse({"data": {**data, **_money("available", balance - held)}})


def balance_and_holds(org_id: int) -> tuple[int, int]:
    """The settled balance and the holds of requests in flight (never a worker's unused lease)."""
    wallet = Wallet.objects.filter(org_id=org_id).only("pk", "balance").first()
    return (wallet.balance, ledger.on_hold(wallet.pk)) if wallet else (0, 0)


@require_GET
async def key(request: HttpRequest) -> JsonResponse:
    ctx = await _authenticate(request)
    if isinstance(ctx, JsonResponse):
        return ctx
    spent = await sync_to_async(ledger.key_period_spend)(ctx.key_id, ctx.limit_period)
    now = timezone.now()
    start, end = period_start(ctx.limit_period, now), period_end(ctx.limit_period, now)
    remaining = None if ctx.spend_limit is None else max(ctx.spend_limit - spent, 0)
    data = {
        "label": ctx.name,
        "name": ctx.name,
        "prefix": ctx.prefix,
        "limit_period": ctx.limit_period,
        "period_start": start.isoformat() if start else None,
        "period_end": end.isoformat() if end else None,
        **_money("limit", ctx.spend_limit),
        **_money("usage", spent),
        **_money("limit_remaining", remaining),
        "allowed_models": list(ctx.allowed_models),
        "rate_limit": {"requests_per_minute": ctx.rpm_limit, "concurrency": ctx.concurrency_limit},
        "expires_at": ctx.expires_at.isoformat() if ctx.expires_at else None,
    }
    return JsonResponse({"data": data})


@require_GET
async def generation(request: HttpRequest) -> JsonResponse:
    ctx = await _authenticate(request)
    if isinstance(ctx, JsonResponse):
        return ctx
    request_id = request.GET.get("id", "")
    receipt = await sync_to_async(generation_receipt)(ctx.org_id, request_id)
    if receipt is None:
        return _error(404, f"No generation {request_id!r} for this account.", "not_found_error")
    return JsonResponse({"data": receipt})


def generation_receipt(org_id: int, request_id: str) -> dict[str, Any] | None:
    """One request's receipt (RequestLog joined with its ledger entry); None if not this org's."""
    log = RequestLog.objects.filter(org_id=org_id, request_id=request_id).first() if request_id else None
    if log is None:
        return None
    entry = LedgerEntry.objects.filter(idempotency_key=f"usage:{request_id}", wallet__org_id=org_id).first()
    charged = -entry.amount if entry else None
    return {
        "id": log.request_id,
        "created_at": log.created.isoformat(),
        "surface": log.surface,
        "streamed": log.stream,
        "requested_model": log.requested_model,
        "model": log.model,
        "provider": log.provider,
        "upstream_model": log.upstream_model,
        "host_id": log.host_id,
        "status": log.status,
        "finish_reason": log.finish_reason,
        "error_type": log.error_type or None,
        "api_key_id": log.api_key_id,
        "tokens": {
            "input": log.input_tokens,
            "cache_read": log.cache_read_tokens,
            "cache_write": log.cache_write_tokens,
            "output": log.output_tokens,
            "reasoning": log.reasoning_tokens,
        },
        "usage_estimated": log.usage_estimated,
        "byok": log.byok,  # served on the org's own provider key: no upstream cost, only the BYOK fee
        "rate": log.rate or None,  # the price version's rate that applied ("peak", "off-peak", "over 200k")
        "price_version": price_version(log.price_version_id, log.rate),
        **_money("upstream_cost", log.upstream_cost),
        **_money("markup", log.cost - log.upstream_cost),
        **_money("total_cost", log.cost),
        **_money("charged", charged),
        "ledger_entry_id": entry.pk if entry else None,
        "latency_ms": {"ttft": log.ttft_ms, "total": log.total_ms, "gateway_overhead": log.overhead_ms},
    }


def price_version(price_version_id: int | None, rate: str = "") -> dict[str, Any] | None:
    """The upstream prices (micro-$ per Mtok) a request was billed at: those of `rate` (its name on the receipt)
    when the price version has other rates (prompt-size tiers, time of day), else the plain ones."""
    if price_version_id is None:
        return None
    pv = PriceVersion.objects.filter(pk=price_version_id).first()
    if pv is None:
        return {"id": price_version_id}
    keys = ("input", "output", "cache_read", "cache_write")
    applied = next((r for r in pv.rates or [] if r.get("name") == rate), None)
    prices = {k: (applied.get(k, 0) if applied else getattr(pv, k)) for k in keys}
    return {
        "id": pv.pk,
        "valid_from": pv.valid_from.isoformat(),
        "rate": applied["name"] if applied else pv.rate_name,
        "per_mtok_micros": prices,
        "rates": [pv.rate_name, *(r["name"] for r in pv.rates or [])],
    }
