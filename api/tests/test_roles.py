"""Every endpoint for alice (owner of A), bob (member of A) and charlie (owner of B): roles and 404s."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.keys import mint_key
from accounts.models import Invitation, ManagementKey, Membership
from api.tests.conftest import bearer, mk
from catalog.crypto import encrypt
from catalog.models import Model, ModelAlias, OrgCredential, Provider
from gateway.tests.conftest import fake_upstream  # noqa: F401 (the fixture: BYOK keys are checked against it)
from requestlog.models import RequestLog
from wallet.ledger import adjust
from wallet.models import UsageRollup


@pytest.fixture
def world(alice, bob, charlie, org_a, org_b, settings, fake_upstream):  # noqa: F811
    settings.STRIPE_TEST_SECRET_KEY = settings.STRIPE_LIVE_SECRET_KEY = ""
    key_a, _ = mint_key(org_a, alice, "alice's")
    key_b, _ = mint_key(org_a, bob, "bob's")
    day = datetime(2026, 12, 1, tzinfo=UTC)
    for request_id, key in (("req_a", key_a), ("req_b", key_b)):
        RequestLog.objects.create(request_id=request_id, org=org_a, api_key=key, requested_model="m", model="m", cost=7)
        UsageRollup.objects.create(org=org_a, api_key=key, model="m", granularity="day", period_start=day, cost=7)
    adjust(org_id=org_a.pk, amount=5_000_000, reason="test", idempotency_key=None)
    base_url = fake_upstream.url + "/v1"
    provider = Provider.objects.create(slug="openai", name="OpenAI", protocol="openai", base_url=base_url)
    model = Model.objects.create(public_id="gpt-5", name="GPT-5", context_length=1000)
    clients = {"alice": bearer(mk(alice, org_a)), "bob": bearer(mk(bob, org_a)), "charlie": bearer(mk(charlie, org_b))}
    return {
        "clients": clients,
        "key_a": key_a.pk,
        "key_b": key_b.pk,
        "mk_a": ManagementKey.objects.get(org=org_a, created_by=alice).pk,
        "bob_m": Membership.objects.get(org=org_a, user=bob).pk,
        "alice_m": Membership.objects.get(org=org_a, user=alice).pk,
        "invitation": Invitation.objects.create(org=org_a, email="dora@example.com", invited_by=alice).pk,
        "alias": ModelAlias.objects.create(org=org_a, alias="fast", model=model).pk,
        "byok": OrgCredential.objects.create(
            org=org_a, provider=provider, secret_encrypted=encrypt(ORG_SECRET), last4=ORG_SECRET[-4:]
        ).pk,
    }


ORG_SECRET = "sk-alice-org-secret-4321"
NEW_BYOK = {"provider": "openai", "key": "sk-new-key-5678"}
ALL_200 = {"alice": 200, "bob": 200, "charlie": 200}
OWNERS_ONLY = {"alice": 200, "bob": 403, "charlie": 200}
INVITE = {"email": "e@example.com", "role": "member"}
# (method, path, body, {persona: expected status})
CASES = [
    ("get", "/api/v1/keys/{key_a}/", None, {"alice": 200, "bob": 404, "charlie": 404}),
    ("get", "/api/v1/keys/{key_b}/", None, {"alice": 200, "bob": 200, "charlie": 404}),
    ("patch", "/api/v1/keys/{key_a}/", {"name": "x"}, {"alice": 200, "bob": 404, "charlie": 404}),
    ("delete", "/api/v1/keys/{key_a}/", None, {"alice": 200, "bob": 404, "charlie": 404}),
    ("post", "/api/v1/keys/", {"name": "new"}, {"alice": 201, "bob": 201, "charlie": 201}),
    ("get", "/api/v1/management-keys/", None, {"alice": 200, "bob": 403, "charlie": 200}),
    ("get", "/api/v1/management-keys/{mk_a}/", None, {"alice": 200, "bob": 403, "charlie": 404}),
    ("delete", "/api/v1/management-keys/{mk_a}/", None, {"alice": 200, "bob": 403, "charlie": 404}),
    ("post", "/api/v1/management-keys/", {"name": "n", "scope": "read"}, {"alice": 201, "bob": 403, "charlie": 201}),
    ("get", "/api/v1/usage/req_a/", None, {"alice": 200, "bob": 404, "charlie": 404}),
    ("get", "/api/v1/usage/req_b/", None, {"alice": 200, "bob": 200, "charlie": 404}),
    ("get", "/api/v1/usage/export.csv", None, {"alice": 200, "bob": 200, "charlie": 200}),
    ("get", "/api/v1/wallet/", None, {"alice": 200, "bob": 200, "charlie": 200}),
    ("get", "/api/v1/wallet/settings/", None, {"alice": 200, "bob": 200, "charlie": 200}),
    ("patch", "/api/v1/wallet/settings/", {"low_balance_threshold_micros": 0}, OWNERS_ONLY),
    ("post", "/api/v1/wallet/topup/", {"amount_usd": "20.00"}, {"alice": 503, "bob": 503, "charlie": 503}),
    ("get", "/api/v1/team/members/{bob_m}/", None, {"alice": 200, "bob": 200, "charlie": 404}),
    ("patch", "/api/v1/team/members/{bob_m}/", {"role": "admin"}, {"alice": 200, "bob": 403, "charlie": 404}),
    ("delete", "/api/v1/team/members/{alice_m}/", None, {"alice": 403, "bob": 403, "charlie": 404}),
    ("delete", "/api/v1/team/members/{bob_m}/", None, {"alice": 204, "bob": 204, "charlie": 404}),
    ("get", "/api/v1/team/invitations/{invitation}/", None, {"alice": 200, "bob": 200, "charlie": 404}),
    ("post", "/api/v1/team/invitations/", INVITE, {"alice": 201, "bob": 403, "charlie": 201}),
    ("delete", "/api/v1/team/invitations/{invitation}/", None, {"alice": 204, "bob": 403, "charlie": 404}),
    ("get", "/api/v1/aliases/{alias}/", None, {"alice": 200, "bob": 200, "charlie": 404}),
    ("post", "/api/v1/aliases/", {"alias": "smart", "model": "gpt-5"}, {"alice": 201, "bob": 403, "charlie": 201}),
    ("delete", "/api/v1/aliases/{alias}/", None, {"alice": 204, "bob": 403, "charlie": 404}),
    ("get", "/api/v1/byok/", None, {"alice": 200, "bob": 403, "charlie": 200}),
    ("get", "/api/v1/byok/{byok}/", None, {"alice": 200, "bob": 403, "charlie": 404}),
    ("post", "/api/v1/byok/", NEW_BYOK, {"alice": 201, "bob": 403, "charlie": 201}),
    ("patch", "/api/v1/byok/{byok}/", {"mode": "only_mine"}, {"alice": 200, "bob": 403, "charlie": 404}),
    ("delete", "/api/v1/byok/{byok}/", None, {"alice": 204, "bob": 403, "charlie": 404}),
    ("get", "/api/v1/key", None, {"alice": 200, "bob": 200, "charlie": 200}),
    ("get", "/api/v1/credits", None, {"alice": 200, "bob": 200, "charlie": 200}),
]  # fmt: skip


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
@pytest.mark.parametrize(("method", "path", "body", "expected"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_each_endpoint_answers_each_persona_by_role_and_org(world, persona, method, path, body, expected):
    client = world["clients"][persona]
    response = getattr(client, method)(path.format(**world), body, format="json")
    assert response.status_code == expected[persona], response.content[:300]
    if response.status_code >= 400:
        assert response.json()["error"]["code"]


LISTS = {
    "/api/v1/keys/": {"alice": {"alice's", "bob's"}, "bob": {"bob's"}, "charlie": set()},
    "/api/v1/usage/": {"alice": {"req_a", "req_b"}, "bob": {"req_b"}, "charlie": set()},
}


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
def test_lists_hold_only_what_the_persona_may_see(world, persona):
    client = world["clients"][persona]
    keys = {k["name"] for k in client.get("/api/v1/keys/").json()["results"]}
    assert keys == LISTS["/api/v1/keys/"][persona]
    logs = {r["request_id"] for r in client.get("/api/v1/usage/").json()["results"]}
    assert logs == LISTS["/api/v1/usage/"][persona]
    daily = client.get("/api/v1/usage/daily/").json()["results"]
    assert len(daily) == len(LISTS["/api/v1/usage/"][persona])
    csv = b"".join(client.get("/api/v1/usage/export.csv").streaming_content).decode()
    assert ("req_a" in csv) is (persona == "alice")
    ledger = client.get("/api/v1/wallet/ledger/").json()["results"]
    assert len(ledger) == (0 if persona == "charlie" else 1)
    balance = client.get("/api/v1/wallet/").json()["balance_micros"]
    assert balance == (0 if persona == "charlie" else 5_000_000)
    members = {m["email"] for m in client.get("/api/v1/team/members/").json()}
    assert ("bob@example.com" in members) is (persona != "charlie")
    aliases = client.get("/api/v1/aliases/").json()
    assert len(aliases) == (0 if persona == "charlie" else 1)
    invitations = client.get("/api/v1/team/invitations/").json()
    assert len(invitations) == (0 if persona == "charlie" else 1)


def test_an_admin_cannot_grant_ownership_nor_touch_money_settings(world, bob, org_a):
    Membership.objects.filter(user=bob, org=org_a).update(role=Membership.Role.ADMIN)
    bob_api = world["clients"]["bob"]
    promoted = bob_api.patch(f"/api/v1/team/members/{world['bob_m']}/", {"role": "owner"}, format="json")
    assert promoted.status_code == 403 and promoted.json()["error"]["code"] == "team_rule"
    money = bob_api.patch("/api/v1/wallet/settings/", {"low_balance_threshold_micros": 1}, format="json")
    assert money.status_code == 403 and money.json()["error"]["code"] == "owner_required"
    assert bob_api.get(f"/api/v1/keys/{world['key_a']}/").status_code == 200


def test_a_member_who_leaves_takes_their_management_keys_with_them(world):
    bob_api = world["clients"]["bob"]
    assert bob_api.delete(f"/api/v1/team/members/{world['bob_m']}/").status_code == 204
    refused = bob_api.get("/api/v1/keys/")
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]


def test_the_byok_api_never_returns_the_secret(world):
    alice = world["clients"]["alice"]
    listed = alice.get("/api/v1/byok/")
    created = alice.post("/api/v1/byok/", {"provider": "openai", "key": "sk-brand-new-key-8765"}, format="json")
    assert created.status_code == 201, created.content
    for response in (listed, created, alice.get(f"/api/v1/byok/{world['byok']}/")):
        assert ORG_SECRET.encode() not in response.content and b"sk-brand-new-key" not in response.content
    assert created.json()["last4"] == "8765" and "key" not in created.json()
    assert listed.json()[0]["last4"] == ORG_SECRET[-4:]


def test_a_key_the_provider_refuses_is_not_stored(world):
    refused = world["clients"]["alice"].post(
        "/api/v1/byok/", {"provider": "openai", "key": "sk-refused-by-upstream"}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "byok_key_refused"
    assert OrgCredential.objects.count() == 1


def test_a_provider_slug_holding_a_nul_character_is_a_400_not_a_database_error(world):
    answer = world["clients"]["alice"].post(
        "/api/v1/byok/", {"provider": "open\u0000ai", "key": "sk-brand-new-key-8765"}, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["fields"]["provider"]
