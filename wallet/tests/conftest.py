"""Wallet test fixtures. The ledger invariant is asserted after every wallet test that uses the DB."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _ledger_invariant(request: pytest.FixtureRequest):
    """After each DB-using test: balance == sum(entries) and held == sum(open holds), for every wallet."""
    names = request.fixturenames
    uses_db = "db" in names or "transactional_db" in names or request.node.get_closest_marker("django_db")
    if not uses_db or "allow_ledger_drift" in names:
        yield
        return
    # Requesting the DB fixture here orders our teardown before the database's.
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from wallet.ledger import assert_ledger_invariant

    assert_ledger_invariant()


@pytest.fixture
def wallet_a(org_a):
    from wallet.models import Wallet

    return Wallet.objects.get(org=org_a)


@pytest.fixture
def funded_a(org_a):
    """Org A with $10.00 credited through the ledger."""
    from wallet import ledger
    from wallet.models import Wallet

    ledger.credit_topup(org_id=org_a.pk, amount=10_000_000, reference="cs_seed", idempotency_key="cs_seed")
    return Wallet.objects.get(org=org_a)


@pytest.fixture
def key_a(org_a, alice):
    from accounts.models import ApiKey

    return ApiKey.objects.create(org=org_a, created_by=alice, name="ci", prefix="ak_test_a1", hashed="x" * 64)


@pytest.fixture
def allow_ledger_drift() -> None:
    """Requested by the few tests that break the invariant on purpose."""
