"""Usage that explains: status and error reason in the usage list, receipts and the overview's feed."""

from __future__ import annotations

from accounts.keys import mint_key
from lib.live_feed import feed_payload


def failed_and_ok(org, alice, request_log):
    key, _ = mint_key(org, alice, "laptop")
    request_log(org, key, "req_ok", status=200)
    request_log(org, key, "req_broke", status=402, error_type="billing", cost=0, output_tokens=0)


def test_the_usage_list_shows_each_requests_status_and_error_reason(alice_client, org_a, alice, request_log):
    failed_and_ok(org_a, alice, request_log)
    html = alice_client.get("/dashboard/usage/").content.decode()
    assert "<th>Status</th>" in html
    assert '<span class="badge badge-ok">200</span>' in html
    assert '<span class="badge badge-danger">402</span>' in html and "billing" in html
    assert "cannot cover the request" in html  # the reason in words


def test_a_receipt_of_a_failed_request_says_why(alice_client, org_a, alice, request_log):
    failed_and_ok(org_a, alice, request_log)
    html = alice_client.get("/dashboard/usage/req_broke/").content.decode()
    assert 'id="receipt-error"' in html and "cannot cover the request" in html


def test_the_overview_feed_shows_status_and_error(alice_client, org_a, alice, request_log):
    failed_and_ok(org_a, alice, request_log)
    html = alice_client.get("/dashboard/").content.decode()
    assert '<span class="badge badge-danger">402</span>' in html and "billing" in html


def test_the_live_feed_payload_carries_the_error_type():
    assert feed_payload({"status": 429, "error_type": "rate_limit"})["error_type"] == "rate_limit"
    assert feed_payload({"status": 200})["error_type"] == ""


def test_charlie_sees_no_status_of_org_a(client, charlie, org_b, org_a, alice, request_log):
    failed_and_ok(org_a, alice, request_log)
    client.force_login(charlie)
    assert "402" not in client.get("/dashboard/usage/").content.decode()
    assert client.get("/dashboard/usage/req_broke/").status_code == 404
