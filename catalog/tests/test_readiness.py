"""Providers without their settings are "not configured": in the snapshot, /v1/catalog, /models and setprovider."""

from __future__ import annotations

import asyncio
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.keys import mint_key, revoke_key
from catalog import health, readiness, snapshot
from catalog.crypto import encrypt
from catalog.models import Host, OrgCredential, Provider
from catalog.tests.conftest import make_host, make_model, make_provider

ENV = (
    "QLAUD_TEST_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "VERTEX_PROJECT",
    "QLAUD_TEST_ACCOUNT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def missing(protocol: str, *, base_url: str = "https://x.test", key_env: str = "", stored: bool = False, **config):
    return readiness.missing(
        protocol=protocol, base_url=base_url, api_key_env=key_env, has_stored_key=stored, config=config
    )


def test_a_key_variable_that_is_unset_is_missing_and_a_stored_key_or_the_variable_fixes_it(monkeypatch):
    assert missing("openai", key_env="QLAUD_TEST_KEY") == ("QLAUD_TEST_KEY",)
    assert missing("anthropic", key_env="QLAUD_TEST_KEY", stored=True) == ()
    monkeypatch.setenv("QLAUD_TEST_KEY", "sk-x")
    assert missing("openai", key_env="QLAUD_TEST_KEY") == ()


def test_a_provider_that_names_no_key_variable_needs_no_key():
    assert missing("openai") == ()  # a local vLLM or Ollama


def test_bedrock_takes_a_bearer_key_or_an_access_key_pair(monkeypatch):
    assert missing("bedrock", key_env="AWS_BEARER_TOKEN_BEDROCK") == ("AWS_BEARER_TOKEN_BEDROCK",)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    assert missing("bedrock", key_env="AWS_BEARER_TOKEN_BEDROCK") == ("AWS_BEARER_TOKEN_BEDROCK",)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert missing("bedrock", key_env="AWS_BEARER_TOKEN_BEDROCK") == ()


def test_vertex_needs_credentials_and_a_project(monkeypatch):
    assert missing("vertex-anthropic", key_env="VERTEX_ACCESS_TOKEN") == (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "VERTEX_PROJECT",
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/sa.json")
    assert missing("vertex-openai", key_env="VERTEX_ACCESS_TOKEN") == ("VERTEX_PROJECT",)
    assert missing("vertex-openai", key_env="VERTEX_ACCESS_TOKEN", project="p") == ()


def test_a_base_url_placeholder_needs_its_config_or_variable(monkeypatch):
    url = "https://api.test/accounts/{account_id}/ai/v1"
    assert missing("openai", base_url=url, account_id_env="QLAUD_TEST_ACCOUNT") == ("QLAUD_TEST_ACCOUNT",)
    monkeypatch.setenv("QLAUD_TEST_ACCOUNT", "acc")
    assert missing("openai", base_url=url, account_id_env="QLAUD_TEST_ACCOUNT") == ()
    assert missing("openai", base_url="https://{region}.test", region="eu") == ()


def test_the_demo_follows_the_qlaud_demo_setting(settings):
    settings.QLAUD_DEMO = False
    assert missing("demo") == ("QLAUD_DEMO",)
    settings.QLAUD_DEMO = True
    assert missing("demo") == ()


@pytest.fixture
def unconfigured(db):
    deepseek = make_provider("deepseek", name="DeepSeek", api_key_env="QLAUD_TEST_KEY")
    groq = make_provider("groq", name="Groq")  # names no key variable: configured
    make_host(make_model("ds", name="DeepSeek model"), deepseek)
    make_host(make_model("mixed", name="Mixed model"), deepseek, priority=1)
    make_host(make_model("mixed-2", name="Mixed two"), groq)
    mixed = make_model("both", name="Both hosts")
    make_host(mixed, deepseek, upstream="a", priority=1)
    make_host(mixed, groq, upstream="b", priority=2)
    return deepseek


def test_the_snapshot_marks_a_provider_without_its_key_and_says_how_to_configure_it(unconfigured):
    snap = snapshot.get_snapshot_sync()
    deepseek, groq = snap.providers["deepseek"], snap.providers["groq"]
    assert (deepseek.configured, deepseek.missing) == (False, ("QLAUD_TEST_KEY",))
    assert deepseek.setup_hint() == (
        "deepseek is not configured: set QLAUD_TEST_KEY and run"
        " `manage.py setprovider deepseek --api-key-env QLAUD_TEST_KEY --enable`"
    )
    assert groq.configured and groq.setup_hint() == ""


def test_the_catalog_api_shows_not_configured_hosts_and_models(client, unconfigured):
    body = {m["id"]: m for m in client.get("/v1/catalog").json()["data"]}
    assert body["ds"]["status"] == "not configured"
    (host,) = body["ds"]["hosts"]
    assert host["status"] == "not configured"
    assert host["not_configured"]["missing"] == ["QLAUD_TEST_KEY"]
    assert "setprovider deepseek" in host["not_configured"]["hint"]
    both = body["both"]
    assert both["status"] == "available"
    assert [h["status"] for h in both["hosts"]] == ["not configured", "up"]
    assert "not_configured" not in both["hosts"][1]


def test_the_models_pages_say_not_configured_instead_of_up(client, unconfigured):
    listing = client.get("/models").content.decode()
    assert listing.count(">not configured</span>") == 2  # ds and mixed; "both" has a configured host
    page = client.get("/models/ds").content.decode()
    assert ">not configured</span>" in page and "badge-ok" not in page
    assert 'title="deepseek is not configured: set QLAUD_TEST_KEY' in page


def test_the_models_pages_show_a_provider_the_viewers_org_has_its_own_key_for_as_available_to_that_org_only(
    client, unconfigured, org_a, org_b, alice, charlie
):
    OrgCredential.objects.create(
        org=org_a, provider=unconfigured, secret_encrypted=encrypt("sk-alice-own-1234"), last4="1234"
    )
    client.force_login(alice)
    listing = client.get("/models").content.decode()
    assert ">not configured</span>" not in listing
    page = client.get("/models/ds").content.decode()
    assert ">not configured</span>" not in page and '<span class="badge badge-ok">up</span>' in page
    assert ">your key</span>" in page

    client.force_login(charlie)  # org B has no key of its own: as before
    assert client.get("/models").content.decode().count(">not configured</span>") == 2
    page = client.get("/models/ds").content.decode()
    assert ">not configured</span>" in page and ">your key</span>" not in page


@pytest.fixture
def callers(unconfigured, org_a, org_b, alice, charlie):
    """Headers of three callers of the API: org A has its own DeepSeek key, org B has none, and an anonymous one."""
    OrgCredential.objects.create(
        org=org_a, provider=unconfigured, secret_encrypted=encrypt("sk-alice-own-1234"), last4="1234"
    )
    _, alice_key = mint_key(org_a, alice, "alice")
    _, charlie_key = mint_key(org_b, charlie, "charlie")
    return {
        "alice": {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"},
        "charlie": {"HTTP_X_API_KEY": charlie_key},
        "anon": {},
    }


def catalog_of(client, headers, query="") -> dict:
    return {m["id"]: m for m in client.get(f"/v1/catalog{query}", **headers).json()["data"]}


def assert_not_configured(body: dict) -> None:
    assert body["ds"]["status"] == "not configured"
    (host,) = body["ds"]["hosts"]
    assert host["status"] == "not configured" and "own_key" not in host
    assert host["not_configured"]["missing"] == ["QLAUD_TEST_KEY"]


def test_the_catalog_api_shows_a_provider_the_callers_org_has_its_own_key_for_as_up_to_that_org_only(client, callers):
    body = catalog_of(client, callers["alice"])
    assert body["ds"]["status"] == "available"
    (host,) = body["ds"]["hosts"]
    assert host["status"] == "up" and host["own_key"] is True and "not_configured" not in host
    assert [(h["status"], h.get("own_key")) for h in body["both"]["hosts"]] == [("up", True), ("up", None)]
    assert catalog_of(client, callers["alice"], "?include_latency=true")["ds"]["hosts"][0]["own_key"] is True

    assert_not_configured(catalog_of(client, callers["charlie"]))  # org B has no key of its own: as before
    assert_not_configured(catalog_of(client, callers["anon"]))


@pytest.mark.parametrize("order", [("alice", "charlie", "anon"), ("anon", "charlie", "alice", "anon")])
def test_one_orgs_view_of_the_catalog_never_reaches_another_caller_whichever_asks_first(client, callers, order):
    for who in order:
        response = client.get("/v1/catalog", **callers[who])
        host = {m["id"]: m for m in response.json()["data"]}["ds"]["hosts"][0]
        assert (host["status"], host.get("own_key")) == (("up", True) if who == "alice" else ("not configured", None))
        assert response["Cache-Control"].startswith("private" if who == "alice" else "public")
        assert "Authorization" in response["Vary"]


def test_the_own_key_host_follows_its_circuit_like_a_configured_one(client, callers, settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    host_id = Host.objects.get(model__public_id="ds").id
    asyncio.run(health.record_outcome(host_id, ok=False, ttft_ms=None, status=503))
    body = catalog_of(client, callers["alice"])
    assert body["ds"]["status"] == "unavailable" and body["ds"]["hosts"][0]["status"] == "down"
    assert_not_configured(catalog_of(client, callers["anon"]))


def test_a_refused_or_revoked_key_gets_the_anonymous_catalog_not_an_error(client, callers, org_a, alice):
    key, raw = mint_key(org_a, alice, "soon revoked")
    revoke_key(key)
    for headers in (
        {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        {"HTTP_X_API_KEY": "ak_unused"},
        {"HTTP_X_API_KEY": "mk_x"},
    ):
        response = client.get("/v1/catalog", **headers)
        assert response.status_code == 200 and response["Cache-Control"].startswith("public")
        assert_not_configured({m["id"]: m for m in response.json()["data"]})


def test_the_model_list_lists_not_configured_models_to_every_caller_as_the_models_page_does(client, callers):
    for headers in callers.values():
        assert "ds" in {m["id"] for m in client.get("/v1/models", **headers).json()["data"]}


def test_a_model_id_with_a_slash_has_its_own_page(client, db, settings):
    settings.QLAUD_DEMO = True
    make_host(make_model("qlaud/demo", name="qlaud demo"), make_provider("demo", protocol="demo"))
    response = client.get("/models/qlaud/demo")
    assert response.status_code == 200 and "qlaud demo" in response.content.decode()


def setprovider(*args: str) -> str:
    out = StringIO()
    call_command("setprovider", *args, stdout=out)
    return out.getvalue()


def test_setprovider_refuses_to_enable_a_provider_whose_key_variable_is_unset(db, monkeypatch):
    make_provider("deepseek", enabled=False)
    with pytest.raises(CommandError) as refused:
        setprovider("deepseek", "--api-key-env", "QLAUD_TEST_KEY", "--enable")
    assert str(refused.value) == (
        "Not enabled: deepseek is not configured: set QLAUD_TEST_KEY and run"
        " `manage.py setprovider deepseek --api-key-env QLAUD_TEST_KEY --enable`."
    )
    assert Provider.objects.get(slug="deepseek").enabled is False
    monkeypatch.setenv("QLAUD_TEST_KEY", "sk-x")
    assert "enabled" in setprovider("deepseek", "--api-key-env", "QLAUD_TEST_KEY", "--enable")
    assert Provider.objects.get(slug="deepseek").enabled is True


def test_setprovider_refuses_to_enable_vertex_without_a_project(db, monkeypatch):
    make_provider("vertex", protocol="vertex-anthropic", enabled=False, config={"location": "global"})
    with pytest.raises(CommandError, match=r"vertex is not configured: set GOOGLE_APPLICATION_CREDENTIALS and"):
        setprovider("vertex", "--enable")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/sa.json")
    with pytest.raises(CommandError, match=r"set VERTEX_PROJECT and run"):
        setprovider("vertex", "--enable")
    monkeypatch.setenv("VERTEX_PROJECT", "proj")
    setprovider("vertex", "--enable")
    assert Provider.objects.get(slug="vertex").enabled is True


def test_setprovider_with_a_stored_key_enables_without_an_environment_variable(db):
    make_provider("deepseek", enabled=False, api_key_env="QLAUD_TEST_KEY")
    assert "enabled" in setprovider("deepseek", "--api-key", "sk-stored-fake", "--enable")
