"""A real Celery worker (subprocess, Redis broker, the test's PostgreSQL database) runs the live-board probes
against the local fake upstream; the figures reach this process's home board, /status and /v1/catalog through the
database and Redis."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from catalog import api, health
from catalog.models import ProbeSample, Provider
from gateway import tasks
from qlaud import stats
from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.tests.test_celery_worker import celery_worker

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),  # every app: the pages need qlaud's template tags
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis for the Celery broker: set REDIS_URL"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must share the test database: set DATABASE_URL=postgres://...",
    ),
]

PROBE_ENV = {"PROBE_INTERVAL_SECONDS": "300", "PROBE_DAILY_BUDGET_MICROS": "1000000"}


def test_a_real_worker_probes_the_configured_providers_and_the_house_pays(
    catalog: Any, fake: Any, tenant: Any, client: Any
) -> None:
    provider = catalog.provider("deepseek")
    host = catalog.model("m-deepseek", (provider, "fake-text")).hosts.get()
    Provider.objects.filter(pk=provider.pk).update(probe_host=host)
    before = tenant.balance

    with celery_worker(**PROBE_ENV) as queue:
        result = tasks.run_probes.apply_async(queue=queue).get(timeout=90)

    assert result["probed"] == 1 and result["state"] == "on"
    sample = ProbeSample.objects.get()
    assert sample.ok is True and sample.ttft_ms and sample.tokens_per_s and sample.cost > 0
    house = Wallet.objects.get(org__slug="qlaud-house")
    assert house.balance == -sample.cost
    assert LedgerEntry.objects.get(kind=LedgerEntry.Kind.PROBE).wallet_id == house.pk
    assert tenant.balance == before
    live = health.host_stats_sync([host.id])[host.id]  # written by the worker, read here through Redis
    assert live.probe_samples == 1 and live.probe_p50_ttft_ms is not None
    ledger.assert_ledger_invariant()

    cache.delete(stats.CACHE_KEY)  # the board's figures are shared for 5 s (CACHE_SECONDS): skip the wait
    board = client.get("/partials/ttft-board/").content.decode()
    assert "Deepseek" in board and "No traffic measured" not in board
    assert "Deepseek" in client.get("/status").content.decode()
    api._bytes_cache.clear()
    body = client.get("/v1/catalog?include_latency=true").json()
    (served,) = [h for m in body["data"] for h in m["hosts"] if h["id"] == host.id]
    assert served["latency"]["probes"]["samples_30m"] == 1 and served["latency"]["samples_30m"] == 0
