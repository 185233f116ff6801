"""Spend per key in its current limit period, summed from the request log (micro-dollars)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from accounts.models import ApiKey
from wallet.periods import period_start


def spend_by_key(keys: Iterable[ApiKey], now: datetime | None = None) -> dict[int, int]:
    """{key id: micro-dollars charged since the start of that key's period}; one query per period."""
    from gateway.models import RequestLog

    now = now or timezone.now()
    by_period: dict[str, list[int]] = {}
    for key in keys:
        by_period.setdefault(key.limit_period, []).append(key.pk)
    spend: dict[int, int] = {}
    for period, ids in by_period.items():
        logs = RequestLog.objects.filter(api_key_id__in=ids)
        start = period_start(period, now)
        if start is not None:
            logs = logs.filter(created__gte=start)
        for row in logs.values("api_key_id").annotate(total=Sum("cost")):
            spend[row["api_key_id"]] = row["total"] or 0
    return spend
