"""/dashboard/usage/: the request list, filters, pages, CSV export, receipts; scoped to the org."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.keys import mint_key

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def usage_a(org_a, alice, bob, request_log):
    """Alice's key made two requests (two models), bob's key one; org B one."""
    alice_key, _ = mint_key(org_a, alice, "alice-laptop")
    bob_key, _ = mint_key(org_a, bob, "bob-ci")
    request_log(org_a, alice_key, "req_a1", created=NOW - timedelta(hours=1), cost=1_234_567)
    request_log(org_a, alice_key, "req_a2", created=NOW - timedelta(days=2), model="gpt-5", provider="openai", cost=20)
    request_log(org_a, bob_key, "req_b1", created=NOW - timedelta(hours=2), model="gemini-3-pro", cost=300)
    return {"alice": alice_key, "bob": bob_key}


def _page(client, query: str = "") -> str:
    response = client.get(f"/dashboard/usage/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_managers_see_every_request_of_the_org_with_its_cost(alice_client, usage_a):
    page = _page(alice_client)
    for request_id in ("req_a1", "req_a2", "req_b1"):
        assert f"/dashboard/usage/{request_id}/" in page
    assert "$1.234567" in page and "alice-laptop" in page and "bob-ci" in page


def test_members_see_only_the_usage_of_their_own_keys(client, bob, usage_a):
    client.force_login(bob)
    page = _page(client)
    assert "/dashboard/usage/req_b1/" in page
    assert "req_a1" not in page and "alice-laptop" not in page
    assert client.get("/dashboard/usage/req_a1/").status_code == 404


def test_charlie_sees_nothing_of_org_a_and_gets_404_on_its_receipts(client, charlie, org_b, usage_a, request_log):
    request_log(org_b, None, "req_c1", created=NOW - timedelta(hours=1))
    client.force_login(charlie)
    page = _page(client)
    assert "req_c1" in page and "req_a1" not in page and "req_b1" not in page
    assert client.get("/dashboard/usage/req_a1/").status_code == 404
    csv_text = b"".join(client.get("/dashboard/usage/export.csv").streaming_content).decode()
    assert "req_a1" not in csv_text and "req_c1" in csv_text


def test_filters_by_key_model_and_date_range(alice_client, usage_a):
    by_key = _page(alice_client, f"?key={usage_a['bob'].pk}")
    assert "req_b1" in by_key and "req_a1" not in by_key
    by_model = _page(alice_client, "?model=gpt-5")
    assert "req_a2" in by_model and "req_a1" not in by_model
    by_date = _page(alice_client, "?start=2026-06-13&end=2026-06-13")
    assert "req_a2" in by_date and "req_a1" not in by_date and "req_b1" not in by_date


def test_the_receipt_shows_price_version_upstream_cost_markup_and_total(alice_client, usage_a):
    page = alice_client.get("/dashboard/usage/req_a1/").content.decode()
    assert "$0.0105" in page  # upstream: 10_500 micro-$ from the fixture
    assert "$1.224067" in page  # markup: total - upstream
    assert "$1.234567" in page  # total
    assert "not charged" in page  # no ledger entry for this synthetic row


def test_pagination_splits_long_histories(alice_client, org_a, request_log):
    for i in range(55):
        request_log(org_a, None, f"req_p{i:02d}", created=NOW - timedelta(minutes=i))
    first, second = _page(alice_client), _page(alice_client, "?page=2")
    assert "req_p00" in first and "req_p54" not in first
    assert "req_p54" in second and "Page 2 of 2" in second


def test_csv_export_streams_every_filtered_request_with_exact_costs(alice_client, usage_a):
    response = alice_client.get("/dashboard/usage/export.csv?model=claude-sonnet-4-5")
    assert response.streaming and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["request_id"] for r in rows] == ["req_a1"]
    assert (rows[0]["cost_usd"], rows[0]["upstream_cost_usd"], rows[0]["key"]) == (
        "1.234567",
        "0.010500",
        "alice-laptop",
    )
    assert rows[0]["byok"] == "false"


def test_the_csv_export_marks_requests_served_on_the_orgs_own_key(alice_client, org_a, request_log):
    request_log(org_a, None, "req_own", created=NOW - timedelta(minutes=1), byok=True, upstream_cost=0, cost=525)
    request_log(org_a, None, "req_qlaud", created=NOW - timedelta(minutes=2), rate="off-peak")
    response = alice_client.get("/dashboard/usage/export.csv")
    rows = {r["request_id"]: r for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}
    assert (rows["req_own"]["byok"], rows["req_own"]["upstream_cost_usd"], rows["req_own"]["cost_usd"]) == (
        "true",
        "0.000000",
        "0.000525",
    )
    assert rows["req_qlaud"]["byok"] == "false"
    assert (rows["req_qlaud"]["rate"], rows["req_own"]["rate"]) == ("off-peak", "")  # the rate that applied


def test_daily_spend_is_broken_down_by_key_and_by_model(alice_client, usage_a):
    page = _page(alice_client)
    by_key = page.split('id="daily-by-key"')[1].split("</section>")[0]
    by_model = page.split('id="daily-by-model"')[1].split("</section>")[0]
    assert "alice-laptop" in by_key and "bob-ci" in by_key and "Jun 15" in by_key and "Jun 13" in by_key
    assert "gemini-3-pro" in by_model and "gpt-5" in by_model and "$0.0003" in by_model
