"""The site says what is true: contact and security addresses from settings, documented APIs, no unbacked claims."""

from __future__ import annotations

import inspect

import pytest

from gateway.surfaces.exchange import Exchange


def test_the_footer_shows_the_contact_address_from_settings(client, settings):
    settings.CONTACT_EMAIL = "hello@gw.example.com"
    html = client.get("/docs/").content.decode()
    assert 'href="mailto:hello@gw.example.com"' in html


def test_the_security_page_names_the_security_address_from_settings(client, settings):
    settings.SECURITY_EMAIL = "security@gw.example.com"
    html = client.get("/security").content.decode()
    assert "mailto:security@gw.example.com" in html and "/.well-known/security.txt" in html


def test_security_txt_lists_the_contact_and_an_expiry_a_year_ahead(client, settings):
    settings.SECURITY_EMAIL = "security@gw.example.com"
    settings.SITE_URL = "https://gw.example.com"
    response = client.get("/.well-known/security.txt")
    text = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "Contact: mailto:security@gw.example.com\n" in text
    assert "Canonical: https://gw.example.com/.well-known/security.txt" in text
    assert "Expires: 20" in text


@pytest.mark.django_db
def test_the_home_page_states_the_top_up_minimum_instead_of_no_minimum(client, settings):
    settings.TOPUP_MIN_USD = 5
    html = client.get("/").content.decode()
    assert "no minimum" not in html.lower() and "top-ups start at $5" in html


@pytest.mark.parametrize("path", ["/docs/api/", "/docs/routing/"])
def test_the_docs_name_the_headers_the_gateway_really_sends(client, path):
    sent = inspect.getsource(Exchange.headers)
    html = client.get(path).content.decode()
    assert "x-qlaud-host" in html and '"x-qlaud-host"' in sent
    assert "cost are in the dashboard, in the" not in html and "in the response headers" not in html


def test_the_api_docs_explain_include_latency_and_llms_txt_lists_the_catalog(client):
    assert "include_latency=true" in client.get("/docs/api/").content.decode()
    text = client.get("/llms.txt").content.decode()
    assert "/v1/catalog" in text and "include_latency=true" in text


@pytest.mark.parametrize("slug", ["anthropic-python", "anthropic-typescript", "langchain"])
def test_the_anthropic_sdks_and_chatanthropic_have_docs_pages_with_the_bare_base_url(client, settings, slug):
    settings.SITE_URL = "https://gw.example.com"
    html = client.get(f"/docs/{slug}/").content.decode()
    assert response_ok(html)
    assert "https://gw.example.com&quot;" in html or '"https://gw.example.com"' in html
    if slug == "langchain":
        assert "ChatAnthropic(base_url=" in html.replace("&quot;", '"')


def response_ok(html: str) -> bool:
    return "<h1" in html and "Notes" in html
