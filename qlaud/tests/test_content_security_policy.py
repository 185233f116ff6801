"""Every HTML page carries the Content-Security-Policy (qlaud.middleware), and no template needs it relaxed:
no inline script, no inline event handler, no `<style>` element. test_browser_csp.py runs the pages under it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
OWN_TEMPLATES = [p for p in TEMPLATES.rglob("*.html") if "drf_spectacular" not in p.parts]  # Redoc: its own policy


def test_the_policy_allows_no_inline_script_no_eval_and_no_other_host():
    policy = dict(d.split(" ", 1) for d in settings.CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "http" not in settings.CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("template", OWN_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_an_inline_script_handler_or_style_element(template):
    text = template.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.search(text) and not INLINE_HANDLER.search(text) and not STYLE_ELEMENT.search(text)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/pricing", "/docs/", "/accounts/login/", "/no/such/page"])
def test_every_html_page_carries_the_policy(client, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_signed_in_pages_carry_it_too(client, alice, org_a):
    client.force_login(alice)
    for path in ("/dashboard/", "/dashboard/keys/", "/dashboard/usage/", "/dashboard/wallet/"):
        assert client.get(path)["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, path


@pytest.mark.django_db
def test_the_api_reference_has_its_own_wider_policy_and_json_none(client):
    reference = client.get("/docs/management-api/reference/")
    assert reference["Content-Security-Policy"] == settings.REDOC_CONTENT_SECURITY_POLICY
    assert "fonts.googleapis.com" not in reference.content.decode()  # nothing loaded from other hosts
    assert "Content-Security-Policy" not in client.get("/v1/models")


@pytest.mark.django_db
def test_django_sends_its_other_security_headers(client):
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin" and response["Cross-Origin-Opener-Policy"] == "same-origin"
