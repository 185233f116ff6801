from __future__ import annotations

from datetime import timedelta

import pytest

from qlaud.tests.conftest import make_log


def _key(org, user, name: str):
    from accounts.keys import mint_key

    key, _raw = mint_key(org, user, name)
    return key


@pytest.mark.django_db
def test_the_overview_needs_a_signed_in_user(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_the_overview_shows_an_honest_empty_state_for_a_new_org(client, alice, org_a):
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert "No requests yet" in html
    assert "Waiting for requests" in html


@pytest.mark.django_db
def test_the_overview_sums_spend_by_window_model_and_key(client, alice, org_a):
    key = _key(org_a, alice, "laptop")
    make_log(org_a, api_key=key, model="deepseek-v3.2", cost=1_250_000)
    make_log(org_a, api_key=key, model="claude-sonnet-4.5", cost=2_000_000, ago=timedelta(days=3))
    make_log(org_a, model="claude-sonnet-4.5", cost=500_000, ago=timedelta(days=10), status=502)
    make_log(org_a, model="old-model", cost=9_000_000, ago=timedelta(days=40))
    client.force_login(alice)
    response = client.get("/dashboard/")
    ctx = response.context
    assert ctx["totals"]["spend_7d"] == 3_250_000
    assert ctx["totals"]["spend_30d"] == 3_750_000
    assert ctx["totals"]["errors_30d"] == 1
    assert [r["model"] for r in ctx["by_model"]] == ["claude-sonnet-4.5", "deepseek-v3.2"]
    assert ctx["top_keys"][0]["key"].name == "laptop" and ctx["top_keys"][0]["requests"] == 2
    assert sum(bar.value for bar in ctx["by_day"]) == 3_750_000
    html = response.content.decode()
    assert "$3.75" in html and "<svg" in html and "laptop" in html


@pytest.mark.django_db
def test_the_overview_shows_the_wallet_balance_and_holds(client, alice, org_a):
    """Holds of requests in flight show as on hold; a worker's unused lease never does."""
    from wallet.models import Hold, Wallet

    wallet, _ = Wallet.objects.update_or_create(org=org_a, defaults={"balance": 20_000_000, "held": 5_000_000})
    Hold.objects.create(wallet=wallet, request_id="req_in_flight", amount=1_000_000)
    Hold.objects.create(wallet=wallet, request_id="lease:1", amount=4_000_000, lease=True, in_flight=500_000)
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert "$18.50" in html and "$1.50 on hold" in html


@pytest.mark.django_db
def test_charlie_sees_nothing_of_org_a(client, alice, org_a, charlie, org_b):
    make_log(org_a, model="secret-model-of-a", cost=7_000_000)
    client.force_login(charlie)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert response.context["totals"]["requests_30d"] == 0
    assert b"secret-model-of-a" not in response.content


@pytest.mark.django_db
def test_bob_as_a_member_sees_his_orgs_numbers(client, bob, org_a):
    make_log(org_a, model="shared-model", cost=1_000_000)
    client.force_login(bob)
    assert b"shared-model" in client.get("/dashboard/").content


@pytest.mark.django_db
def test_bobs_live_feed_starts_with_his_own_keys_requests_only(client, alice, bob, org_a):
    """The feed's first rows follow the usage pages: a member sees his keys' requests, the owner the org's."""
    make_log(org_a, api_key=_key(org_a, alice, "alice laptop"), user=alice, model="alices-model")
    make_log(org_a, api_key=_key(org_a, bob, "bob laptop"), user=bob, model="bobs-model")
    client.force_login(bob)
    assert [r["model"] for r in client.get("/dashboard/").context["recent"]] == ["bobs-model"]
    client.force_login(alice)
    assert sorted(r["model"] for r in client.get("/dashboard/").context["recent"]) == ["alices-model", "bobs-model"]
