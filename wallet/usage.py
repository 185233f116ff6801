"""Reads of the request log for the usage pages and the management API: who sees which rows,
the filters, and the CSV export. One place, so the dashboard and the API cannot disagree."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from requestlog.models import RequestLog
from wallet.api import usd

CSV_COLUMNS = [
    "request_id",
    "created",
    "key",
    "model",
    "provider",
    "status",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "upstream_cost_usd",
    "cost_usd",
    "byok",  # true: served on the org's own provider key (no upstream cost, only the BYOK fee)
    "rate",  # the price's rate that applied ("peak", "off-peak", "over 200k"); empty: the host's only price
]


def request_logs(org_id: int, *, keys_of: Any = None) -> QuerySet:
    """The org's request log; with `keys_of` (a user), only the requests made with that user's keys."""
    logs = RequestLog.objects.filter(org_id=org_id)
    if keys_of is not None:
        logs = logs.filter(api_key__created_by=keys_of)
    return logs


def filter_logs(
    logs: QuerySet,
    *,
    key: int | None = None,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet:
    """Narrow to one key, one served model, and `start <= created < end`."""
    if key:
        logs = logs.filter(api_key_id=key)
    if model:
        logs = logs.filter(model=model)
    if start:
        logs = logs.filter(created__gte=start)
    if end:
        logs = logs.filter(created__lt=end)
    return logs


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(logs: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    fields = ["request_id", "created", "api_key__name", "model", "provider", "status", "input_tokens"]
    fields += ["cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "upstream_cost", "cost"]
    fields += ["byok", "rate"]
    for row in logs.order_by("-created", "-id").values_list(*fields).iterator(chunk_size=2000):
        *head, upstream, cost, byok, rate = row
        head[1] = head[1].isoformat()
        yield writer.writerow([*head, usd(upstream), usd(cost), "true" if byok else "false", rate])
