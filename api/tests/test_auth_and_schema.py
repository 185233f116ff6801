"""Who gets in: management keys, sessions, API keys where OpenRouter takes them; throttling; the schema."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.keys import KeyRefused, mint_key, verify_key
from api.tests.conftest import bearer, mk


def test_an_api_key_on_the_management_api_is_a_401_that_says_why(alice, org_a):
    _key, raw = mint_key(org_a, alice, "model key")
    response = bearer(raw).get("/api/v1/keys/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == "api_key_not_accepted" and "management key (mk_" in error["message"]


def test_a_management_key_is_refused_by_the_model_api_key_lookup(alice, org_a):
    raw = mk(alice, org_a)
    with pytest.raises(KeyRefused, match="management key"):
        async_to_sync(verify_key)(raw)
    response = Client().post(
        "/v1/chat/completions", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 401 and "management key" in response.content.decode()


def test_no_credentials_and_a_wrong_key_are_401s_with_codes(alice, org_a):
    assert APIClient().get("/api/v1/keys/").json()["error"]["code"] == "not_authenticated"
    wrong = bearer("mk_" + "x" * 40).get("/api/v1/keys/")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_key"


def test_a_read_only_management_key_reads_but_cannot_write(alice, org_a):
    client = bearer(mk(alice, org_a, scope="read"))
    assert client.get("/api/v1/keys/").status_code == 200
    refused = client.post("/api/v1/keys/", {"name": "x"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_key"


def test_the_dashboard_session_works_and_writes_need_csrf(alice, org_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/keys/").status_code == 200
    refused = client.post("/api/v1/keys/", {"name": "x"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]


def test_each_management_key_is_throttled_at_the_configured_rate(alice, charlie, org_a, org_b, settings):
    settings.MANAGEMENT_API_RATE = "2/min"
    client, other = bearer(mk(alice, org_a)), bearer(mk(charlie, org_b))
    assert [client.get("/api/v1/wallet/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/wallet/").json()["error"]["code"] == "throttled"
    assert other.get("/api/v1/wallet/").status_code == 200


def test_openrouter_key_and_credits_read_with_the_normal_api_key(alice, org_a):
    from wallet.ledger import adjust

    adjust(org_id=org_a.pk, amount=3_500_000, reason="test", idempotency_key=None)
    _key, raw = mint_key(org_a, alice, "laptop", spend_limit=2_000_000, limit_period="day", rpm_limit=30)
    key = bearer(raw).get("/api/v1/key").json()["data"]
    assert (key["label"], key["usage"], key["limit"], key["limit_remaining"]) == ("laptop", 0, 2.0, 2.0)
    assert key["rate_limit"] == {"requests": 30, "interval": "1m"} and key["is_free_tier"] is False
    credits = bearer(raw).get("/api/v1/credits").json()["data"]
    assert credits == {"total_credits": 3.5, "total_usage": 0}
    assert APIClient().get("/api/v1/credits").status_code == 401


def test_createtenant_prints_a_working_management_key(db):
    out = StringIO()
    call_command("createtenant", "--email", "erin@example.com", "--management-key", stdout=out)
    line = json.loads(out.getvalue())
    assert line["management_key"].startswith("mk_") and line["api_key"].startswith("ak_")
    assert bearer(line["management_key"]).post("/api/v1/keys/", {"name": "n"}, format="json").status_code == 201


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_schema_and_its_reference_page_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/v1/keys/" in schema.json()["paths"]
    page = client.get("/docs/management-api/reference/").content.decode()
    assert "drf_spectacular_sidecar/redoc" in page and "cdn" not in page.lower()
    assert client.get("/docs/management-api/").status_code == 200
