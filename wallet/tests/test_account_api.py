"""/v1/credits, /v1/key, /v1/generation: authenticated with the API key, JSON in and out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.keys import mint_key, revoke_key
from wallet import ledger


@pytest.fixture
def raw_a(org_a, alice):
    _, raw = mint_key(org_a, alice, "ci", spend_limit=5_000_000, limit_period="month")
    return raw


@pytest.fixture
def raw_b(org_b, charlie):
    return mint_key(org_b, charlie, "charlie's")[1]


def _get(client, path: str, raw: str | None, **headers):
    if raw:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client.get(path, **headers)


def test_credits_reports_balance_hold_and_available_exactly(client, org_a, raw_a):
    ledger.credit_topup(org_id=org_a.pk, amount=20_000_000, reference="cs_1", idempotency_key="cs_1")
    ledger.place_hold(org_id=org_a.pk, key_id=None, amount=1_234_567, request_id="req_h")
    response = _get(client, "/v1/credits", raw_a)
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "currency": "USD",
            "balance": "20.000000",
            "balance_micros": 20_000_000,
            "on_hold": "1.234567",
            "on_hold_micros": 1_234_567,
            "available": "18.765433",
            "available_micros": 18_765_433,
        }
    }


def test_credits_accepts_the_x_api_key_header_too(client, raw_a):
    assert client.get("/v1/credits", HTTP_X_API_KEY=raw_a).json()["data"]["balance_micros"] == 0


@pytest.mark.parametrize("path", ["/v1/credits", "/v1/key", "/v1/generation?id=req_1"])
def test_the_account_api_refuses_missing_and_revoked_keys_with_401_json(client, org_a, alice, path):
    missing = client.get(path)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    key, raw = mint_key(org_a, alice, "old")
    revoke_key(key)
    revoked = _get(client, path, raw)
    assert revoked.status_code == 401 and "message" in revoked.json()["error"]


def test_key_reports_its_limit_and_usage_for_the_current_period(client, org_a, raw_a):
    from accounts.models import ApiKey

    key = ApiKey.objects.get(name="ci")
    ledger.credit_topup(org_id=org_a.pk, amount=20_000_000, reference="cs_1", idempotency_key="cs_1")
    with time_machine.travel(datetime(2026, 2, 27, 12, tzinfo=UTC), tick=False):
        hold = ledger.place_hold(org_id=org_a.pk, key_id=key.pk, amount=2_000_000, request_id="r1")
        ledger.settle(hold, charge=1_500_000, upstream_cost=1_401_869, receipt={})
        ledger.place_hold(org_id=org_a.pk, key_id=key.pk, amount=250_000, request_id="r2")
        data = _get(client, "/v1/key", raw_a).json()["data"]
    assert data["name"] == data["label"] == "ci"
    assert (data["limit"], data["limit_micros"], data["limit_period"]) == ("5.000000", 5_000_000, "month")
    assert (data["usage"], data["usage_micros"]) == ("1.750000", 1_750_000)
    assert data["limit_remaining_micros"] == 3_250_000
    assert (data["period_start"], data["period_end"]) == ("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00")


def test_key_without_a_limit_reports_no_remaining(client, raw_b):
    data = _get(client, "/v1/key", raw_b).json()["data"]
    assert (data["limit"], data["limit_remaining"], data["limit_period"]) == (None, None, "never")


def test_generation_returns_one_requests_receipt_with_its_ledger_charge(client, org_a, raw_a, request_log):
    from accounts.models import ApiKey

    key = ApiKey.objects.get(name="ci")
    ledger.credit_topup(org_id=org_a.pk, amount=1_000_000, reference="cs_1", idempotency_key="cs_1")
    hold = ledger.place_hold(org_id=org_a.pk, key_id=key.pk, amount=50_000, request_id="req_gen")
    ledger.settle(hold, charge=11_235, upstream_cost=10_500, receipt={})
    request_log(org_a, key, "req_gen", cache_read_tokens=2000, reasoning_tokens=42)
    response = _get(client, "/v1/generation?id=req_gen", raw_a)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == "req_gen" and data["model"] == "claude-sonnet-4-5"
    assert data["tokens"] == {"input": 1000, "cache_read": 2000, "cache_write": 0, "output": 500, "reasoning": 42}
    assert (data["upstream_cost_micros"], data["markup_micros"], data["total_cost_micros"]) == (10_500, 735, 11_235)
    assert (data["total_cost"], data["charged_micros"]) == ("0.011235", 11_235)


def test_generation_of_another_orgs_request_is_a_404(client, org_a, raw_b, request_log):
    request_log(org_a, None, "req_of_a")
    response = _get(client, "/v1/generation?id=req_of_a", raw_b)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert _get(client, "/v1/generation", raw_b).status_code == 404
