"""The async wrappers the gateway calls, on a committed database (they run in the ledger's own threads)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from wallet import ledger
from wallet.models import Hold, Wallet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    """Threads keep their connections open: close them so the test database can be dropped."""
    yield
    ledger.close_pool_connections()
    await sync_to_async(connections.close_all)()


async def _funded_org(amount: int):
    from accounts.models import Org

    org = await Org.objects.acreate(name="Async", slug="async-org")
    await sync_to_async(ledger.credit_topup)(org_id=org.pk, amount=amount, reference="cs_a", idempotency_key="cs_a")
    return org


async def test_the_async_wrappers_hold_settle_and_release():
    org = await _funded_org(1_000_000)
    first = await ledger.aplace_hold(org_id=org.pk, key_id=None, amount=400_000, request_id="req_async_1")
    second = await ledger.aplace_hold(org_id=org.pk, key_id=None, amount=500_000, request_id="req_async_2")
    wallet = await Wallet.objects.aget(org=org)
    assert wallet.held == 900_000

    await ledger.asettle(first, charge=123_456, upstream_cost=115_380, receipt={"model": "x"})
    await ledger.arelease(second)
    wallet = await Wallet.objects.aget(org=org)
    assert (wallet.balance, wallet.held) == (1_000_000 - 123_456, 0)
    assert await Hold.objects.filter(status="settled").acount() == 1


async def test_the_async_hold_refuses_with_insufficient_funds():
    org = await _funded_org(1_000)
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await ledger.aplace_hold(org_id=org.pk, key_id=None, amount=1_001, request_id="req_async_3")
    assert refused.value.kind == "balance"
