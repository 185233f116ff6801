from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Sum
from django.utils import timezone

from accounts.periods import period_start

if TYPE_CHECKING:
    from accounts.models import ApiKey


class RequestLogQuerySet(models.QuerySet["RequestLog"]):
    def spend_by_key(self, keys: Iterable[ApiKey], now: datetime | None = None) -> dict[int, int]:
        """{key id: micro-dollars charged since the start of that key's period}; one query per period."""
        now = now or timezone.now()
        by_period: dict[str, list[int]] = {}
        for key in keys:
            by_period.setdefault(key.limit_period, []).append(key.pk)
        spend: dict[int, int] = {}
        for period, ids in by_period.items():
            logs = self.filter(api_key_id__in=ids)
            start = period_start(period, now)
            if start is not None:
                logs = logs.filter(created__gte=start)
            for row in logs.values("api_key_id").annotate(total=Sum("cost")):
                spend[row["api_key_id"]] = row["total"] or 0
        return spend


class RequestLog(models.Model):
    """One row per gateway request. Never holds prompt or completion content.

    Host, provider and model are stored denormalised so a log row keeps meaning
    after the catalog changes. Money is integer micro-dollars.

    The gateway writes a row per request, so the table carries only the indexes its readers use
    (each one costs every insert), and its foreign keys are not database constraints: their
    per-row checks doubled PostgreSQL's insert time, and a row naming an org deleted a moment
    before must not fail its whole batch. Django still applies on_delete.
    """

    request_id = models.CharField(max_length=40)  # unique: Meta.constraints (no LIKE index beside it)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    org = models.ForeignKey(
        "accounts.Org", models.CASCADE, related_name="request_logs", db_index=False, db_constraint=False
    )  # indexed by (org, -created)
    api_key = models.ForeignKey(
        "accounts.ApiKey", models.SET_NULL, null=True, related_name="request_logs", db_index=False, db_constraint=False
    )  # indexed by (api_key, -created)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", db_constraint=False
    )
    surface = models.CharField(max_length=20)  # messages | chat | responses | count_tokens
    stream = models.BooleanField(default=False)
    requested_model = models.CharField(max_length=200)
    model = models.CharField(max_length=200, blank=True)  # catalog model id served
    provider = models.CharField(max_length=40, blank=True)
    host_id = models.BigIntegerField(null=True, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    price_version_id = models.BigIntegerField(null=True, blank=True)
    rate = models.CharField(max_length=40, blank=True)  # the price version's rate that applied ("off-peak")
    attempts = models.PositiveSmallIntegerField(default=0)
    status = models.PositiveSmallIntegerField(default=200)
    error_type = models.CharField(max_length=60, blank=True)
    finish_reason = models.CharField(max_length=40, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)  # uncached input
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    byok = models.BooleanField(default=False)  # served on the org's own provider key
    upstream_cost = models.BigIntegerField(default=0)  # micro-dollars
    cost = models.BigIntegerField(default=0)  # micro-dollars charged to the customer
    ttft_ms = models.FloatField(null=True, blank=True)
    total_ms = models.FloatField(null=True, blank=True)
    overhead_ms = models.FloatField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = RequestLogQuerySet.as_manager()

    class Meta:
        db_table = "gateway_requestlog"  # the gateway's table from before the request log had its own app
        indexes = [
            models.Index(fields=["org", "-created"]),
            models.Index(fields=["api_key", "-created"]),
            models.Index(fields=["host_id", "-created"]),
        ]
        constraints = [models.UniqueConstraint(fields=["request_id"], name="requestlog_request_id_unique")]
