"""Failed logins are throttled per client and account (settings.ACCOUNT_RATE_LIMITS, accounts/adapter.py):
a stranger's wrong passwords slow the stranger down and never lock the real user out."""

from __future__ import annotations

import random

import pytest
from django.test import Client

PASSWORD = "correct horse battery staple"  # the personas' password (conftest._person)
THROTTLED = "Too many failed login attempts"

pytestmark = pytest.mark.django_db


def _ip() -> str:
    """A fresh client address per test: the counts live in the shared cache, which outlives a test run."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def _log_in(client: Client, email: str, password: str, **headers: str):
    return client.post("/accounts/login/", {"login": email, "password": password}, **headers)


def test_five_failures_throttle_that_client_for_that_account_while_the_real_user_still_logs_in(alice):
    attacker = Client(REMOTE_ADDR=_ip())
    for _ in range(5):
        response = _log_in(attacker, "alice@example.com", "guess")
        assert response.status_code == 200 and THROTTLED not in response.content.decode()
    refused = _log_in(attacker, "alice@example.com", PASSWORD)  # even the right password, from this client
    assert refused.status_code == 200 and THROTTLED in refused.content.decode()
    assert "_auth_user_id" not in attacker.session

    alice_client = Client(REMOTE_ADDR=_ip())
    welcomed = _log_in(alice_client, "alice@example.com", PASSWORD)
    assert welcomed.status_code == 302 and welcomed["Location"] == "/dashboard/"
    assert alice_client.session["_auth_user_id"] == str(alice.pk)


def test_one_client_may_fail_at_most_ten_times_a_minute_across_accounts(alice, bob):
    attacker = Client(REMOTE_ADDR=_ip())
    for n in range(10):
        assert THROTTLED not in _log_in(attacker, f"nobody{n}@example.com", "guess").content.decode()
    assert THROTTLED in _log_in(attacker, "bob@example.com", "guess").content.decode()
    assert _log_in(Client(REMOTE_ADDR=_ip()), "bob@example.com", PASSWORD).status_code == 302


def test_addresses_of_one_ipv6_network_count_as_one_client(alice):
    site, subnet = random.randrange(65536), random.randrange(65535)
    network, next_network = f"2001:db8:{site:x}:{subnet:x}", f"2001:db8:{site:x}:{subnet + 1:x}"
    for host in range(1, 6):
        _log_in(Client(REMOTE_ADDR=f"{network}::{host}"), "alice@example.com", "guess")
    refused = _log_in(Client(REMOTE_ADDR=f"{network}::99"), "alice@example.com", PASSWORD)
    assert THROTTLED in refused.content.decode()
    assert _log_in(Client(REMOTE_ADDR=f"{next_network}::1"), "alice@example.com", PASSWORD).status_code == 302


def test_behind_a_load_balancer_the_client_is_read_from_x_forwarded_for(alice, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    balancer = "10.0.0.2"
    attacker, real = _ip(), _ip()
    for _ in range(5):
        _log_in(Client(REMOTE_ADDR=balancer), "alice@example.com", "guess", HTTP_X_FORWARDED_FOR=attacker)
    refused = _log_in(Client(REMOTE_ADDR=balancer), "alice@example.com", PASSWORD, HTTP_X_FORWARDED_FOR=attacker)
    assert THROTTLED in refused.content.decode()
    welcomed = _log_in(Client(REMOTE_ADDR=balancer), "alice@example.com", PASSWORD, HTTP_X_FORWARDED_FOR=real)
    assert welcomed.status_code == 302
