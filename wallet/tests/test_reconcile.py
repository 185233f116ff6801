"""Reconciliation jobs, called directly as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import time_machine
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from wallet import ledger, reconcile
from wallet.models import Hold, LedgerDrift, LedgerEntry, UsageRollup, Wallet

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def test_stale_holds_are_settled_from_the_request_log_or_released(funded_a, request_log):
    with time_machine.travel(T0, tick=False):
        logged = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=50_000, request_id="req_logged")
        lost = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=70_000, request_id="req_lost")
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        fresh = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=9_000, request_id="req_fresh")
        request_log(funded_a.org, None, "req_logged", upstream_cost=10_500, cost=11_235, rate="off-peak")
        assert reconcile.reconcile_holds() == {"settled": 1, "released": 1, "failed": 0}
        assert reconcile.reconcile_holds() == {"settled": 0, "released": 0, "failed": 0}
    statuses = dict(Hold.objects.values_list("pk", "status"))
    assert statuses == {logged: "settled", lost: "released", fresh: "open"}
    wallet = Wallet.objects.get(pk=funded_a.pk)
    assert (wallet.balance, wallet.held) == (10_000_000 - 11_235, 9_000)
    receipt = LedgerEntry.objects.get(kind="usage").receipt
    assert receipt["reconciled"] is True and receipt["rate"] == "off-peak"  # the rate the request log says applied


def test_a_hold_whose_worker_died_mid_stream_is_charged_from_its_last_checkpoint(funded_a):
    with time_machine.travel(T0, tick=False):
        hold = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=50_000, request_id="req_crashed")
        ledger.checkpoint(hold, charge=3_000, upstream_cost=2_800, receipt={"usage": {"output": 120}})
        ledger.checkpoint(hold, charge=4_280, upstream_cost=4_000, receipt={"usage": {"output": 160}})
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert reconcile.reconcile_holds() == {"settled": 1, "released": 0, "failed": 0}
    entry = LedgerEntry.objects.get(kind="usage")
    assert entry.amount == -4_280
    assert entry.receipt["from"] == "checkpoint" and entry.receipt["usage"] == {"output": 160}
    wallet = Wallet.objects.get(pk=funded_a.pk)
    assert (wallet.balance, wallet.held) == (10_000_000 - 4_280, 0)


def test_a_checkpoint_never_touches_a_hold_that_is_already_settled(funded_a):
    hold = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=50_000, request_id="req_done")
    ledger.settle(hold, charge=10_000, upstream_cost=9_346, receipt={})
    ledger.checkpoint(hold, charge=99_999, upstream_cost=99_999, receipt={})
    assert Hold.objects.get(pk=hold).metered_charge == 0


def test_the_gateway_settling_after_the_reconciler_charges_once(funded_a, request_log):
    with time_machine.travel(T0, tick=False):
        hold = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=50_000, request_id="req_1")
    request_log(funded_a.org, None, "req_1", upstream_cost=10_500, cost=11_235)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        reconcile.reconcile_holds()
    ledger.settle(hold, charge=11_235, upstream_cost=10_500, receipt={})  # the late gateway
    assert Wallet.objects.get(pk=funded_a.pk).balance == 10_000_000 - 11_235


def test_verify_ledgers_records_drift_once_and_never_fixes_it(funded_a, allow_ledger_drift, caplog):
    assert reconcile.verify_ledgers() == []
    Wallet.objects.filter(pk=funded_a.pk).update(balance=10_000_001)  # someone bypassed the ledger
    assert len(reconcile.verify_ledgers()) == 1
    reconcile.verify_ledgers()
    drift = LedgerDrift.objects.get()
    assert (drift.stored_balance, drift.entries_sum) == (10_000_001, 10_000_000)
    assert Wallet.objects.get(pk=funded_a.pk).balance == 10_000_001
    assert "ledger drift" in caplog.text


def test_sync_stripe_credits_a_paid_session_whose_webhook_was_lost(fake_stripe, org_a):
    wallet = Wallet.objects.get(org=org_a)
    metadata = {"org_id": str(org_a.pk), "wallet_id": str(wallet.pk)}
    items = [{"price_data": {"unit_amount": "10000"}}]
    paid = fake_stripe.complete_session(
        fake_stripe.create_session({"mode": "payment", "metadata": metadata, "line_items": items})["id"]
    )
    fake_stripe.create_session({"mode": "payment", "metadata": metadata, "line_items": items})  # abandoned
    assert reconcile.sync_stripe() == 1
    assert reconcile.sync_stripe() == 0
    assert Wallet.objects.get(org=org_a).balance == 100_000_000
    assert LedgerEntry.objects.get().idempotency_key == paid["id"]
    listed = fake_stripe.calls("GET", "/v1/checkout/sessions")
    assert listed[0].params["status"] == "complete" and "gte" in listed[0].params["created"]


def test_rollup_usage_aggregates_hours_and_days_idempotently(org_a, org_b, key_a, request_log):
    request_log(org_a, key_a, "r1", created=T0 + timedelta(minutes=5), cost=100, output_tokens=10)
    request_log(org_a, key_a, "r2", created=T0 + timedelta(minutes=55), cost=200, output_tokens=20)
    request_log(org_a, key_a, "r3", created=T0 + timedelta(hours=1, minutes=1), cost=400, output_tokens=40)
    request_log(org_b, None, "r4", created=T0 + timedelta(minutes=5), model="gpt-5", cost=800)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        first = reconcile.rollup_usage()
        assert reconcile.rollup_usage() == first == 3 + 2  # hourly: (A,10h), (A,11h), (B,10h); daily: A, B
    hours = UsageRollup.objects.filter(granularity="hour", org=org_a).order_by("period_start")
    assert [(r.requests, r.cost, r.output_tokens) for r in hours] == [(2, 300, 30), (1, 400, 40)]
    day = UsageRollup.objects.get(granularity="day", org=org_a)
    assert (day.period_start, day.requests, day.cost, day.api_key_id) == (T0.replace(hour=0), 3, 700, key_a.pk)
    assert UsageRollup.objects.get(granularity="day", org=org_b).model == "gpt-5"


def test_setup_schedules_creates_the_periodic_tasks_idempotently(db):
    call_command("setup_schedules", stdout=StringIO())
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert "updated: wallet: reconcile stale holds every 15 s" in out.getvalue()
    assert PeriodicTask.objects.count() == 6
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert tasks == {
        "accounts.tasks.land_key_changes",
        "catalog.tasks.sync_catalog",
        "wallet.tasks.reconcile_holds",
        "wallet.tasks.sync_stripe",
        "wallet.tasks.rollup_usage",
        "wallet.tasks.verify_ledgers",
    }


def test_a_dead_workers_lease_is_settled_within_a_minute_with_the_default_settings():
    from django.conf import settings

    assert settings.WALLET_LEASE_TTL_SECONDS + settings.RECONCILE_EVERY_SECONDS <= 60
