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


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks enqueued by wallet code run inline in tests, even when REDIS_URL is set: a task must
    never land on the shared broker where some other worker (another database) would take it."""
    from qlaud.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


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


from wallet.tests.fake_stripe import fake_stripe  # noqa: E402,F401  (the fixture, for every wallet test)

WEBHOOK_SECRET = "whsec_test_wallet"


@pytest.fixture
def webhook_endpoint(db):
    """dj-stripe's endpoint row holding the signing secret; webhooks post to its uuid URL."""
    from djstripe.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        id="we_test_wallet",
        livemode=False,
        url="http://testserver/stripe/webhook/",
        secret=WEBHOOK_SECRET,
        enabled_events=["*"],
        api_version="2024-04-10",
        status="enabled",
    )


@pytest.fixture
def post_event(client, webhook_endpoint, django_capture_on_commit_callbacks):
    """POST a signed Stripe event to the real dj-stripe endpoint; returns the response."""
    import json

    from wallet.tests.fake_stripe import sign

    def post(event: dict, *, secret: str = WEBHOOK_SECRET):
        body = json.dumps(event)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/stripe/webhook/{webhook_endpoint.djstripe_uuid}/",
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(body, secret),
            )

    return post


@pytest.fixture
def alice_client(client, alice, org_a):
    client.force_login(alice)
    return client


@pytest.fixture
def request_log(db):
    """Make a RequestLog row the way the gateway records one (defaults: a small Sonnet call)."""
    from requestlog.models import RequestLog

    def make(org, key=None, request_id: str = "req_1", **fields):
        values = {
            "surface": "messages",
            "requested_model": "claude-sonnet-4-5",
            "model": "claude-sonnet-4-5",
            "provider": "anthropic",
            "input_tokens": 1000,
            "output_tokens": 500,
            "upstream_cost": 10_500,
            "cost": 11_235,
            **fields,
        }
        return RequestLog.objects.create(org=org, api_key=key, request_id=request_id, **values)

    return make
