from __future__ import annotations

import pytest

from accounts.tests.conftest import signed_in

ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-real-key/",
]
SIGNED_IN_PAGES = ["/accounts/email/", "/accounts/password/change/", "/accounts/logout/"]


def assert_product_layout(html: str) -> None:
    assert 'class="site-header"' in html and "css/qlaud.css" in html and "js/qlaud.js" in html
    assert "auth-page" in html
    assert "Menu:" not in html  # allauth's bare default layout is gone


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_allauth_pages_render_in_the_product_layout(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_product_layout(response.content.decode())


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_account_management_pages_render_in_the_product_layout(alice, url):
    response = signed_in(alice).get(url)
    assert response.status_code == 200
    assert_product_layout(response.content.decode())


@pytest.mark.django_db
def test_the_login_form_is_styled_with_labels_and_a_primary_button(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_login">' in html and 'class="button button-block"' in html


@pytest.mark.django_db
def test_social_buttons_are_hidden_without_client_ids(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    html = client.get("/accounts/login/").content.decode()
    assert "Continue with GitHub" not in html and "Continue with Google" not in html


@pytest.mark.django_db
def test_a_social_button_appears_when_its_client_id_is_set(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {"APPS": [{"client_id": "gh-id", "secret": "gh-secret"}]}}
    html = client.get("/accounts/login/").content.decode()
    assert "Continue with GitHub" in html and "Continue with Google" not in html


@pytest.mark.django_db
def test_a_wrong_password_shows_an_error_in_the_form(client, alice):
    html = client.post("/accounts/login/", {"login": "alice@example.com", "password": "nope"}).content.decode()
    assert "errorlist" in html or "alert" in html


def test_the_dashboard_layout_has_the_sidebar_and_the_org_switcher(alice, org_a, org_b, charlie):
    from accounts.models import Membership

    Membership.objects.create(org=org_b, user=alice, role="member")
    html = signed_in(alice).get("/dashboard/").content.decode()
    for href in ["/dashboard/keys/", "/dashboard/wallet/", "/dashboard/usage/", "/dashboard/team/", "/dashboard/aliases/"]:
        assert f'href="{href}"' in html
    assert 'action="/dashboard/org/switch/"' in html and "Org B" in html and 'aria-current="page"' in html
