from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.conftest import signed_in

ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-real-key/",
    "/accounts/password/reset/key/done/",
    "/accounts/inactive/",
    "/accounts/3rdparty/login/error/",
    "/accounts/3rdparty/login/cancelled/",
]
SIGNED_IN_PAGES = ["/accounts/email/", "/accounts/password/change/", "/accounts/logout/", "/accounts/3rdparty/"]


def assert_product_layout(html: str) -> None:
    assert 'class="site-header"' in html and "css/qlaud.css" in html and "js/qlaud.js" in html
    assert "auth-page" in html
    assert "Menu:" not in html  # allauth's bare default layout is gone


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_allauth_pages_render_in_the_product_layout(client, url):
    response = client.get(url)
    # allauth answers its social-login error page with 401 on purpose.
    assert response.status_code == (401 if "login/error" in url else 200)
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
    for href in [
        "/dashboard/keys/",
        "/dashboard/wallet/",
        "/dashboard/usage/",
        "/dashboard/team/",
        "/dashboard/aliases/",
    ]:
        assert f'href="{href}"' in html
    assert 'action="/dashboard/org/switch/"' in html and "Org B" in html and 'aria-current="page"' in html


def test_the_password_reset_flow_works_end_to_end_in_the_styled_pages(client, alice):
    import re

    from django.core import mail

    assert client.post("/accounts/password/reset/", {"email": "alice@example.com"}).status_code == 302
    link = re.search(r"http://\S+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    response = client.get(link, follow=True)
    assert_product_layout(response.content.decode())
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    new = "a brand new passphrase 77"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    assert Client().login(email="alice@example.com", password=new)
