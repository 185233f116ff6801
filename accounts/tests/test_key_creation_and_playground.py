"""Key creation that cannot be missed, and the playground's short-lived key."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from accounts.keys import PLAYGROUND_KEY_NAME, revoke_key
from accounts.models import ApiKey
from accounts.tests.conftest import raw_key_in
from qlaud.tests.conftest import _fresh_cache, seeded_catalog  # noqa: F401 - shared fixtures


def create_key(client, **fields):
    return client.post("/dashboard/keys/", {"name": "laptop", "limit_period": "month", **fields}).content.decode()


def test_a_new_key_is_shown_in_a_focusable_card_with_snippets_filled_with_the_key(alice_client, org_a, settings):
    settings.SITE_URL = "https://gw.example.com"
    html = create_key(alice_client)
    raw = raw_key_in(html)
    assert 'id="new-key-card" tabindex="-1" data-autofocus' in html
    assert f"ANTHROPIC_AUTH_TOKEN={raw}" in html and f"Bearer {raw}" in html
    assert "curl https://gw.example.com/v1/chat/completions" in html
    for label in ("curl", "openai-py", "anthropic-py", "Claude Code"):
        assert f">{label}</button>" in html


def test_a_new_key_offers_a_test_button_for_a_model_it_may_use(alice_client, org_a):
    html = create_key(alice_client, allowed_models="kimi-k2, gpt-5")
    raw = raw_key_in(html)
    assert f'data-test-key="{raw}" data-model="kimi-k2"' in html and "Test this key" in html


def test_the_key_panel_over_htmx_also_focuses_the_new_key(alice_client, org_a):
    html = alice_client.post(
        "/dashboard/keys/", {"name": "ci", "limit_period": "month"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in html and "data-autofocus" in html


def test_the_allowed_models_field_offers_catalog_ids_and_no_invalid_placeholder(alice_client, org_a, seeded_catalog):  # noqa: F811
    html = alice_client.get("/dashboard/keys/").content.decode()
    assert 'list="catalog-model-ids"' in html and '<datalist id="catalog-model-ids">' in html
    assert '<option value="deepseek-v3.2">' in html
    assert "claude-sonnet-4-5" not in html


def test_the_keys_page_headings_do_not_skip_a_level(alice_client, org_a):
    html = alice_client.get("/dashboard/keys/").content.decode()
    assert "<h3" not in html.split("Create a key", 1)[0]


def test_the_playground_mints_one_short_lived_playground_key_and_reuses_it(alice_client, org_a, alice):
    first = raw_key_in(alice_client.get("/dashboard/playground/").content.decode())
    again = raw_key_in(alice_client.get("/dashboard/playground/").content.decode())
    assert first == again
    key = ApiKey.objects.get(org=org_a, name__startswith=PLAYGROUND_KEY_NAME)
    assert key.created_by == alice and timezone.now() < key.expires_at <= timezone.now() + timedelta(hours=2)


def test_the_playground_mints_a_new_key_when_the_old_one_is_revoked_or_nearly_expired(alice_client, org_a):
    first = raw_key_in(alice_client.get("/dashboard/playground/").content.decode())
    revoke_key(ApiKey.objects.get(name__startswith=PLAYGROUND_KEY_NAME))
    second = raw_key_in(alice_client.get("/dashboard/playground/").content.decode())
    assert second != first
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=50)):
        third = raw_key_in(alice_client.get("/dashboard/playground/").content.decode())
    assert third != second


def test_the_playground_page_is_never_cached_and_has_a_model_picker(alice_client, org_a, seeded_catalog):  # noqa: F811
    response = alice_client.get("/dashboard/playground/")
    assert response["Cache-Control"] == "no-store"
    assert '<select id="pg-model"' in response.content.decode() and "deepseek-v3.2" in response.content.decode()


def test_charlies_playground_key_belongs_to_his_org(charlie_client, org_a, org_b):
    charlie_client.get("/dashboard/playground/")
    assert not ApiKey.objects.filter(org=org_a).filter(name__startswith=PLAYGROUND_KEY_NAME).exists()
    assert ApiKey.objects.filter(org=org_b, name__startswith=PLAYGROUND_KEY_NAME).count() == 1


def test_the_org_switcher_changes_org_only_with_its_button(alice_client, org_a, alice):
    from accounts.orgs import create_org

    create_org(alice, "Second")
    html = alice_client.get("/dashboard/keys/").content.decode()
    assert "onchange" not in html and ">Switch</button>" in html
