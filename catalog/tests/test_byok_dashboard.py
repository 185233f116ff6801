"""/dashboard/org/settings/byok/: alice (owner of A) lists, adds (checked upstream), re-modes and removes the org's
own provider keys; bob (member of A) cannot see or change them; charlie (owner of B) gets 404 on A's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog import byok
from catalog.crypto import decrypt, encrypt
from catalog.models import OrgCredential, Provider
from gateway.tests.conftest import fake, fake_upstream  # noqa: F401 (fixtures: keys are checked against the fake)
from gateway.tests.fake_upstream import REFUSED_KEY

PAGE = "/dashboard/org/settings/byok/"
STORED = "sk-alice-stored-key-4321"
NEW = "sk-alice-brand-new-key-8765"


@pytest.fixture
def openai_p(db, fake):  # noqa: F811
    return Provider.objects.create(slug="openai", name="OpenAI", protocol="openai", base_url=fake.url + "/v1")


@pytest.fixture
def stored(org_a, openai_p):
    return OrgCredential.objects.create(
        org=org_a,
        provider=openai_p,
        secret_encrypted=encrypt(STORED),
        last4=STORED[-4:],
        last_error="401: Incorrect API key provided",
        last_error_at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
    )


def test_an_owner_sees_the_orgs_keys_by_their_last_four_with_mode_and_last_error(client, alice, stored):
    client.force_login(alice)
    html = client.get(PAGE).content.decode()
    assert "OpenAI" in html and "…4321" in html and "Incorrect API key provided" in html and "Dec 6, 09:30" in html
    assert 'value="mine_first" selected' in html
    assert STORED not in html and STORED[:-4] not in html
    assert PAGE in client.get("/dashboard/org/settings/").content.decode()


def test_an_owner_adds_a_key_checked_upstream_without_javascript(client, alice, org_a, openai_p, fake):  # noqa: F811
    client.force_login(alice)
    response = client.post(PAGE, {"provider": "openai", "key": NEW, "mode": "only_mine"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert fake.requests[-1].path == "/v1/models" and fake.requests[-1].headers["Authorization"] == f"Bearer {NEW}"
    cred = OrgCredential.objects.get(org=org_a)
    assert (cred.last4, cred.mode, decrypt(cred.secret_encrypted)) == ("8765", "only_mine", NEW)
    page = client.get(PAGE).content.decode()
    assert "Stored your OpenAI key ending in 8765" in page and NEW not in page


def test_a_key_the_provider_refuses_is_not_stored_and_the_form_says_why(client, alice, openai_p):
    client.force_login(alice)
    response = client.post(PAGE, {"provider": "openai", "key": f"sk-{REFUSED_KEY}-0000", "mode": "mine_first"})
    html = response.content.decode()
    assert response.status_code == 200 and "OpenAI refused this key (401)" in html and "has-error" in html
    assert f"sk-{REFUSED_KEY}-0000" not in html  # the password field is not echoed back
    assert not OrgCredential.objects.exists()


def test_a_malformed_form_is_answered_with_field_errors_in_the_htmx_panel(client, alice, openai_p):
    client.force_login(alice)
    response = client.post(PAGE, {"provider": "nope", "key": "", "mode": "sometimes"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="byok-panel">')
    assert html.count("Select a valid choice") == 2  # provider and mode
    for key in ("", "short"):
        short = client.post(PAGE, {"provider": "openai", "key": key, "mode": "mine_first"})
        assert "does not look like a provider key" in short.content.decode()
    assert not OrgCredential.objects.exists()


def test_an_owner_changes_the_mode_with_htmx_and_the_api_reads_it(client, alice, stored):
    client.force_login(alice)
    response = client.post(f"{PAGE}{stored.pk}/mode/", {"mode": "only_mine"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'value="only_mine" selected' in response.content.decode()
    stored.refresh_from_db()
    assert stored.mode == byok.ONLY_MINE
    assert byok.load_org_keys(stored.org_id)[stored.provider_id].mode == byok.ONLY_MINE
    bad = client.post(f"{PAGE}{stored.pk}/mode/", {"mode": "sometimes"})
    assert bad.status_code == 302
    stored.refresh_from_db()
    assert stored.mode == byok.ONLY_MINE


def test_an_owner_removes_a_key(client, alice, stored):
    client.force_login(alice)
    response = client.post(f"{PAGE}{stored.pk}/delete/")
    assert response.status_code == 302 and not OrgCredential.objects.exists()
    assert "qlaud&#x27;s key serves OpenAI again" in client.get(PAGE).content.decode()


def test_a_member_can_neither_see_nor_change_the_orgs_keys(client, bob, stored):
    client.force_login(bob)
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"provider": "openai", "key": NEW, "mode": "mine_first"}).status_code == 404
    assert client.post(f"{PAGE}{stored.pk}/mode/", {"mode": "only_mine"}).status_code == 404
    assert client.post(f"{PAGE}{stored.pk}/delete/").status_code == 404
    assert PAGE not in client.get("/dashboard/org/settings/").content.decode()
    stored.refresh_from_db()
    assert stored.mode == byok.MINE_FIRST and decrypt(stored.secret_encrypted) == STORED


def test_charlie_gets_404_on_another_orgs_key_and_sees_only_his_own_page(client, charlie, stored):
    client.force_login(charlie)
    html = client.get(PAGE).content.decode()
    assert "4321" not in html and "No provider keys yet" in html
    assert client.post(f"{PAGE}{stored.pk}/mode/", {"mode": "only_mine"}).status_code == 404
    assert client.post(f"{PAGE}{stored.pk}/delete/").status_code == 404
    assert OrgCredential.objects.filter(pk=stored.pk, mode=byok.MINE_FIRST).exists()


def test_the_forms_need_the_csrf_token(alice, stored):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"{PAGE}{stored.pk}/delete/").status_code == 403
    assert OrgCredential.objects.filter(pk=stored.pk).exists()
    assert 'name="csrfmiddlewaretoken"' in strict.get(PAGE).content.decode()
