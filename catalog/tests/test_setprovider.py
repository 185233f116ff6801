from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog import snapshot
from catalog.models import Provider
from catalog.tests.conftest import make_host, make_model, make_provider

RAW_KEY = "gsk_fake_9f8e7d6c5b4a39281706"  # not a real key: a stand-in shaped like one


def setprovider(*args: str) -> str:
    out = StringIO()
    call_command("setprovider", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_stored_key_is_encrypted_at_rest_and_readable_by_the_gateway():
    make_host(make_model("oss"), make_provider("groq", api_key_env="GROQ_API_KEY"))
    output = setprovider("groq", "--api-key", RAW_KEY)

    stored = Provider.objects.values_list("api_key_encrypted", flat=True).get(slug="groq")
    assert RAW_KEY not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert RAW_KEY not in output and "encrypted" in output
    assert snapshot.provider_api_key(snapshot.get_snapshot_sync().providers["groq"]) == RAW_KEY


@pytest.mark.django_db
def test_switching_back_to_an_env_var_forgets_the_stored_key(monkeypatch):
    monkeypatch.setenv("GROQ_KEY_2", "from-env")
    make_host(make_model("oss"), make_provider("groq"))
    setprovider("groq", "--api-key", RAW_KEY)
    setprovider("groq", "--api-key-env", "GROQ_KEY_2")
    groq = Provider.objects.get(slug="groq")
    assert groq.api_key_encrypted == "" and groq.api_key_env == "GROQ_KEY_2"
    assert snapshot.provider_api_key(snapshot.get_snapshot_sync().providers["groq"]) == "from-env"


@pytest.mark.django_db
def test_it_sets_base_url_cloudflare_routing_and_enabled():
    make_provider("groq")
    setprovider("groq", "--base-url", "https://proxy.test/groq/", "--via-cloudflare", "--disable")
    groq = Provider.objects.get(slug="groq")
    assert (groq.base_url, groq.via_cloudflare, groq.enabled) == ("https://proxy.test/groq", True, False)
    setprovider("groq", "--direct", "--enable")
    groq.refresh_from_db()
    assert (groq.via_cloudflare, groq.enabled) == (False, True)


@pytest.mark.django_db
def test_a_change_reaches_the_snapshot_at_once():
    make_host(make_model("oss"), make_provider("groq"))
    assert "oss" in snapshot.get_snapshot_sync().models
    setprovider("groq", "--disable")
    assert "oss" not in snapshot.get_snapshot_sync().models


@pytest.mark.django_db
def test_it_refuses_an_unknown_provider_or_no_change():
    make_provider("groq")
    with pytest.raises(CommandError, match="No provider 'nope'"):
        setprovider("nope", "--enable")
    with pytest.raises(CommandError, match="Nothing to change"):
        setprovider("groq")


@pytest.mark.django_db
def test_with_the_ai_gateway_switch_on_every_supported_provider_goes_through_it(settings):
    settings.CF_AIG_ON = True
    make_host(make_model("oss"), make_provider("groq", cf_segment="groq"))
    make_host(make_model("local"), make_provider("selfhosted", cf_segment=""))

    providers = snapshot.build_snapshot().providers
    assert providers["groq"].via_cloudflare is True
    assert providers["selfhosted"].via_cloudflare is False  # AI Gateway has no route for it


@pytest.mark.django_db
def test_a_provider_opted_out_with_no_aig_goes_direct_even_with_the_switch_on(settings):
    settings.CF_AIG_ON = True
    make_host(make_model("oss"), make_provider("groq", cf_segment="groq", via_cloudflare=True))
    output = setprovider("groq", "--no-aig")

    assert "opted out" in output
    assert snapshot.build_snapshot().providers["groq"].via_cloudflare is False
    setprovider("groq", "--aig")
    assert snapshot.build_snapshot().providers["groq"].via_cloudflare is True


@pytest.mark.django_db
def test_with_the_switch_off_only_providers_flagged_via_cloudflare_go_through_it(settings):
    settings.CF_AIG_ON = False
    make_host(make_model("oss"), make_provider("groq", cf_segment="groq"))
    make_host(make_model("gpt"), make_provider("openai", cf_segment="openai", via_cloudflare=True))

    providers = snapshot.build_snapshot().providers
    assert (providers["groq"].via_cloudflare, providers["openai"].via_cloudflare) == (False, True)
