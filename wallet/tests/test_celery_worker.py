"""A real Celery worker (subprocess, Redis broker) runs reconcile_holds against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from wallet import ledger, tasks
from wallet.models import Hold, Wallet

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis for the Celery broker: set REDIS_URL"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must share the test database: set DATABASE_URL=postgres://...",
    ),
]


def _database_url() -> str:
    db = connection.settings_dict  # inside the test, NAME is pytest-django's test_<name> database
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(**extra_env: str) -> Iterator[str]:
    """A worker on a queue of its own, so no other developer's worker takes our task (and vice versa).
    `extra_env`: settings the worker process reads (the test process's own settings do not reach it)."""
    from qlaud.celery import app

    queue = f"wallet-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False  # this test sends through the real broker
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_SETTINGS_MODULE": "qlaud.settings",
        # The test's own cache namespace (conftest.own_cache_namespace), so what the worker caches is what it reads.
        "CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "qlaud"),
        **extra_env,
    }
    command = [sys.executable, "-m", "celery", "-A", "qlaud", "worker", "--pool=solo", "-Q", queue]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info"]
    proc = subprocess.Popen(
        command,
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield queue
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output[-4000:])  # shown by pytest only when the test fails


@pytest.fixture
def worker_queue() -> Iterator[str]:
    with celery_worker() as queue:
        yield queue


def test_a_real_worker_settles_a_stale_hold_from_the_request_log(org_a, worker_queue):
    from requestlog.models import RequestLog

    ledger.credit_topup(org_id=org_a.pk, amount=1_000_000, reference="cs_w", idempotency_key="cs_w")
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        stale = ledger.place_hold(org_id=org_a.pk, key_id=None, amount=50_000, request_id="req_worker")
    RequestLog.objects.create(
        org=org_a, request_id="req_worker", surface="chat", requested_model="m", upstream_cost=9_000, cost=9_630
    )
    result = tasks.reconcile_holds.apply_async(queue=worker_queue)
    assert result.get(timeout=90) == {"settled": 1, "released": 0, "failed": 0}
    assert Hold.objects.get(pk=stale).status == "settled"
    wallet = Wallet.objects.get(org=org_a)
    assert (wallet.balance, wallet.held) == (1_000_000 - 9_630, 0)
