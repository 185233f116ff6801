"""Reconciliation jobs (plain functions; wallet/tasks.py wraps them for Celery).

- reconcile_holds: holds left open (a crashed worker, a lost settle) are settled from the request's
  recorded cost if the gateway logged it, else released; leases a dead worker stopped renewing are
  settled the same way; and every RequestLog row with a cost that has no usage entry once a live
  worker would surely have written it (a worker killed between a request's end and its lease's
  next flush) is charged from the row. The ledger's idempotency keeps each request charged at
  most once, whoever gets there first.
- verify_ledgers: recompute balances from entries; record drift, never fix it silently.
- sync_stripe: credit paid Checkout Sessions a lost webhook never delivered.
- rollup_usage: hourly and daily aggregates of RequestLog, rebuilt idempotently for a window.

Key spend-limit periods are computed from the clock (accounts/periods.py), so no reset job exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from requestlog.models import RequestLog
from wallet import ledger, payments
from wallet.models import Hold, LedgerDrift, LedgerEntry, UsageRollup

log = logging.getLogger(__name__)


def reconcile_holds(now: datetime | None = None) -> dict[str, int]:
    counts = _reconcile_leases(now or timezone.now())
    counts["settled"] += _charge_unbilled_logs(now or timezone.now())
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.HOLD_TIMEOUT_SECONDS)
    stale = list(
        Hold.objects.filter(status=Hold.Status.OPEN, lease=False, created__lt=cutoff).values_list(
            "pk", "request_id", "metered_charge", "metered_upstream_cost", "metered_receipt"
        )
    )
    logs = {
        row["request_id"]: row
        for row in RequestLog.objects.filter(request_id__in=[r[1] for r in stale]).values(
            "request_id", "cost", "upstream_cost", "model", "price_version_id", "rate"
        )
    }
    for hold_id, request_id, metered, metered_upstream, metered_receipt in stale:
        try:
            if request_id in logs:
                row = logs[request_id]
                receipt = {"reconciled": True, **_billed_at(row)}
                ledger.settle(hold_id, charge=row["cost"], upstream_cost=row["upstream_cost"], receipt=receipt)
                counts["settled"] += 1
            elif metered > 0:
                # The worker died mid-stream: charge what the last checkpoint saw delivered.
                receipt = {**metered_receipt, "reconciled": True, "from": "checkpoint"}
                ledger.settle(hold_id, charge=metered, upstream_cost=metered_upstream, receipt=receipt)
                counts["settled"] += 1
            else:
                ledger.release(hold_id)
                counts["released"] += 1
        except Exception:  # one bad hold must not stop the others
            log.exception("could not reconcile hold %s (%s)", hold_id, request_id)
            counts["failed"] += 1
    if stale:
        log.info("reconciled %d stale holds: %s", len(stale), counts)
    return counts


def _reconcile_leases(now: datetime) -> dict[str, int]:
    """Leases whose worker stopped renewing them (it died): charge each of their requests in flight
    from its RequestLog row, else from its last checkpoint, and release the rest."""
    counts = {"settled": 0, "released": 0, "failed": 0}
    expired = Hold.objects.filter(status=Hold.Status.OPEN, lease=True, expires__lt=now)
    for hold in expired.only("pk", "wallet_id", "metered_receipt"):
        metered = (hold.metered_receipt or {}).get("requests", {})
        logs = {
            row["request_id"]: row
            for row in RequestLog.objects.filter(request_id__in=list(metered)).values(
                "request_id", "cost", "upstream_cost", "api_key_id", "model", "price_version_id", "rate"
            )
        }
        spends = []
        for request_id, point in metered.items():
            row = logs.get(request_id)
            if row is not None:
                receipt = {"reconciled": True, **_billed_at(row)}
                spends.append(ledger.Spend(request_id, row["api_key_id"], row["cost"], row["upstream_cost"], receipt))
            else:
                receipt = {**point["receipt"], "reconciled": True, "from": "checkpoint"}
                spends.append(
                    ledger.Spend(request_id, point.get("key_id"), point["charge"], point["upstream_cost"], receipt)
                )
        try:
            ledger.lease_flush(hold.wallet_id, hold.pk, spends, {}, release=True, expired_before=now)
        except Exception:
            log.exception("could not reconcile lease %s", hold.pk)
            counts["failed"] += 1
            continue
        counts["settled"] += len(spends)
        counts["released"] += 1
    return counts


def _charge_unbilled_logs(now: datetime) -> int:
    """Charge every RequestLog row with a cost and neither a usage entry nor a hold of its own
    (those are settled above), logged at least WALLET_LEASE_TTL_SECONDS ago: by then a live worker
    has written its spend, or lost its lease. Looks back RECONCILE_LOOKBACK_SECONDS."""
    grace = now - timedelta(seconds=settings.WALLET_LEASE_TTL_SECONDS)
    since = grace - timedelta(seconds=settings.RECONCILE_LOOKBACK_SECONDS)
    charged = LedgerEntry.objects.filter(reference=OuterRef("request_id"), kind=LedgerEntry.Kind.USAGE)
    held = Hold.objects.filter(request_id=OuterRef("request_id"))
    rows = (
        RequestLog.objects.filter(created__gte=since, created__lt=grace, cost__gt=0)
        .filter(~Exists(charged), ~Exists(held))
        .values("org_id", "request_id", "cost", "upstream_cost", "api_key_id", "model", "price_version_id", "rate")
    )
    by_org: dict[int, list[ledger.Spend]] = {}
    for row in rows:
        receipt = {
            "reconciled": True,
            "from": "request_log",
            **_billed_at(row),
        }
        spend = ledger.Spend(row["request_id"], row["api_key_id"], row["cost"], row["upstream_cost"], receipt)
        by_org.setdefault(row["org_id"], []).append(spend)
    done = 0
    for org_id, spends in by_org.items():
        try:
            ledger.lease_flush(ledger._wallet_id(org_id), None, spends, {})
        except Exception:
            log.exception("could not charge %d logged requests of org %s", len(spends), org_id)
            continue
        log.warning("charged %d logged requests of org %s that no worker had written", len(spends), org_id)
        done += len(spends)
    return done


def verify_ledgers() -> list[dict[str, int]]:
    drifts = ledger.ledger_drift()
    for d in drifts:
        log.error("ledger drift on wallet %s: %s", d["wallet_id"], d)
        already = LedgerDrift.objects.filter(
            wallet_id=d["wallet_id"],
            resolved=False,
            stored_balance=d["balance"],
            entries_sum=d["entries"],
            stored_held=d["held"],
            open_holds_sum=d["holds"],
        ).exists()
        if not already:
            LedgerDrift.objects.create(
                wallet_id=d["wallet_id"],
                stored_balance=d["balance"],
                entries_sum=d["entries"],
                stored_held=d["held"],
                open_holds_sum=d["holds"],
            )
    return drifts


def sync_stripe(hours: int = 72) -> int:
    """Credit every paid session of the last `hours` that has no ledger entry yet. Returns how many."""
    since = int((timezone.now() - timedelta(hours=hours)).timestamp())
    sessions = stripe.checkout.Session.list(
        api_key=payments.api_key(), status="complete", created={"gte": since}, limit=100
    )
    credited = 0
    for session in sessions.auto_paging_iter():
        # StripeObject.get exists at run time: dj-stripe patches dict methods back on (djstripe/_stripe_compat.py).
        if session.get("mode") != "payment" or session.get("payment_status") != "paid":  # type: ignore[attr-defined]
            continue
        if LedgerEntry.objects.filter(idempotency_key=session["id"]).exists():
            continue
        if payments.credit_session_id(session["id"]):
            log.warning("sync_stripe credited checkout session %s that no webhook delivered", session["id"])
            credited += 1
    return credited


def rollup_usage(now: datetime | None = None, hours: int = 48) -> int:
    """Rebuild hourly rollups for the last `hours` and daily rollups for the days they touch."""
    now = now or timezone.now()
    hour_start = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    day_start = hour_start.replace(hour=0)
    with transaction.atomic():
        written = _rebuild(UsageRollup.Granularity.HOUR, TruncHour("created"), hour_start)
        written += _rebuild(UsageRollup.Granularity.DAY, TruncDay("created"), day_start)
    return written


def _rebuild(granularity: str, trunc, start: datetime) -> int:
    UsageRollup.objects.filter(granularity=granularity, period_start__gte=start).delete()
    rows = (
        RequestLog.objects.filter(created__gte=start)
        .annotate(period=trunc)
        .values("org_id", "api_key_id", "model", "period")
        .annotate(
            requests=Count("id"),
            input_tokens=Sum("input_tokens"),
            cache_read_tokens=Sum("cache_read_tokens"),
            cache_write_tokens=Sum("cache_write_tokens"),
            output_tokens=Sum("output_tokens"),
            reasoning_tokens=Sum("reasoning_tokens"),
            upstream_cost=Sum("upstream_cost"),
            cost=Sum("cost"),
        )
        .order_by()
    )
    # values() rows are plain dicts at run time; django-stubs types them as TypedDicts, which forbid pop().
    rollups = [UsageRollup(granularity=granularity, period_start=row.pop("period"), **row) for row in rows.iterator()]  # type: ignore[misc]
    UsageRollup.objects.bulk_create(rollups, batch_size=1000)
    return len(rollups)


def _billed_at(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a reconciled receipt says of its price: the model, the price version and the rate that applied."""
    return {"model": row["model"], "price_version_id": row["price_version_id"], "rate": row["rate"] or None}
