"""The site knows its own address: HOST/PORT in the default, the request's allowed host, and an explicit SITE_URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from lib.site_url import site_url

PORT_URL = "http://127.0.0.1:18500"
PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture
def on_port_18500(settings):
    """As `make run PORT=18500` configures it: SITE_URL unset, so it is the HOST/PORT default."""
    settings.SITE_URL = settings.SITE_URL_DEFAULT = PORT_URL
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ACCOUNT_RATE_LIMITS = False  # other tests' sign-ups share the local-memory cache
    return Client(HTTP_HOST="127.0.0.1:18500")


def other_ports(text: str) -> set[str]:
    return {port for port in re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)", text) if port != "18500"}


def test_settings_derive_the_site_url_from_host_and_port_when_it_is_unset():
    env = {k: v for k, v in os.environ.items() if k != "SITE_URL"} | {"PORT": "18500", "HOST": "0.0.0.0"}
    code = "import qlaud.settings as s; print(s.SITE_URL)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == PORT_URL  # 0.0.0.0 listens everywhere; links name the loopback address


def test_an_explicit_site_url_wins_over_the_request_host(settings, rf: RequestFactory):
    settings.SITE_URL = "https://gw.example.com"
    assert site_url(rf.get("/", HTTP_HOST="127.0.0.1:18500")) == "https://gw.example.com"


def test_a_request_host_outside_allowed_hosts_is_never_used(settings, rf: RequestFactory):
    settings.SITE_URL = settings.SITE_URL_DEFAULT = PORT_URL
    assert site_url(rf.get("/", HTTP_HOST="evil.example")) == PORT_URL
    assert site_url(rf.get("/", HTTP_HOST="localhost:18500")) == "http://localhost:18500"


@pytest.mark.django_db
def test_with_port_18500_no_page_or_snippet_names_another_port(on_port_18500, seeded_catalog):
    for path in ["/", "/docs/", "/docs/claude-code/", "/docs/api/", "/docs/account-api/", "/models/deepseek-v3.2"]:
        html = on_port_18500.get(path).content.decode()
        assert PORT_URL in html, path
        assert other_ports(html) == set(), path


@pytest.mark.django_db
def test_with_port_18500_the_api_error_links_name_that_port(on_port_18500):
    body = on_port_18500.get("/v1/nothing-here").json()
    assert f"{PORT_URL}/docs/api/" in body["error"]["message"]


@pytest.mark.django_db
@pytest.mark.usefixtures("own_cache_namespace")  # allauth sends one confirmation per address per 3 min
def test_with_port_18500_the_sign_up_email_names_that_port_and_confirming_signs_in(on_port_18500):
    client = on_port_18500
    client.post("/accounts/signup/", {"email": "dana@example.com", "password1": PASSWORD, "password2": PASSWORD})
    body = mail.outbox[0].body
    assert other_ports(body) == set() and "127.0.0.1:18500" in body
    path = re.search(r"http://127\.0\.0\.1:18500(/accounts/confirm-email/\S+/)", body).group(1)
    client.post(path)
    assert client.get("/dashboard/").status_code == 200  # signed in by the confirmation


@pytest.mark.django_db
def test_with_port_18500_the_invitation_link_names_that_port(
    on_port_18500, alice, org_a, django_capture_on_commit_callbacks
):
    on_port_18500.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        on_port_18500.post("/dashboard/team/", {"email": "dana@example.com", "role": "member"})
    assert f"{PORT_URL}/dashboard/invitations/" in mail.outbox[-1].body
    assert other_ports(mail.outbox[-1].body) == set()
