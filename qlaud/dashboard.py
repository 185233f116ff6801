"""The numbers on the dashboard overview, scoped to one org. Every query filters on org first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, DateField, Func, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApiKey
from lib.live_feed import feed_payload
from requestlog.models import RequestLog
from wallet.models import Wallet

CHART_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 140
TOP_KEYS = 5
TOP_MODELS = 6
RECENT = 20
ROWS_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int  # micro-dollars
    x: float
    y: float
    width: float
    height: float


def wallet_numbers(org) -> dict[str, int] | None:
    wallet = Wallet.objects.filter(org=org).only("balance").first()
    if wallet is None:
        return None
    # Never a worker's unused lease: only the holds of requests in flight (Wallet.on_hold).
    return {"balance": wallet.balance, "held": wallet.on_hold, "available": wallet.spendable}


class UTCDate(Func):
    """The UTC calendar day of a datetime column.

    TruncDate on SQLite calls a Python function per row (~30 µs each); SQLite's own DATE() on the
    stored UTC text is a hundred times faster. Days on the dashboard are UTC days either way.
    """

    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="DATE", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="((%(expressions)s) AT TIME ZONE 'UTC')::date", **extra)


def daily_rows(org, now: datetime, days: int = CHART_DAYS) -> list[dict]:
    """Spend, requests and errors per (UTC day, model, key) over the chart window: one indexed, grouped query."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return list(
        RequestLog.objects.filter(org=org, created__gte=start)
        .annotate(day=UTCDate("created"))
        .values("day", "model", "api_key_id")
        .annotate(spend=Coalesce(Sum("cost"), 0), requests=Count("id"), errors=Count("id", filter=Q(status__gte=400)))
        .order_by()
    )


def totals(rows: list[dict], today: date) -> dict[str, int]:
    """Spend, requests and errors for today and the last 7 and 30 days (calendar days, today included)."""
    out: dict[str, int] = {}
    for name, days in (("today", 1), ("7d", 7), ("30d", 30)):
        first = today - timedelta(days=days - 1)
        window = [r for r in rows if r["day"] >= first]
        out[f"spend_{name}"] = sum(r["spend"] for r in window)
        out[f"requests_{name}"] = sum(r["requests"] for r in window)
        out[f"errors_{name}"] = sum(r["errors"] for r in window)
    return out


def spend_by_day(rows: list[dict], today: date, days: int = CHART_DAYS) -> list[Bar]:
    by_day: dict[date, int] = {}
    for row in rows:
        by_day[row["day"]] = by_day.get(row["day"], 0) + row["spend"]
    first = today - timedelta(days=days - 1)
    series = [first + timedelta(days=i) for i in range(days)]
    return _columns([(f"{d:%b} {d.day}", by_day.get(d, 0)) for d in series])


def spend_by_model(rows: list[dict]) -> list[dict]:
    merged: dict[str, dict] = {}
    for row in rows:
        name = row["model"] or "(unresolved)"
        entry = merged.setdefault(name, {"model": name, "spend": 0, "requests": 0})
        entry["spend"] += row["spend"]
        entry["requests"] += row["requests"]
    top = sorted(merged.values(), key=lambda r: (-r["spend"], r["model"]))[:TOP_MODELS]
    peak = max((r["spend"] for r in top), default=0) or 1
    for row in top:
        row["percent"] = round(100 * row["spend"] / peak, 1)
    return top


def _columns(series: list[tuple[str, int]]) -> list[Bar]:
    peak = max((v for _, v in series), default=0) or 1
    slot = CHART_WIDTH / max(len(series), 1)
    bars = []
    for i, (label, value) in enumerate(series):
        height = CHART_HEIGHT * value / peak
        bars.append(Bar(label, value, i * slot + 1, CHART_HEIGHT - height, max(slot - 2, 1), height))
    return bars


def top_keys(rows: list[dict], org) -> list[dict]:
    """The keys that spent most over the window, with their names (one small query)."""
    merged: dict[int, dict] = {}
    for row in rows:
        if row["api_key_id"] is None:
            continue
        entry = merged.setdefault(row["api_key_id"], {"spend": 0, "requests": 0})
        entry["spend"] += row["spend"]
        entry["requests"] += row["requests"]
    top = sorted(merged.items(), key=lambda kv: (-kv[1]["spend"], -kv[1]["requests"]))[:TOP_KEYS]
    keys = ApiKey.objects.filter(org=org, pk__in=[pk for pk, _ in top]).in_bulk()
    return [{"key": keys[pk], **numbers} for pk, numbers in top if pk in keys]


def cached_daily_rows(org, now: datetime, newest: RequestLog | None) -> list[dict]:
    """daily_rows, cached until the org's next request (or midnight UTC, or a minute at most).

    The grouped scan is the one costly query of the page; keyed on the newest RequestLog id it is
    never stale, and an idle dashboard reloads for free.
    """
    marker = f"{newest.pk}:{newest.request_id}:{newest.created.timestamp()}" if newest else "none"
    key = f"site:dash-rows:{org.pk}:{marker}:{now:%Y-%m-%d}"
    rows = cache.get(key)
    if rows is None:
        rows = daily_rows(org, now)
        cache.set(key, rows, ROWS_CACHE_SECONDS)
    return rows


def recent_requests(org, membership) -> list[RequestLog]:
    """The live feed's first rows: a member sees their own keys' requests (as on the usage pages and over
    the websocket, qlaud/consumers.py), owners and admins the org's."""
    logs = _newest_first(org)
    return list(logs[:RECENT] if membership.is_manager else logs.filter(user_id=membership.user_id)[:RECENT])


def _newest_first(org):
    return RequestLog.objects.filter(org=org).order_by("-created", "-id")


def overview(org, membership) -> dict:
    now = timezone.now()
    today = now.date()  # UTC, like UTCDate
    recent = recent_requests(org, membership)
    newest = recent[0] if recent and membership.is_manager else _newest_first(org).first()
    rows = cached_daily_rows(org, now, newest)
    by_day = spend_by_day(rows, today)
    return {
        "wallet": wallet_numbers(org),
        "totals": totals(rows, today),
        "by_day": by_day,
        "peak_day": max(by_day, key=lambda bar: bar.value),
        "by_model": spend_by_model(rows),
        "top_keys": top_keys(rows, org),
        "recent": [{**feed_payload(row.__dict__), "created_at": row.created} for row in recent],
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }
