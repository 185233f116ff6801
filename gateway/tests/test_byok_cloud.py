"""Bring your own key for AWS Bedrock (access key id + secret + region) and Google Vertex AI (service account
JSON + project + region): checked on save with one cheap signed call against local fakes (never the network),
stored encrypted and shown back only as the last four of the key id plus a label, and used when the gateway calls
that provider for that org (SigV4 with the org's key; a token minted from the org's service account), charged only
the BYOK fee."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from api.tests.conftest import bearer, mk
from catalog import byok, crypto
from catalog.models import OrgCredential
from gateway.providers import vertex
from gateway.tests.conftest import E2E, PRICES
from gateway.tests.e2e import anthropic_client, billed, fake_usage
from gateway.tests.fake_bedrock import AWS_SECRETS, TEST_CREDENTIALS, FakeTokenServer, access_key_id
from wallet.money import Prices, byok_cost, rate_to_bps

pytestmark = E2E

HI = [{"role": "user", "content": "hi"}]
ORG_AWS = {
    "access_key_id": "AKIAALICEOWNKEY7777",
    "secret_access_key": "alice/own+secret/0123456789",
    "region": "eu-west-3",
}
ORG_EMAIL = "alice-sa@alice-project.iam.gserviceaccount.com"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """qlaud's own Bedrock key in the environment; the fake also knows alice's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS[1])
    monkeypatch.setenv("AWS_SESSION_TOKEN", TEST_CREDENTIALS[2])
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    AWS_SECRETS[ORG_AWS["access_key_id"]] = ORG_AWS["secret_access_key"]
    yield
    AWS_SECRETS.pop(ORG_AWS["access_key_id"], None)


@pytest.fixture
def bedrock_world(catalog: Any, tenant: Any, aws_env: None) -> Any:
    tenant.bedrock = catalog.provider("bedrock", "bedrock", config={"region": "us-east-1"})
    catalog.model("claude-b", (tenant.bedrock, "anthropic.claude-fake-text-v1"))
    return tenant


@pytest.fixture
def token_server(settings: Any) -> Iterator[FakeTokenServer]:
    server = FakeTokenServer().start()
    settings.BYOK_GOOGLE_TOKEN_URI = server.url
    vertex.reset_tokens()
    yield server
    server.stop()
    vertex.reset_tokens()


@pytest.fixture(scope="module")
def org_service_account() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": "alice-project",
        "private_key_id": "alicekeyid9876",
        "private_key": pem.decode(),
        "client_email": ORG_EMAIL,
        "client_id": "42",
        "token_uri": "https://token.attacker.test/token",  # never used: tokens come from BYOK_GOOGLE_TOKEN_URI
    }


@pytest.fixture
def vertex_world(catalog: Any, tenant: Any, token_server: FakeTokenServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)  # qlaud holds no Vertex key here
    tenant.vertex = catalog.provider(
        "vertex", "vertex-anthropic", config={"project": "qlaud-proj", "location": "global"}
    )
    catalog.model("claude-v", (tenant.vertex, "claude-fake-text@20250929"))
    return tenant


def vertex_fields(account: dict[str, str]) -> dict[str, Any]:
    return {"service_account": json.dumps(account), "project": "alice-project", "region": "europe-west1"}


def byok_fee() -> int:
    return byok_cost(
        fake_usage(), Prices(**PRICES), settings.QLAUD_MARKUP_BPS, rate_to_bps(settings.BYOK_FEE_RATE)
    ).total


def jwt_claims(assertion: str) -> dict[str, Any]:
    part = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- Bedrock ---------------------------------------------------------------------------------


def test_a_bedrock_key_is_checked_with_a_signed_list_call_and_shown_only_by_its_last_four(bedrock_world, fake):
    cred = byok.save_credential(bedrock_world.org, bedrock_world.bedrock, ORG_AWS)
    (check,) = fake.requests
    assert check.path == "/foundation-models"
    assert access_key_id(check.headers["Authorization"]) == ORG_AWS["access_key_id"]
    assert "/eu-west-3/bedrock/aws4_request" in check.headers["Authorization"]
    assert (cred.last4, cred.label) == ("7777", "eu-west-3")
    assert ORG_AWS["secret_access_key"] not in cred.secret_encrypted
    assert json.loads(crypto.decrypt(cred.secret_encrypted)) == ORG_AWS


def test_a_bedrock_key_aws_refuses_or_a_malformed_region_is_not_stored(bedrock_world, fake):
    wrong = {**ORG_AWS, "secret_access_key": "not/the/right/secret/at/all"}
    with pytest.raises(byok.CredentialRefused, match=r"refused this key \(403\)"):
        byok.save_credential(bedrock_world.org, bedrock_world.bedrock, wrong)
    with pytest.raises(byok.CredentialRefused, match="region is not valid"):
        byok.save_credential(bedrock_world.org, bedrock_world.bedrock, {**ORG_AWS, "region": "x.attacker.test/"})
    with pytest.raises(byok.CredentialRefused, match="secret_access_key is required"):
        byok.save_credential(bedrock_world.org, bedrock_world.bedrock, {**ORG_AWS, "secret_access_key": ""})
    assert len(fake.requests) == 1 and not OrgCredential.objects.exists()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_the_orgs_bedrock_request_is_signed_with_its_own_key_in_its_region_and_pays_the_fee(
    live, bedrock_world, fake, stream
):
    byok.save_credential(bedrock_world.org, bedrock_world.bedrock, ORG_AWS)
    fake.reset()
    before = bedrock_world.balance
    client = anthropic_client(live, bedrock_world.raw)
    if stream:
        with client.messages.stream(model="claude-b", max_tokens=64, messages=HI) as events:
            events.get_final_message()
    else:
        client.messages.create(model="claude-b", max_tokens=64, messages=HI)
    (sent,) = fake.requests
    assert sent.path.startswith("/model/anthropic.claude-fake-text-v1/invoke")
    assert access_key_id(sent.headers["Authorization"]) == ORG_AWS["access_key_id"]
    assert "/eu-west-3/bedrock/aws4_request" in sent.headers["Authorization"]
    assert "X-Amz-Security-Token" not in sent.headers  # qlaud's session token never rides along
    (row,) = billed()
    assert row.byok and row.upstream_cost == 0 and row.cost == byok_fee()
    assert before - bedrock_world.balance == byok_fee()


def test_a_bedrock_key_revoked_after_saving_fails_over_to_qlauds_key_with_mine_first(live, bedrock_world, fake):
    cred = byok.save_credential(bedrock_world.org, bedrock_world.bedrock, ORG_AWS)
    AWS_SECRETS.pop(ORG_AWS["access_key_id"])  # the org revoked it at AWS
    fake.reset()
    anthropic_client(live, bedrock_world.raw).messages.create(model="claude-b", max_tokens=64, messages=HI)
    keys = [access_key_id(r.headers["Authorization"]) for r in fake.requests]
    assert keys == [ORG_AWS["access_key_id"], TEST_CREDENTIALS[0]]
    (row,) = billed()
    assert not row.byok and row.upstream_cost > 0
    cred.refresh_from_db()
    assert cred.last_error.startswith("403")


def test_a_plain_key_stored_before_the_provider_became_bedrock_is_not_used(live, bedrock_world, fake):
    OrgCredential.objects.create(
        org=bedrock_world.org,
        provider=bedrock_world.bedrock,
        secret_encrypted=crypto.encrypt("sk-old-plain-key-1"),
        last4="y-1",
    )
    assert byok.load_org_keys(bedrock_world.org.pk) == {}
    anthropic_client(live, bedrock_world.raw).messages.create(model="claude-b", max_tokens=64, messages=HI)
    assert [access_key_id(r.headers["Authorization"]) for r in fake.requests] == [TEST_CREDENTIALS[0]]
    (row,) = billed()
    assert not row.byok


def test_charlies_bedrock_requests_never_use_alices_key(live, bedrock_world, fake, org_b, charlie):
    from accounts.keys import mint_key
    from wallet.ledger import adjust

    byok.save_credential(bedrock_world.org, bedrock_world.bedrock, ORG_AWS)
    fake.reset()
    _key, raw = mint_key(org_b, charlie, "charlie's key")
    adjust(org_id=org_b.pk, amount=10_000_000, reason="test credit", idempotency_key=f"credit-{org_b.pk}")
    anthropic_client(live, raw).messages.create(model="claude-b", max_tokens=64, messages=HI)
    assert [access_key_id(r.headers["Authorization"]) for r in fake.requests] == [TEST_CREDENTIALS[0]]
    (row,) = billed()
    assert not row.byok and row.org_id == org_b.pk


# --- Vertex ----------------------------------------------------------------------------------


def test_a_vertex_service_account_is_checked_by_minting_a_token_from_qlauds_token_uri(
    vertex_world, token_server, org_service_account
):
    cred = byok.save_credential(vertex_world.org, vertex_world.vertex, vertex_fields(org_service_account))
    (assertion,) = token_server.assertions  # the attacker's token_uri in the JSON was never asked
    assert jwt_claims(assertion)["iss"] == ORG_EMAIL
    assert cred.last4 == "9876" and cred.label == f"{ORG_EMAIL} · alice-project · europe-west1"
    assert org_service_account["private_key"][40:80] not in cred.secret_encrypted


def test_a_malformed_service_account_or_project_is_not_stored(vertex_world, token_server, org_service_account):
    for fields, message in [
        ({**vertex_fields(org_service_account), "service_account": "{not json"}, "not JSON"),
        (vertex_fields({**org_service_account, "type": "authorized_user"}), "type service_account"),
        (vertex_fields({**org_service_account, "private_key": "garbage"}), "could not be read"),
        ({**vertex_fields(org_service_account), "project": "../../etc"}, "project is not valid"),
        ({**vertex_fields(org_service_account), "region": "eu.attacker.test"}, "region is not valid"),
    ]:
        with pytest.raises(byok.CredentialRefused, match=message):
            byok.save_credential(vertex_world.org, vertex_world.vertex, fields)
    assert not token_server.assertions and not OrgCredential.objects.exists()


def test_the_orgs_vertex_request_uses_a_token_of_its_own_account_in_its_project_and_pays_the_fee(
    live, vertex_world, fake, token_server, org_service_account
):
    byok.save_credential(vertex_world.org, vertex_world.vertex, vertex_fields(org_service_account), byok.ONLY_MINE)
    anthropic_client(live, vertex_world.raw).messages.create(model="claude-v", max_tokens=64, messages=HI)
    (sent,) = fake.requests
    assert sent.path == (
        "/v1/projects/alice-project/locations/europe-west1/publishers/anthropic/models/claude-fake-text@20250929:rawPredict"
    )
    minted = {f"Bearer ya29.fake-{i}": jwt_claims(a)["iss"] for i, a in enumerate(token_server.assertions, start=1)}
    assert minted[sent.headers["Authorization"]] == ORG_EMAIL
    (row,) = billed()
    assert row.byok and row.upstream_cost == 0 and row.cost == byok_fee()
    anthropic_client(live, vertex_world.raw).messages.create(model="claude-v", max_tokens=64, messages=HI)
    assert len(token_server.assertions) == 2  # the check on save, then one token for every request after it
    assert fake.requests[1].headers["Authorization"] == sent.headers["Authorization"]


# --- the API and the dashboard take the same shapes --------------------------------------------


def test_the_api_stores_a_bedrock_key_and_never_returns_its_secret(bedrock_world, fake, alice):
    api = bearer(mk(alice, bedrock_world.org))
    created = api.post("/api/v1/byok/", {"provider": "bedrock", **ORG_AWS, "mode": "only_mine"}, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["last4"], created.json()["label"], created.json()["mode"]) == (
        "7777",
        "eu-west-3",
        "only_mine",
    )
    listed = api.get("/api/v1/byok/")
    for response in (created, listed):
        assert ORG_AWS["secret_access_key"].encode() not in response.content
        assert ORG_AWS["access_key_id"][:-4].encode() not in response.content
    refused = api.post("/api/v1/byok/", {"provider": "bedrock", **ORG_AWS, "region": "nowhere"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "byok_key_refused"


@pytest.mark.django_db(transaction=True)  # every app: the dashboard renders templates of apps E2E_APPS leaves out
def test_the_dashboard_stores_a_vertex_service_account_and_shows_its_label(
    client, alice, vertex_world, token_server, org_service_account
):
    client.force_login(alice)
    form = {"provider": "vertex", "mode": "mine_first", **vertex_fields(org_service_account)}
    response = client.post("/dashboard/org/settings/byok/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get("/dashboard/org/settings/byok/").content.decode()
    assert "…9876" in page and ORG_EMAIL in page and "europe-west1" in page
    assert org_service_account["private_key"][40:80] not in page
    bad = client.post("/dashboard/org/settings/byok/", {**form, "project": "Bad Project!"})
    assert bad.status_code == 200 and "project is not valid" in bad.content.decode()
