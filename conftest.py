"""Project-wide test fixtures: personas shared by every app's tests.

alice owns org A, bob is a member of org A, charlie owns org B and must see nothing of A's.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import settings as hypothesis_settings

from lib import shared_state

# Property tests check results, not speed: on a loaded two-core CI machine an example may take
# longer than Hypothesis's default 200 ms deadline without anything being wrong.
hypothesis_settings.register_profile("qlaud", deadline=None)
hypothesis_settings.load_profile("qlaud")


# This run's cache keys are its own. On the shared Redis a previous run's keys would otherwise be
# seen: allauth's one-confirmation-email-per-address-per-3-minutes limit, for one, kept a sign-up
# test of this run from getting its email when another run had signed the same address up just
# before. Servers the tests start (uvicorn, Celery) inherit the prefix from the environment.
_RUN_PREFIX = f"{django_settings.CACHES['default'].get('KEY_PREFIX') or 'qlaud'}-run{uuid.uuid4().hex[:12]}"
django_settings.CACHES["default"]["KEY_PREFIX"] = _RUN_PREFIX
os.environ["CACHE_PREFIX"] = _RUN_PREFIX
if "CONFIG" in django_settings.CHANNEL_LAYERS["default"]:
    django_settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = _RUN_PREFIX


@pytest.fixture(autouse=True, scope="session")
def _run_cache_keys_deleted():
    yield
    if django_settings.REDIS_URL:
        _delete_keys(_RUN_PREFIX)


@pytest.fixture(autouse=True, scope="session")
def _urlconf_loaded():
    """Load the site's URLconf (and with it the admin modules, qlaud/urls.py) while every app is
    installed: a test restricted to some `available_apps` that loaded it first would fail there."""
    from importlib import import_module

    from django.conf import settings

    import_module(settings.ROOT_URLCONF)


@pytest.fixture(autouse=True)
def _own_shared_state_dir(settings, tmp_path_factory):
    """Embedded-mode shared files (key epoch, catalog version) of tests never touch a dev server's."""
    settings.SHARED_STATE_DIR = str(tmp_path_factory.getbasetemp() / "shared-state")


@pytest.fixture
def own_cache_namespace(settings):
    """A KEY_PREFIX of this test's own, so what it cached is out of sight of every other test; on
    Redis its keys (some never expire: the catalog version, the key epoch) are deleted afterwards.

    Instead of cache.clear(): on Redis that flushes the whole shared cache database, other test
    runs' keys (and a dev server's) included.
    """
    default = settings.CACHES["default"]
    prefix = f"{default.get('KEY_PREFIX', '')}-t{uuid.uuid4().hex}"
    settings.CACHES = {"default": {**default, "KEY_PREFIX": prefix}}
    yield
    if settings.REDIS_URL:
        _delete_keys(prefix)


def _delete_keys(prefix: str) -> None:
    with redis.Redis.from_url(shared_state.redis_url()) as client:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_process_memos():
    """Ids are reused across tests on SQLite (rolled-back sequences): drop per-process memos."""
    from wallet import leases, ledger

    ledger._wallet_ids.clear()
    leases.reset()
    yield
    ledger._wallet_ids.clear()
    leases.reset()


@pytest.fixture(autouse=True)
def _default_site(request):
    """The sites framework's row 1 (allauth reads it). Transactional tests that name their
    `available_apps` flush it without re-creating it, which would break whichever test runs next."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if not (marker or "db" in names or "transactional_db" in names):
        return
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.contrib.sites.models import Site

    Site.objects.get_or_create(pk=1, defaults={"domain": "127.0.0.1:8000", "name": "qlaud"})


@pytest.fixture(autouse=True)
def _db_pool_only_with_committed_data(request, monkeypatch):
    """The gateway's DB pool threads have their own connections: they only see committed rows,
    so tests wrapped in one uncommitted transaction use Django's thread-sensitive path instead."""
    from lib import threads

    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(marker and marker.kwargs.get("transaction"))
    monkeypatch.setattr(threads, "enabled", transactional)


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
