from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.test import Client

from accounts.keys import KeyRefused, verify_key
from accounts.models import ApiKey, Membership, Org
from accounts.tests.conftest import raw_key_in

verify = async_to_sync(verify_key)
PASSWORD = "a long and unusual passphrase 42"


@pytest.mark.django_db
@pytest.mark.usefixtures("own_cache_namespace")  # allauth sends one confirmation per address per 3 min
def test_a_new_user_signs_up_verifies_gets_an_org_and_a_key_that_works_until_revoked():
    client = Client()
    response = client.post(
        "/accounts/signup/", {"email": "dana@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.com"]
    confirm_url = re.search(r"http://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    path = confirm_url.split("://", 1)[1].split("/", 1)[1]

    assert client.get(f"/{path}").status_code == 200
    response = client.post(f"/{path}")
    assert response.status_code == 302

    client.login(email="dana@example.com", password=PASSWORD)
    org = Org.objects.get(memberships__user__email="dana@example.com")
    assert org.personal and Membership.objects.get(org=org).role == "owner"

    response = client.post("/dashboard/keys/", {"name": "laptop", "limit_period": "month"})
    assert response.status_code == 200
    raw = raw_key_in(response.content.decode())
    assert response["Cache-Control"] == "no-store"
    assert verify(raw).org_id == org.pk

    key = ApiKey.objects.get(org=org)
    assert client.get(f"/dashboard/keys/{key.pk}/revoke/").status_code == 200
    assert client.post(f"/dashboard/keys/{key.pk}/revoke/").status_code == 302
    with pytest.raises(KeyRefused):
        verify(raw)
    # The raw key is never shown again.
    assert raw not in client.get("/dashboard/keys/").content.decode()


def test_the_create_form_stores_every_limit(alice_client, org_a):
    response = alice_client.post(
        "/dashboard/keys/",
        {
            "name": "ci",
            "spend_limit_usd": "12.50",
            "limit_period": "week",
            "allowed_models": "claude-sonnet-4-5, gpt-5  openai/gpt-4o",
            "expires_on": "2099-01-31",
            "rpm_limit": "60",
            "concurrency_limit": "4",
        },
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(org=org_a, name="ci")
    assert key.spend_limit == 12_500_000 and key.limit_period == "week"
    assert key.allowed_models == ["claude-sonnet-4-5", "gpt-5", "openai/gpt-4o"]
    assert (key.rpm_limit, key.concurrency_limit) == (60, 4)
    assert key.expires_at.date().isoformat() == "2099-01-31"


def test_the_create_form_refuses_bad_input_and_mints_nothing(alice_client, org_a):
    response = alice_client.post(
        "/dashboard/keys/", {"name": "", "spend_limit_usd": "-1", "limit_period": "month", "expires_on": "2000-01-01"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not ApiKey.objects.filter(org=org_a).exists()


def test_htmx_create_returns_only_the_panel_and_htmx_revoke_returns_the_row(alice_client, org_a):
    response = alice_client.post("/dashboard/keys/", {"name": "x", "limit_period": "never"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="keys-panel"' in html and "<html" not in html
    key = ApiKey.objects.get(org=org_a)
    response = alice_client.post(f"/dashboard/keys/{key.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="key-{key.pk}"' in response.content.decode() and "revoked" in response.content.decode()


def test_members_see_only_their_own_keys_and_managers_see_all(alice_client, bob_client, org_a, alice, bob):
    from accounts.keys import mint_key

    mint_key(org_a, alice, "alice-key")
    bob_key, _ = mint_key(org_a, bob, "bob-key")
    alice_key = ApiKey.objects.get(name="alice-key")
    assert "bob-key" in alice_client.get("/dashboard/keys/").content.decode()
    page = bob_client.get("/dashboard/keys/").content.decode()
    assert "bob-key" in page and "alice-key" not in page
    assert bob_client.post(f"/dashboard/keys/{alice_key.pk}/revoke/").status_code == 404
    assert alice_client.post(f"/dashboard/keys/{bob_key.pk}/revoke/").status_code == 302


def test_spend_this_period_sums_the_request_log(alice_client, org_a, alice):
    from accounts.keys import mint_key
    from requestlog.models import RequestLog

    key, _ = mint_key(org_a, alice, "metered", limit_period="day")
    for i, cost in enumerate([1_250_000, 250_000]):
        RequestLog.objects.create(request_id=f"r{i}", org=org_a, api_key=key, requested_model="m", cost=cost)
    assert "$1.50" in alice_client.get("/dashboard/keys/").content.decode()
