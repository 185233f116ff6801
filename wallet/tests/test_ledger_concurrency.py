"""Many simultaneous requests against a small balance, each on its own database connection."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from wallet import ledger
from wallet.models import Hold, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 200
# PostgreSQL here allows 100 connections shared by every developer: 40 threads (40 connections)
# run the 200 requests, all released together by a barrier.
THREADS = 40
HOLD = 1_000  # $0.001
OVERSHOOT = 500
BALANCE = 50_000  # $0.05


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises every writer (BEGIN IMMEDIATE) so it cannot race; run with DATABASE_URL=postgres://...",
)
def test_simultaneous_requests_never_spend_more_than_the_balance_plus_one_overshoot(org_a):
    ledger.credit_topup(org_id=org_a.pk, amount=BALANCE, reference="cs_c", idempotency_key="cs_c")
    rng = random.Random(7)
    # Exactly one request overshoots its hold (upstream ignored max_tokens); the rest cost less.
    charges = [HOLD + OVERSHOOT if i == 0 else rng.randint(100, HOLD) for i in range(REQUESTS)]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def one(i: int) -> str:
        try:
            hold = ledger.place_hold(org_id=org_a.pk, key_id=None, amount=HOLD, request_id=f"req_c{i}")
        except ledger.InsufficientFunds:
            return "refused"
        ledger.settle(hold, charge=charges[i], upstream_cost=charges[i] * 100 // 107, receipt={})
        return "charged"

    def worker(indexes: list[int]) -> None:
        try:
            barrier.wait()
            outcomes.extend(one(i) for i in indexes)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, [list(range(t, REQUESTS, THREADS)) for t in range(THREADS)]))

    wallet = Wallet.objects.get(org=org_a)
    spent = -sum(e.amount for e in LedgerEntry.objects.filter(wallet=wallet, kind="usage"))
    charged = [charges[int(h.request_id[5:])] for h in Hold.objects.filter(status="settled")]
    assert len(outcomes) == REQUESTS and outcomes.count("charged") == len(charged) > 40
    assert spent == sum(charged)
    assert spent <= BALANCE + OVERSHOOT
    assert wallet.balance == BALANCE - spent >= -OVERSHOOT
    assert wallet.held == 0
    ledger.assert_ledger_invariant()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer; needs PostgreSQL")
def test_the_webhook_the_success_page_and_the_sync_racing_on_one_session_credit_once(org_a):
    threads = 12
    barrier = threading.Barrier(threads)

    def credit(_: int) -> bool:
        try:
            barrier.wait()
            return ledger.credit_topup(
                org_id=org_a.pk, amount=20_000_000, reference="cs_race", idempotency_key="cs_race"
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(credit, range(threads)))
    assert results.count(True) == 1
    assert Wallet.objects.get(org=org_a).balance == 20_000_000
    ledger.assert_ledger_invariant()
