"""Project-wide test fixtures: personas shared by every app's tests.

alice owns org A, bob is a member of org A, charlie owns org B and must see nothing of A's.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _person(email: str):
    from allauth.account.models import EmailAddress

    from accounts.models import User

    user = User.objects.create_user(email, "correct horse battery staple")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def alice(db):
    return _person("alice@example.com")


@pytest.fixture
def bob(db):
    return _person("bob@example.com")


@pytest.fixture
def charlie(db):
    return _person("charlie@example.com")


@pytest.fixture
def org_a(alice, bob):
    from accounts.models import Membership
    from accounts.orgs import create_org

    org = create_org(alice, "Org A")
    Membership.objects.create(org=org, user=bob, role=Membership.Role.MEMBER)
    return org


@pytest.fixture
def org_b(charlie):
    from accounts.orgs import create_org

    return create_org(charlie, "Org B")
