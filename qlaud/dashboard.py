"""The numbers on the dashboard overview, scoped to one org. Every query filters on org first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from gateway.models import RequestLog

CHART_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 140
TOP_KEYS = 5
TOP_MODELS = 6
RECENT = 20


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int  # micro-dollars
    x: float
    y: float
    width: float
    height: float


def wallet_numbers(org) -> dict[str, int] | None:
    from wallet.models import Wallet

    wallet = Wallet.objects.filter(org=org).only("balance", "held").first()
    if wallet is None:
        return None
    return {"balance": wallet.balance, "held": wallet.held, "available": wallet.available}


def totals(org, now: datetime) -> dict[str, int]:
    """Spend, requests and errors over today / 7 days / 30 days, in one query."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = {"today": today, "7d": now - timedelta(days=7), "30d": now - timedelta(days=30)}
    aggregates = {}
    for name, start in starts.items():
        window = Q(created__gte=start)
        aggregates[f"spend_{name}"] = Coalesce(Sum("cost", filter=window), 0)
        aggregates[f"requests_{name}"] = Count("id", filter=window)
        aggregates[f"errors_{name}"] = Count("id", filter=window & Q(status__gte=400))
    return RequestLog.objects.filter(org=org, created__gte=starts["30d"]).aggregate(**aggregates)


def spend_by_day(org, now: datetime, days: int = CHART_DAYS) -> list[Bar]:
    start_day = (now - timedelta(days=days - 1)).date()
    rows = (
        RequestLog.objects.filter(org=org, created__date__gte=start_day)
        .annotate(day=TruncDate("created"))
        .values("day")
        .annotate(spend=Sum("cost"))
        .order_by()
    )
    by_day: dict[date, int] = {row["day"]: row["spend"] or 0 for row in rows}
    series = [(start_day + timedelta(days=i), by_day.get(start_day + timedelta(days=i), 0)) for i in range(days)]
    return _columns([(f"{d:%b} {d.day}", v) for d, v in series])


def _columns(series: list[tuple[str, int]]) -> list[Bar]:
    peak = max((v for _, v in series), default=0) or 1
    slot = CHART_WIDTH / max(len(series), 1)
    bars = []
    for i, (label, value) in enumerate(series):
        height = CHART_HEIGHT * value / peak
        bars.append(Bar(label, value, i * slot + 1, CHART_HEIGHT - height, max(slot - 2, 1), height))
    return bars


def spend_by_model(org, now: datetime) -> list[dict]:
    rows = list(
        RequestLog.objects.filter(org=org, created__gte=now - timedelta(days=30))
        .values("model")
        .annotate(spend=Coalesce(Sum("cost"), 0), requests=Count("id"))
        .order_by("-spend", "model")[:TOP_MODELS]
    )
    peak = max((r["spend"] for r in rows), default=0) or 1
    for row in rows:
        row["model"] = row["model"] or "(unresolved)"
        row["percent"] = round(100 * row["spend"] / peak, 1)
    return rows


def top_keys(org, now: datetime) -> list[dict]:
    return list(
        RequestLog.objects.filter(org=org, created__gte=now - timedelta(days=30), api_key__isnull=False)
        .values("api_key_id", "api_key__name", "api_key__prefix")
        .annotate(spend=Coalesce(Sum("cost"), 0), requests=Count("id"))
        .order_by("-spend", "-requests")[:TOP_KEYS]
    )


def recent_requests(org) -> list[dict]:
    rows = RequestLog.objects.filter(org=org).order_by("-created")[:RECENT]
    return [feed_payload(row) for row in rows]


def feed_payload(row: RequestLog) -> dict:
    """What the live feed shows for one request; the gateway publishes the same shape."""
    return {
        "request_id": row.request_id,
        "created": row.created.isoformat(),
        "model": row.model or row.requested_model,
        "provider": row.provider,
        "status": row.status,
        "input_tokens": row.input_tokens + row.cache_read_tokens + row.cache_write_tokens,
        "output_tokens": row.output_tokens,
        "cost": row.cost,
        "ttft_ms": row.ttft_ms,
        "total_ms": row.total_ms,
    }


def overview(org) -> dict:
    now = timezone.now()
    return {
        "wallet": wallet_numbers(org),
        "totals": totals(org, now),
        "by_day": spend_by_day(org, now),
        "by_model": spend_by_model(org, now),
        "top_keys": top_keys(org, now),
        "recent": recent_requests(org),
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }
