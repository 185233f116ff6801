"""The issue's script: with an mk_ key, create a limited key, read its usage, revoke it; another org sees 404s."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import async_to_sync

from accounts.keys import KeyRefused, verify_key
from accounts.models import ApiKey
from wallet.usage import request_logs


def test_a_management_key_creates_reads_and_revokes_a_limited_key(alice_api, charlie_api, org_a):
    created = alice_api.post(
        "/api/v1/keys/",
        {"name": "ci", "spend_limit_micros": 1_000_000, "limit_period": "day", "allowed_models": ["gpt-5", "gpt-5"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    raw, key_id = body["key"], body["id"]
    assert raw.startswith("ak_") and created["Cache-Control"] == "no-store"
    assert (body["spend_limit_usd"], body["limit_period"], body["allowed_models"]) == ("1.000000", "day", ["gpt-5"])
    context = async_to_sync(verify_key)(raw)
    assert (context.spend_limit, context.limit_period, context.allowed_models) == (1_000_000, "day", ("gpt-5",))

    usage = alice_api.get(f"/api/v1/usage/?key={key_id}")
    assert usage.status_code == 200 and usage.json()["results"] == []
    assert alice_api.get(f"/api/v1/keys/{key_id}/").json()["usage_micros"] == 0

    assert charlie_api.get(f"/api/v1/keys/{key_id}/").status_code == 404
    assert charlie_api.delete(f"/api/v1/keys/{key_id}/").status_code == 404
    assert charlie_api.get(f"/api/v1/usage/?key={key_id}").json()["results"] == []

    revoked = alice_api.delete(f"/api/v1/keys/{key_id}/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    with pytest.raises(KeyRefused, match="revoked"):
        async_to_sync(verify_key)(raw)


def test_editing_a_key_reaches_the_key_lookup_at_once(alice_api, alice, org_a):
    raw = alice_api.post("/api/v1/keys/", {"name": "edit me"}, format="json").json()["key"]
    key = ApiKey.objects.get(name="edit me")
    assert async_to_sync(verify_key)(raw).rpm_limit is None
    changed = alice_api.patch(f"/api/v1/keys/{key.pk}/", {"rpm_limit": 60, "name": "edited"}, format="json")
    assert changed.status_code == 200 and changed.json()["name"] == "edited"
    assert async_to_sync(verify_key)(raw).rpm_limit == 60


def test_removing_a_spend_limit_also_removes_its_period(alice_api):
    key = alice_api.post("/api/v1/keys/", {"name": "k", "spend_limit_micros": 5_000_000}, format="json").json()
    assert key["limit_period"] == "month"
    patched = alice_api.patch(f"/api/v1/keys/{key['id']}/", {"spend_limit_micros": None}, format="json").json()
    assert (patched["spend_limit_micros"], patched["limit_period"]) == (None, "never")


def test_the_usage_csv_is_the_dashboards_export(alice_api, org_a):
    response = alice_api.get("/api/v1/usage/export.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content).decode().startswith("request_id,created,key,model")
    assert request_logs(org_a.pk).count() == 0


def test_the_usage_csv_has_a_byok_column_marking_requests_on_the_orgs_own_key(alice_api, org_a):
    from requestlog.models import RequestLog

    common = {"surface": "chat", "requested_model": "m", "model": "m", "provider": "openai", "org": org_a}
    RequestLog.objects.create(request_id="req_own", byok=True, upstream_cost=0, cost=40, **common)
    RequestLog.objects.create(request_id="req_ours", upstream_cost=700, cost=800, **common)
    text = b"".join(alice_api.get("/api/v1/usage/export.csv").streaming_content).decode()
    rows = {r["request_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["req_own"]["byok"], rows["req_own"]["cost_usd"]) == ("true", "0.000040")
    assert (rows["req_ours"]["byok"], rows["req_ours"]["upstream_cost_usd"]) == ("false", "0.000700")


def test_a_usage_row_names_the_rate_it_was_billed_at(alice_api, org_a):
    from requestlog.models import RequestLog

    common = {"surface": "messages", "requested_model": "g", "model": "g", "provider": "google-ai-studio"}
    RequestLog.objects.create(request_id="req_long", org=org_a, rate="over 200k", cost=900, **common)
    RequestLog.objects.create(request_id="req_plain", org=org_a, cost=90, **common)
    assert alice_api.get("/api/v1/usage/req_long/").json()["rate"] == "over 200k"
    assert alice_api.get("/api/v1/usage/req_plain/").json()["rate"] is None
    listed = {r["request_id"]: r["rate"] for r in alice_api.get("/api/v1/usage/").json()["results"]}
    assert listed == {"req_long": "over 200k", "req_plain": None}
    text = b"".join(alice_api.get("/api/v1/usage/export.csv").streaming_content).decode()
    assert {r["request_id"]: r["rate"] for r in csv.DictReader(io.StringIO(text))} == {
        "req_long": "over 200k",
        "req_plain": "",
    }
