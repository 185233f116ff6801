"""A real Celery worker (subprocess, Redis broker, the test's PostgreSQL database) runs the live-board probes
against the local fake upstream; the figures reach this process through the database and Redis."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection

from catalog import health
from catalog.models import ProbeSample, Provider
from gateway import tasks
from gateway.tests.conftest import E2E
from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.tests.test_celery_worker import celery_worker

pytestmark = [
    *E2E,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis for the Celery broker: set REDIS_URL"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must share the test database: set DATABASE_URL=postgres://...",
    ),
]

PROBE_ENV = {"PROBE_INTERVAL_SECONDS": "300", "PROBE_DAILY_BUDGET_MICROS": "1000000"}


def test_a_real_worker_probes_the_configured_providers_and_the_house_pays(catalog: Any, fake: Any, tenant: Any) -> None:
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
