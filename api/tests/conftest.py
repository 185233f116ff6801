from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import keys
from accounts.management_keys import mint_management_key
from accounts.models import Membership


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The personas' password hashing dominated these many small tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches(own_cache_namespace):
    """Throttle counters live in the cache (each test has its own key prefix), and key ids repeat
    across tests on SQLite."""
    keys._verifier = keys._store = None
    yield
    keys._verifier = keys._store = None


def mk(user, org, scope: str = "write") -> str:
    membership = Membership.objects.get(user=user, org=org)
    if not membership.is_manager:  # a member's key: minted while they were an admin, then demoted
        membership.role = Membership.Role.ADMIN
        _key, raw = mint_management_key(org, by=membership, name=f"{user.email} {scope}", scope=scope)
        Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.MEMBER)
        return raw
    _key, raw = mint_management_key(org, by=membership, name=f"{user.email} {scope}", scope=scope)
    return raw


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def alice_api(alice, org_a) -> APIClient:
    return bearer(mk(alice, org_a))


@pytest.fixture
def bob_api(bob, org_a) -> APIClient:
    return bearer(mk(bob, org_a))


@pytest.fixture
def charlie_api(charlie, org_b) -> APIClient:
    return bearer(mk(charlie, org_b))
