"""Leases: a worker reserves a wallet's money in bulk and spends it per request in memory (wallet/leases.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.utils import timezone

from wallet import leases, ledger, reconcile
from wallet.models import Hold, LedgerEntry, Wallet
from wallet.money import format_usd

pytestmark = pytest.mark.django_db(transaction=True)
DOLLAR = 1_000_000


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    ledger.close_pool_connections()
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _quick_flushes(settings):
    settings.WALLET_FLUSH_SECONDS = 0.01


async def _funded(amount: int, slug: str = "lease-org"):
    from accounts.models import Org

    org = await Org.objects.acreate(name="Lease", slug=slug)
    await sync_to_async(ledger.credit_topup)(org_id=org.pk, amount=amount, reference="cs_l", idempotency_key=slug)
    return org


async def _wallet(org) -> Wallet:
    return await Wallet.objects.aget(org=org)


async def _reserve(org, amount: int, request_id: str) -> leases.Ticket:
    return await leases.reserve(org_id=org.pk, key_id=None, amount=amount, request_id=request_id)


async def test_the_first_request_takes_a_lease_and_the_next_ones_reserve_without_the_database(monkeypatch):
    org = await _funded(100 * DOLLAR)
    first = await _reserve(org, 10_000, "req_1")
    lease = await Hold.objects.aget(lease=True)
    assert lease.amount == 5 * DOLLAR  # WALLET_LEASE_MAX_MICROS: less than a quarter of $100
    assert (await _wallet(org)).held == 5 * DOLLAR

    def no_database(*args, **kwargs):
        raise AssertionError("the database was asked")

    monkeypatch.setattr(ledger, "lease_grow", no_database)
    monkeypatch.setattr(ledger, "_wallet_id", no_database)
    second = await _reserve(org, 10_000, "req_2")
    assert second.lease is first.lease and first.lease.free == 5 * DOLLAR - 20_000


async def test_settled_requests_are_written_once_each_in_one_flush_and_the_lease_shrinks():
    org = await _funded(100 * DOLLAR)
    tickets = [await _reserve(org, 10_000, f"req_{i}") for i in range(3)]
    for i, ticket in enumerate(tickets):
        leases.settle(ticket, charge=1_000 * (i + 1), upstream_cost=900 * (i + 1), receipt={"model": "m"})
    leases.settle(tickets[0], charge=99_999, upstream_cost=0, receipt={})  # a second settle is a no-op
    await leases.flush()
    entries = [e async for e in LedgerEntry.objects.filter(kind="usage").order_by("id")]
    assert [(e.reference, e.amount) for e in entries] == [("req_0", -1_000), ("req_1", -2_000), ("req_2", -3_000)]
    assert entries[-1].balance_after == 100 * DOLLAR - 6_000 and entries[0].receipt["charge"] == 1_000
    wallet = await _wallet(org)
    assert (wallet.balance, wallet.held) == (100 * DOLLAR - 6_000, 5 * DOLLAR - 6_000)
    assert (await Hold.objects.aget(lease=True)).amount == 5 * DOLLAR - 6_000
    await sync_to_async(ledger.assert_ledger_invariant)()


async def _write_on_lease(ticket: leases.Ticket, spends: list[ledger.Spend]) -> None:
    """One lease flush of `spends`, as the flusher would write it."""
    await sync_to_async(ledger.lease_flush)(ticket.lease.wallet_id, ticket.lease.hold_id, spends, {})


async def test_a_spend_is_charged_once_even_if_it_is_flushed_twice():
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_twice")
    spend = ledger.Spend("req_twice", None, 4_000, 3_700, {})
    await _write_on_lease(ticket, [spend])
    await _write_on_lease(ticket, [spend])
    assert await LedgerEntry.objects.filter(kind="usage").acount() == 1
    assert (await _wallet(org)).balance == 10 * DOLLAR - 4_000


async def test_a_batch_mixing_a_charged_request_with_new_ones_charges_only_the_new_ones():
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_old")
    old = ledger.Spend("req_old", None, 4_000, 3_700, {})
    await _write_on_lease(ticket, [old])
    new = [ledger.Spend(f"req_new_{i}", None, 1_000 + i, 900, {"model": "m"}) for i in range(3)]
    await _write_on_lease(ticket, [new[0], old, new[1], new[2], new[1]])
    entries = [e async for e in LedgerEntry.objects.filter(kind="usage").order_by("id")]
    assert [e.reference for e in entries] == ["req_old", "req_new_0", "req_new_1", "req_new_2"]
    assert [e.amount for e in entries] == [-4_000, -1_000, -1_001, -1_002]
    balance = 10 * DOLLAR - 4_000 - 3_003
    assert entries[-1].balance_after == balance and (await _wallet(org)).balance == balance
    assert entries[1].receipt == {"model": "m", "upstream_cost": 900, "charge": 1_000}


async def test_a_lease_takes_at_most_a_quarter_of_a_small_balance_but_never_less_than_the_request_needs():
    org = await _funded(DOLLAR)
    await _reserve(org, 1_000, "req_small")
    assert (await Hold.objects.aget(lease=True)).amount == DOLLAR // 4
    await _reserve(org, 600_000, "req_big")  # more than the lease has left: it grows by what is missing
    assert (await _wallet(org)).held == 601_000
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await _reserve(org, 400_000, "req_too_much")
    assert refused.value.kind == "balance" and "is available" in refused.value.message


async def test_a_released_request_gives_its_reservation_back_to_the_lease_and_costs_nothing():
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 300_000, "req_failed")
    free = ticket.lease.free
    leases.release(ticket)
    assert ticket.lease.free == free + 300_000
    await leases.flush()
    assert await LedgerEntry.objects.filter(kind="usage").acount() == 0


async def test_an_idle_lease_goes_back_to_the_wallet(settings):
    settings.WALLET_LEASE_IDLE_SECONDS = 0.05
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_idle")
    leases.settle(ticket, charge=2_500, upstream_cost=2_300, receipt={})
    for _ in range(100):
        await asyncio.sleep(0.02)
        if (await Hold.objects.aget(lease=True)).status == Hold.Status.RELEASED:
            break
    wallet = await _wallet(org)
    assert (wallet.balance, wallet.held) == (10 * DOLLAR - 2_500, 0)
    assert ticket.lease.hold_id is None
    await _reserve(org, 10_000, "req_after")  # the next request takes a fresh lease
    assert await Hold.objects.filter(lease=True, status=Hold.Status.OPEN).acount() == 1


async def test_the_lease_of_a_worker_that_died_mid_stream_is_charged_from_its_checkpoints(request_log_factory):
    org = await _funded(10 * DOLLAR)
    streaming = await _reserve(org, 200_000, "req_streaming")
    logged = await _reserve(org, 200_000, "req_logged")
    leases.checkpoint(streaming, charge=4_280, upstream_cost=4_000, receipt={"usage": {"output": 160}})
    leases.checkpoint(logged, charge=1_000, upstream_cost=900, receipt={})
    await leases.flush()
    await sync_to_async(request_log_factory)(org, "req_logged", cost=11_235, upstream_cost=10_500)
    leases.reset()  # the worker dies: nothing renews its lease any more
    hold = await Hold.objects.aget(lease=True)
    assert await sync_to_async(reconcile.reconcile_holds)() == {"settled": 0, "released": 0, "failed": 0}
    later = hold.expires + timedelta(seconds=1)
    counts = await sync_to_async(reconcile.reconcile_holds)(later)
    assert counts == {"settled": 2, "released": 1, "failed": 0}
    charged = dict([(e.reference, e.amount) async for e in LedgerEntry.objects.filter(kind="usage")])
    assert charged == {"req_streaming": -4_280, "req_logged": -11_235}
    wallet = await _wallet(org)
    assert (wallet.balance, wallet.held) == (10 * DOLLAR - 4_280 - 11_235, 0)
    assert await sync_to_async(reconcile.reconcile_holds)(later) == {"settled": 0, "released": 0, "failed": 0}


async def test_a_live_worker_keeps_its_lease_and_still_charges_what_it_spent_after_the_reconciler_closed_it():
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_slow")
    hold = await Hold.objects.aget(lease=True)
    await sync_to_async(reconcile.reconcile_holds)(hold.expires + timedelta(seconds=1))  # thought dead
    assert (await _wallet(org)).held == 0
    leases.settle(ticket, charge=7_000, upstream_cost=6_500, receipt={})
    await leases.flush()
    assert (await _wallet(org)).balance == 10 * DOLLAR - 7_000
    assert ticket.lease.hold_id is None  # the next request takes a new lease
    await sync_to_async(ledger.assert_ledger_invariant)()


async def test_a_flush_that_fails_keeps_its_spends_for_the_next_one(monkeypatch, settings):
    settings.WALLET_FLUSH_SECONDS = 60  # only this test's flushes write: the background one would retry in between
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_retry")
    leases.settle(ticket, charge=5_000, upstream_cost=4_600, receipt={})
    real, calls = ledger.lease_flush, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database away")
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "lease_flush", flaky)
    await leases.flush()
    assert await LedgerEntry.objects.filter(kind="usage").acount() == 0
    await leases.flush()
    assert await LedgerEntry.objects.filter(kind="usage").acount() == 1


async def test_a_flush_waits_for_the_background_flush_that_is_writing_the_spends(monkeypatch):
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 10_000, "req_racing")
    real, started = ledger.lease_flush, asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(*args, **kwargs):
        loop.call_soon_threadsafe(started.set)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "lease_flush", slow)
    leases.settle(ticket, charge=5_000, upstream_cost=4_600, receipt={})
    await asyncio.wait_for(started.wait(), 5)  # the background flusher has taken the spend
    await leases.flush()
    assert await LedgerEntry.objects.filter(kind="usage").acount() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer; needs PostgreSQL")
async def test_two_workers_leasing_one_wallet_never_reserve_more_than_it_holds():
    org = await _funded(DOLLAR)

    def worker(prefix: str) -> int:
        async def spend() -> int:
            served = 0
            for i in range(40):
                try:
                    ticket = await _reserve(org, 30_000, f"{prefix}{i}")
                except ledger.InsufficientFunds:
                    continue
                leases.settle(ticket, charge=30_000, upstream_cost=28_000, receipt={})
                served += 1
            await leases.flush()
            return served

        return asyncio.run(spend())

    served = await asyncio.gather(*(asyncio.to_thread(worker, p) for p in ("a", "b")))
    wallet = await _wallet(org)
    assert sum(served) * 30_000 == DOLLAR - wallet.balance <= DOLLAR
    assert wallet.balance >= 0 and sum(served) >= 30  # a quarter-share lease each: little is stranded
    await sync_to_async(ledger.assert_ledger_invariant)()


@pytest.fixture
def request_log_factory():
    def make(org, request_id: str, *, cost: int, upstream_cost: int):
        from requestlog.models import RequestLog

        return RequestLog.objects.create(
            request_id=request_id,
            org=org,
            surface="chat",
            model="m",
            cost=cost,
            upstream_cost=upstream_cost,
            created=timezone.now(),
        )

    return make


async def test_a_stopping_worker_writes_what_it_spent_and_gives_its_leases_back():
    from gateway.asgi import lifespan

    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 50_000, "req_last")
    leases.settle(ticket, charge=12_000, upstream_cost=11_200, receipt={})
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    await lifespan({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert (await LedgerEntry.objects.aget(kind="usage")).amount == -12_000
    wallet = await _wallet(org)
    assert (wallet.balance, wallet.held) == (10 * DOLLAR - 12_000, 0)
    assert (await Hold.objects.aget(lease=True)).status == Hold.Status.RELEASED


async def test_a_request_that_ended_in_the_last_flush_window_before_a_kill_is_charged_once_from_its_log_row(
    request_log_factory,
):
    org = await _funded(10 * DOLLAR)
    done = await _reserve(org, 200_000, "req_done")
    await leases.flush()  # the lease is written; the request is in flight
    await sync_to_async(request_log_factory)(org, "req_done", cost=5_000, upstream_cost=4_600)
    leases.settle(done, charge=5_000, upstream_cost=4_600, receipt={})  # ...and ends: its spend waits in memory
    leases.reset()  # kill -9 before the next flush
    hold = await Hold.objects.aget(lease=True)
    later = hold.expires + timedelta(seconds=1)

    await sync_to_async(reconcile.reconcile_holds)(later)
    await sync_to_async(reconcile.reconcile_holds)(later)

    entries = [(e.reference, e.amount, e.receipt.get("reconciled")) async for e in LedgerEntry.objects.all()]
    assert [e for e in entries if e[0] == "req_done"] == [("req_done", -5_000, True)]
    wallet = await _wallet(org)
    assert (wallet.balance, wallet.held) == (10 * DOLLAR - 5_000, 0)
    await sync_to_async(ledger.assert_ledger_invariant)()


async def test_a_watched_stream_is_written_on_its_lease_at_every_flush_where_it_delivered_more(settings):
    settings.WALLET_FLUSH_SECONDS = 60  # only this test's flushes
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 200_000, "req_stream")
    delivered = {"charge": 100, "upstream_cost": 90, "receipt": {"usage": {"output": 1}}}
    leases.watch(ticket, lambda: dict(delivered))
    await leases.flush()
    hold = await Hold.objects.aget(lease=True)
    assert hold.metered_charge == 100
    delivered.update(charge=1_400, upstream_cost=1_300, receipt={"usage": {"output": 14}})
    await leases.flush()
    await hold.arefresh_from_db()
    assert hold.metered_charge == 1_400
    assert hold.metered_receipt["requests"]["req_stream"]["receipt"] == {"usage": {"output": 14}}
    leases.settle(ticket, charge=1_500, upstream_cost=1_400, receipt={})
    await leases.flush()
    await hold.arefresh_from_db()
    assert (hold.metered_charge, hold.metered_receipt["requests"]) == (0, {})


async def test_a_lease_whose_streams_delivered_nothing_new_is_not_written_again(settings, monkeypatch):
    settings.WALLET_FLUSH_SECONDS = 60  # only this test's flushes
    org = await _funded(10 * DOLLAR)
    ticket = await _reserve(org, 200_000, "req_quiet")
    point = {"charge": 100, "upstream_cost": 90, "receipt": {"usage": {"output": 1}}}
    leases.watch(ticket, lambda: point)  # a meter hands back the same point while its stream is silent
    await leases.flush()
    writes = []
    real = ledger.lease_flush
    monkeypatch.setattr(ledger, "lease_flush", lambda *a, **k: writes.append(a[3]) or real(*a, **k))

    await leases._flush_one(ticket.lease)  # the background flusher's step
    assert writes == []
    point = {**point, "charge": 200}
    await leases._flush_one(ticket.lease)
    assert [w["req_quiet"]["charge"] for w in writes] == [200]
    hold = await Hold.objects.aget(lease=True)
    assert hold.metered_charge == 200 and hold.metered_receipt["requests"]["req_quiet"]["charge"] == 200


async def test_a_watched_stream_on_a_per_request_hold_is_written_in_one_update_per_flush(settings):
    settings.WALLET_FLUSH_SECONDS = 60  # only this test's flushes
    org = await _funded(10 * DOLLAR)
    hold_id = await ledger.aplace_hold(org_id=org.pk, key_id=None, amount=200_000, request_id="req_limited")
    delivered = {"charge": 900, "upstream_cost": 800, "receipt": {"usage": {"output": 9}}}
    leases.watch_hold(hold_id, lambda: dict(delivered))
    await leases.flush()
    hold = await Hold.objects.aget(pk=hold_id)
    assert (hold.metered_charge, hold.metered_receipt) == (900, {"usage": {"output": 9}})
    delivered.update(charge=1_400)
    await leases.flush()
    await hold.arefresh_from_db()
    assert hold.metered_charge == 1_400
    leases.unwatch_hold(hold_id)
    await ledger.arelease(hold_id)


async def test_the_balance_customers_see_shows_requests_in_flight_on_hold_never_a_workers_unused_lease():
    from wallet.api import balance_and_holds

    org = await _funded(5 * DOLLAR)
    ticket = await _reserve(org, 129, "req_small")  # the lease takes a quarter of the wallet
    await leases.flush()
    assert (await _wallet(org)).held == 5 * DOLLAR // 4
    assert await sync_to_async(balance_and_holds)(org.pk) == (5 * DOLLAR, 129)
    leases.settle(ticket, charge=129, upstream_cost=120, receipt={})
    await leases.flush()
    assert await sync_to_async(balance_and_holds)(org.pk) == (5 * DOLLAR - 129, 0)
    wallet = await _wallet(org)
    assert await sync_to_async(lambda: wallet.spendable)() == 5 * DOLLAR - 129


async def test_a_refusal_quotes_the_requests_own_hold_not_the_leases_shortfall():
    org = await _funded(50_000)
    small = await _reserve(org, 1_000, "req_small")
    leases.settle(small, charge=1_000, upstream_cost=900, receipt={})
    await leases.flush()
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await _reserve(org, 60_000, "req_big")
    assert f"may cost up to {format_usd(60_000)} but {format_usd(49_000)} is available" in refused.value.message


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer; needs PostgreSQL")
async def test_several_workers_leasing_a_small_wallet_serve_every_request_its_settled_balance_covers():
    """Four workers (one event loop each, as uvicorn workers): no request is refused while the
    settled balance less what is really in flight covers it, however the leases were spread."""
    org = await _funded(50_000)  # $0.05
    hold, charge = 4_000, 2_500

    def worker(prefix: str) -> tuple[int, int]:
        async def spend() -> tuple[int, int]:
            served = refused = 0
            for i in range(12):
                try:
                    ticket = await _reserve(org, hold, f"{prefix}{i}")
                except ledger.InsufficientFunds:
                    refused += 1
                    await asyncio.sleep(0.01)
                    continue
                await asyncio.sleep(0.005)
                leases.settle(ticket, charge=charge, upstream_cost=2_300, receipt={})
                served += 1
            await leases.close()
            return served, refused

        try:
            return asyncio.run(spend())
        finally:
            connections.close_all()

    results = await asyncio.gather(*(asyncio.to_thread(worker, p) for p in ("a", "b", "c", "d")))
    served = sum(s for s, _ in results)
    wallet = await _wallet(org)
    assert wallet.balance == 50_000 - served * charge
    # Every refusal came when the settled balance could no longer cover a hold of 4,000 (at most
    # three other requests in flight, 4,000 each, besides the refused one).
    assert wallet.balance < hold * 4
    assert served >= (50_000 - hold * 4) // charge
    await sync_to_async(ledger.assert_ledger_invariant)()
