"""What one async ledger call costs the gateway (wall time, one short transaction each).

Run with `-s` to see the numbers; the assertion only guards against a gross regression.
"""

from __future__ import annotations

import statistics
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from wallet import ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROUNDS = 60


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    ledger.close_pool_connections()
    await sync_to_async(connections.close_all)()


async def _timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = await call
    return (time.perf_counter() - start) * 1000, result


async def test_each_async_ledger_call_is_one_short_transaction():
    from accounts.models import Org

    org = await Org.objects.acreate(name="Bench", slug="bench-org")
    await sync_to_async(ledger.credit_topup)(org_id=org.pk, amount=10**9, reference="cs_b", idempotency_key="cs_b")
    holds, settles, releases = [], [], []
    for i in range(ROUNDS):
        ms, hold = await _timed(ledger.aplace_hold(org_id=org.pk, key_id=None, amount=5_000, request_id=f"b{i}"))
        holds.append(ms)
        if i % 2:
            settles.append((await _timed(ledger.asettle(hold, charge=4_000, upstream_cost=3_700, receipt={})))[0])
        else:
            releases.append((await _timed(ledger.arelease(hold)))[0])
    medians = {
        name: statistics.median(v[5:]) for name, v in (("hold", holds), ("settle", settles), ("release", releases))
    }
    print(f"\nledger call medians on {connection.vendor}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items()))
    assert all(ms < 50 for ms in medians.values()), medians
