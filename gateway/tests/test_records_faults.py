"""The RequestLog writer under hostile input and database blips: no tenant's rows lost to another's."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from gateway import records
from lib import bulk
from requestlog.models import RequestLog


def row(org: Any, request_id: str, **fields: Any) -> dict[str, Any]:
    return {"request_id": request_id, "org_id": org.pk, "surface": "chat", "requested_model": "m", **fields}


def test_a_nul_or_a_lone_surrogate_in_one_tenants_row_costs_no_other_tenant_a_row(db, org_a, org_b):
    batch = [row(org_a, f"req_a{i}") for i in range(5)]
    batch += [
        row(org_b, "req_b0", model="x\x00y", requested_model="x\x00y"),
        row(org_b, "req_b1", requested_model="bad \ud800 surrogate", user_agent="\udfff"),
        row(org_b, "req_b2", requested_model="m" * 5000),
    ]
    batch.insert(2, row(org_b, "req_b3", requested_model="\x00" * 3))

    records.insert(batch)
    written = dict(RequestLog.objects.values_list("request_id", "requested_model"))
    assert {f"req_a{i}" for i in range(5)} <= set(written)
    assert written["req_b0"] == "xy"
    assert written["req_b1"] == "bad \ufffd surrogate"
    assert written["req_b2"] == "m" * 200
    assert written["req_b3"] == ""
    assert RequestLog.objects.get(request_id="req_b0").model == "xy"


def test_a_row_the_database_refuses_costs_only_itself_and_is_counted(db, org_a, org_b):
    before = bulk.REFUSED[RequestLog._meta.db_table]
    batch = [row(org_a, f"req_a{i}") for i in range(4)] + [row(org_b, "req_bad", output_tokens=-1)]

    refused = bulk.insert_rows(RequestLog, batch, skip_conflicts=True)

    assert refused == 1
    assert set(RequestLog.objects.values_list("request_id", flat=True)) == {f"req_a{i}" for i in range(4)}
    assert bulk.REFUSED[RequestLog._meta.db_table] == before + 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="terminates a PostgreSQL backend")
@pytest.mark.django_db(transaction=True)
def test_after_the_database_drops_the_connection_the_next_batch_is_written(org_a):
    records._write_in_worker([row(org_a, "req_before")], keep=True)  # the writer's connection is open
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert records._write_in_worker([row(org_a, "req_during")], keep=True) is False  # kept, not lost
    assert records._write_in_worker(records._take(), keep=True) is True  # a fresh connection at once

    assert set(RequestLog.objects.values_list("request_id", flat=True)) == {"req_before", "req_during"}
    assert records.dropped == 0
