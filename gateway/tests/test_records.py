"""The RequestLog writer (gateway/records.py): batched, one statement per batch, flushable on demand."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateway import records


def row(org: Any, request_id: str, **fields: Any) -> dict[str, Any]:
    return {"request_id": request_id, "org_id": org.pk, "surface": "chat", "requested_model": "m", **fields}


@pytest.fixture
def inserts(monkeypatch) -> list[int]:
    """The size of every batch handed to the database."""
    sizes: list[int] = []
    real = records.insert

    def spy(rows: list[dict[str, Any]]) -> None:
        sizes.append(len(rows))
        real(rows)

    monkeypatch.setattr(records, "insert", spy)
    return sizes


def test_a_batch_of_rows_is_written_in_one_statement(db, org_a, monkeypatch):
    from requestlog.models import RequestLog

    batch = [row(org_a, f"req_{i}", output_tokens=i, ttft_ms=1.5, stream=True) for i in range(3)]
    if connection.vendor == "postgresql":  # lib/bulk.py COPYs there, past Django's query log
        import psycopg

        statements: list[str] = []
        real = psycopg.Cursor.copy

        def counting(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(statement))
            return real(self, statement, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "copy", counting)
        records.insert(batch)
        assert len(statements) == 1 and statements[0].startswith('COPY "gateway_requestlog"')
    else:
        with CaptureQueriesContext(connection) as queries:
            records.insert(batch)
        assert len(queries) == 1 and queries[0]["sql"].startswith("3 times: INSERT")  # one executemany
    written = RequestLog.objects.order_by("request_id")
    assert [(r.request_id, r.output_tokens, r.ttft_ms, r.stream) for r in written] == [
        ("req_0", 0, 1.5, True),
        ("req_1", 1, 1.5, True),
        ("req_2", 2, 1.5, True),
    ]


def test_missing_fields_take_the_models_defaults_and_the_timestamp_round_trips(db, org_a):
    from requestlog.models import RequestLog

    when = datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
    records.insert([row(org_a, "req_defaults", created=when)])
    written = RequestLog.objects.get(request_id="req_defaults")
    assert written.created == when
    assert (written.status, written.cost, written.api_key_id, written.ttft_ms) == (200, 0, None, None)
    assert written.error_type == ""


def test_a_batch_may_mix_complete_rows_and_rows_missing_fields(db, org_a):
    from requestlog.models import RequestLog

    when = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    complete = {f.attname: f.get_default() for f in RequestLog._meta.concrete_fields if not f.primary_key}
    complete.update(row(org_a, "req_complete", created=when, status=502, cost=7, ttft_ms=2.5))
    records.insert([complete, row(org_a, "req_partial", created=when)])
    written = {r.request_id: (r.status, r.cost, r.ttft_ms, r.created) for r in RequestLog.objects.all()}
    assert written == {"req_complete": (502, 7, 2.5, when), "req_partial": (200, 0, None, when)}


def test_a_request_id_already_written_is_skipped_not_an_error(db, org_a):
    from requestlog.models import RequestLog

    records.insert([row(org_a, "req_once", output_tokens=1)])
    records.insert([row(org_a, "req_once", output_tokens=2), row(org_a, "req_new")])
    assert dict(RequestLog.objects.values_list("request_id", "output_tokens")) == {"req_once": 1, "req_new": 0}


def test_a_row_is_stamped_when_it_is_recorded_not_when_its_batch_is_written(db, org_a):
    from requestlog.models import RequestLog

    before = datetime.now(UTC)
    records.record(row(org_a, "req_stamped"))  # no running loop: written at once
    assert before <= RequestLog.objects.get(request_id="req_stamped").created <= datetime.now(UTC)


@pytest.mark.django_db(transaction=True)
async def test_rows_recorded_close_together_are_written_together(org_a, inserts):
    from requestlog.models import RequestLog

    for i in range(3):
        records.record(row(org_a, f"req_{i}"))
        await asyncio.sleep(0.01)
    assert inserts == []  # still lingering for company
    await records.aflush()
    assert inserts == [3]
    assert await RequestLog.objects.filter(request_id__startswith="req_").acount() == 3


@pytest.mark.django_db(transaction=True)
async def test_a_full_batch_does_not_wait_out_the_linger(org_a, inserts, monkeypatch):
    monkeypatch.setattr(records, "LINGER", 30.0)
    monkeypatch.setattr(records, "BATCH", 2)
    written = threading.Event()
    spy = records.insert
    monkeypatch.setattr(records, "insert", lambda rows: (spy(rows), written.set()))
    for i in range(2):
        records.record(row(org_a, f"req_{i}"))
    assert await asyncio.to_thread(written.wait, 5)
    assert inserts == [2]
    await records.aflush()


@pytest.mark.django_db(transaction=True)
def test_wait_idle_hurries_another_threads_writer_instead_of_waiting_out_the_linger(org_a, inserts, monkeypatch):
    """The live server's loop runs in its own thread; tests wait on it with wait_idle()."""
    from requestlog.models import RequestLog

    monkeypatch.setattr(records, "LINGER", 30.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:

        async def record_one() -> None:
            records.record(row(org_a, "req_elsewhere"))

        asyncio.run_coroutine_threadsafe(record_one(), loop).result(timeout=5)
        started = time.monotonic()
        assert records.wait_idle(timeout=5)
        assert time.monotonic() - started < 5
        assert RequestLog.objects.filter(request_id="req_elsewhere").exists()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
