"""Signed Stripe webhooks through the real dj-stripe endpoint, against the local fake Stripe."""

from __future__ import annotations

import pytest
from djstripe.models import WebhookEventTrigger

from wallet.models import LedgerEntry, Wallet


@pytest.fixture
def paid_session(fake_stripe, org_a):
    """A $20 Checkout Session for org A that the customer has paid."""
    wallet = Wallet.objects.get(org=org_a)
    metadata = {"org_id": str(org_a.pk), "wallet_id": str(wallet.pk), "purpose": "topup"}
    session = fake_stripe.create_session(
        {
            "mode": "payment",
            "metadata": metadata,
            "line_items": [{"quantity": "1", "price_data": {"unit_amount": "2000"}}],
        }
    )
    return fake_stripe.complete_session(session["id"])


def _balance(org) -> int:
    return Wallet.objects.get(org=org).balance


def test_a_completed_checkout_credits_the_wallet_once(fake_stripe, post_event, paid_session, org_a):
    response = post_event(fake_stripe.event("checkout.session.completed", paid_session))
    assert response.status_code == 200, response.content
    assert _balance(org_a) == 20_000_000
    entry = LedgerEntry.objects.get(kind="topup")
    assert (entry.idempotency_key, entry.reference) == (paid_session["id"], paid_session["id"])
    assert entry.receipt["payment_intent"] == paid_session["payment_intent"]
    assert entry.receipt["receipt_url"].startswith(fake_stripe.base_url)
    assert fake_stripe.calls("GET", f"/v1/checkout/sessions/{paid_session['id']}")
    trigger = WebhookEventTrigger.objects.get()
    assert trigger.valid and trigger.processed and not trigger.exception


def test_a_redelivered_event_and_a_second_event_for_the_same_session_credit_once(
    fake_stripe, post_event, paid_session, org_a
):
    event = fake_stripe.event("checkout.session.completed", paid_session)
    assert post_event(event).status_code == 200
    assert post_event(event).status_code == 200  # Stripe redelivers the same event id
    other = fake_stripe.event("checkout.session.completed", paid_session)  # a new event id, same session
    assert post_event(other).status_code == 200
    assert _balance(org_a) == 20_000_000
    assert LedgerEntry.objects.filter(kind="topup").count() == 1


def test_a_bad_signature_is_refused_and_credits_nothing(fake_stripe, post_event, paid_session, org_a):
    response = post_event(fake_stripe.event("checkout.session.completed", paid_session), secret="whsec_wrong")
    assert response.status_code == 400
    assert _balance(org_a) == 0


def test_an_unsigned_webhook_is_refused(client, webhook_endpoint, fake_stripe, paid_session, org_a):
    url = f"/stripe/webhook/{webhook_endpoint.djstripe_uuid}/"
    response = client.post(url, data="{}", content_type="application/json")
    assert response.status_code == 400
    assert _balance(org_a) == 0


def test_an_unpaid_session_credits_nothing(fake_stripe, post_event, org_a):
    wallet = Wallet.objects.get(org=org_a)
    metadata = {"org_id": str(org_a.pk), "wallet_id": str(wallet.pk)}
    session = fake_stripe.create_session(
        {"mode": "payment", "metadata": metadata, "line_items": [{"price_data": {"unit_amount": "500"}}]}
    )
    session["status"] = "complete"  # e.g. a delayed payment method: paid later, if ever
    assert post_event(fake_stripe.event("checkout.session.completed", session)).status_code == 200
    assert _balance(org_a) == 0


def test_a_session_naming_another_orgs_wallet_credits_nothing(fake_stripe, post_event, org_a, org_b):
    wallet_b = Wallet.objects.get(org=org_b)
    metadata = {"org_id": str(org_a.pk), "wallet_id": str(wallet_b.pk)}
    session = fake_stripe.create_session(
        {"mode": "payment", "metadata": metadata, "line_items": [{"price_data": {"unit_amount": "500"}}]}
    )
    fake_stripe.complete_session(session["id"])
    assert post_event(fake_stripe.event("checkout.session.completed", session)).status_code == 200
    assert _balance(org_a) == _balance(org_b) == 0


def test_a_refund_debits_the_refunded_part_once(fake_stripe, post_event, paid_session, org_a):
    post_event(fake_stripe.event("checkout.session.completed", paid_session))
    charge_id = fake_stripe.objects[paid_session["payment_intent"]]["latest_charge"]
    charge = fake_stripe.refund(charge_id, 500)
    event = fake_stripe.event("charge.refunded", charge)
    assert post_event(event).status_code == 200
    assert post_event(fake_stripe.event("charge.refunded", charge)).status_code == 200
    assert _balance(org_a) == 15_000_000
    charge = fake_stripe.refund(charge_id, 1000)  # a second partial refund: cumulative 15.00
    assert post_event(fake_stripe.event("charge.refunded", charge)).status_code == 200
    assert _balance(org_a) == 5_000_000
    refunds = LedgerEntry.objects.filter(kind="refund").order_by("pk")
    assert [e.amount for e in refunds] == [-5_000_000, -10_000_000]


def test_a_dispute_debits_the_disputed_amount_and_shows_in_the_history(
    fake_stripe, post_event, paid_session, org_a, alice_client
):
    post_event(fake_stripe.event("checkout.session.completed", paid_session))
    charge_id = fake_stripe.objects[paid_session["payment_intent"]]["latest_charge"]
    dispute = fake_stripe.dispute(charge_id)
    assert post_event(fake_stripe.event("charge.dispute.created", dispute)).status_code == 200
    assert post_event(fake_stripe.event("charge.dispute.created", dispute)).status_code == 200
    assert _balance(org_a) == 0
    entry = LedgerEntry.objects.get(kind="dispute")
    assert (entry.amount, entry.idempotency_key) == (-20_000_000, f"dispute:{dispute['id']}")
    page = alice_client.get("/dashboard/wallet/").content.decode()
    assert "Dispute" in page and "-$20.00" in page
