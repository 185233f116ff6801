from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts import keys


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    """Each test starts with empty per-process key caches and no pending usage."""
    keys._verifier = keys._store = None
    keys._used.clear()
    yield
    keys._verifier = keys._store = None


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice, org_a) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_client(bob, org_a) -> Client:
    return signed_in(bob)


@pytest.fixture
def charlie_client(charlie, org_b) -> Client:
    return signed_in(charlie)


def raw_key_in(html: str) -> str:
    match = re.search(r"ak_[A-Za-z0-9]{40}", html)
    assert match, "no raw key on the page"
    return match.group(0)
