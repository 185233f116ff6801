"""Stripe Checkout top-ups and saved cards: the one seam through which the wallet talks to Stripe.

Whatever tells us a payment happened (the webhook, the success page, the sync task) ends in
`credit_session`, which re-reads the session from Stripe and credits it once: the Checkout Session
id is the ledger idempotency key.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings

from accounts.models import Org
from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.money import cents_to_micros, micros_to_cents_floor

log = logging.getLogger(__name__)
SUCCESS_PATH = "/dashboard/wallet/success?session_id={CHECKOUT_SESSION_ID}"


def api_key() -> str:
    return settings.STRIPE_LIVE_SECRET_KEY if settings.STRIPE_LIVE_MODE else settings.STRIPE_TEST_SECRET_KEY


def _plain(obj: Any) -> dict[str, Any]:
    """stripe-python 15 objects are not dicts: work on plain data."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def ensure_customer(wallet: Wallet, email: str) -> str:
    """The org's Stripe customer, created on first payment so cards and receipts stay together."""
    if wallet.stripe_customer_id:
        return wallet.stripe_customer_id
    customer = stripe.Customer.create(
        api_key=api_key(),
        email=email,
        name=wallet.org.name,
        metadata={"org_id": str(wallet.org_id), "wallet_id": str(wallet.pk)},
        idempotency_key=f"customer-for-wallet-{wallet.pk}",
    )
    ledger.update_settings(wallet.org_id, stripe_customer_id=customer["id"])
    return customer["id"]


def charge_saved_card(
    wallet: Wallet, amount_micros: int, *, metadata: dict[str, str], description: str, idempotency_key: str
) -> stripe.PaymentIntent:
    """Charge the wallet's saved card off-session (the auto top-up); the PaymentIntent, or stripe.StripeError."""
    return stripe.PaymentIntent.create(
        api_key=api_key(),
        amount=micros_to_cents_floor(amount_micros),
        currency="usd",
        customer=wallet.stripe_customer_id,
        payment_method=wallet.stripe_payment_method_id,
        off_session=True,
        confirm=True,
        metadata=metadata,
        description=description,
        idempotency_key=idempotency_key,
    )


def create_topup_session(org: Org, amount_micros: int, email: str) -> str:
    """A Checkout Session (mode payment) for a top-up; returns the URL to send the customer to."""
    wallet = Wallet.objects.select_related("org").get(org=org)
    cents = micros_to_cents_floor(amount_micros)
    metadata = {"org_id": str(org.pk), "wallet_id": str(wallet.pk), "purpose": "topup"}
    session = stripe.checkout.Session.create(
        api_key=api_key(),
        mode="payment",
        customer=ensure_customer(wallet, email),
        client_reference_id=str(org.pk),
        line_items=[
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": cents,
                    "product_data": {"name": f"qlaud credits for {org.name}"},
                },
            }
        ],
        metadata=metadata,
        payment_intent_data={"metadata": metadata},
        success_url=f"{settings.SITE_URL}{SUCCESS_PATH}",
        cancel_url=f"{settings.SITE_URL}/dashboard/wallet/?cancelled=1",
    )
    return session["url"]


def create_card_session(org: Org, email: str) -> str:
    """A Checkout Session in setup mode: saves a card for off-session auto top-ups."""
    wallet = Wallet.objects.select_related("org").get(org=org)
    session = stripe.checkout.Session.create(
        api_key=api_key(),
        mode="setup",
        currency="usd",
        customer=ensure_customer(wallet, email),
        metadata={"org_id": str(org.pk), "wallet_id": str(wallet.pk), "purpose": "card"},
        success_url=f"{settings.SITE_URL}{SUCCESS_PATH}",
        cancel_url=f"{settings.SITE_URL}/dashboard/wallet/?cancelled=1",
    )
    return session["url"]


def retrieve_session(session_id: str) -> dict[str, Any]:
    session = stripe.checkout.Session.retrieve(
        session_id, api_key=api_key(), expand=["payment_intent.latest_charge", "setup_intent"]
    )
    return _plain(session)


def credit_session_id(session_id: str) -> bool:
    return credit_session(retrieve_session(session_id))


def credit_session(session: dict[str, Any]) -> bool:
    """Credit a paid top-up session (or save the card of a setup session). True if money moved."""
    org_id = _session_org(session)
    if org_id is None:
        return False
    if session.get("mode") == "setup":
        _save_card(org_id, session)
        return False
    if session.get("payment_status") != "paid" or session.get("currency", "usd") != "usd":
        return False
    intent = session.get("payment_intent") or {}
    charge = intent.get("latest_charge") if isinstance(intent, dict) else None
    receipt = {
        "checkout_session": session["id"],
        "payment_intent": intent.get("id") if isinstance(intent, dict) else intent,
        "charge": charge.get("id") if isinstance(charge, dict) else charge,
        "receipt_url": charge.get("receipt_url") if isinstance(charge, dict) else None,
        "amount_cents": session["amount_total"],
        "currency": "usd",
        "customer": session.get("customer"),
    }
    return ledger.credit_topup(
        org_id=org_id,
        amount=cents_to_micros(session["amount_total"]),
        reference=session["id"],
        idempotency_key=session["id"],
        receipt=receipt,
    )


def _session_org(session: dict[str, Any]) -> int | None:
    """The org a session pays for, only if its metadata names an existing wallet of that org."""
    metadata = session.get("metadata") or {}
    try:
        org_id, wallet_id = int(metadata["org_id"]), int(metadata["wallet_id"])
    except (KeyError, TypeError, ValueError):
        log.warning("checkout session %s has no qlaud metadata; ignored", session.get("id"))
        return None
    if not Wallet.objects.filter(pk=wallet_id, org_id=org_id).exists():
        log.error("checkout session %s names wallet %s of org %s: no such wallet", session["id"], wallet_id, org_id)
        return None
    return org_id


def _save_card(org_id: int, session: dict[str, Any]) -> None:
    intent = session.get("setup_intent")
    if isinstance(intent, str):
        intent = _plain(stripe.SetupIntent.retrieve(intent, api_key=api_key()))
    if not intent or intent.get("status") != "succeeded":
        return
    method = intent["payment_method"]
    method_id = method["id"] if isinstance(method, dict) else method
    ledger.update_settings(org_id, stripe_customer_id=intent["customer"], stripe_payment_method_id=method_id)


def org_for_payment(*, payment_intent: str | None, metadata: dict | None, customer: str | None) -> int | None:
    """Which org a charge, refund or dispute belongs to: our metadata, else our top-up records."""
    try:
        return int((metadata or {})["org_id"])
    except (KeyError, TypeError, ValueError):
        pass
    if payment_intent:
        entry = LedgerEntry.objects.filter(receipt__payment_intent=payment_intent).select_related("wallet").first()
        if entry is not None:
            return entry.wallet.org_id
    if customer:
        return Wallet.objects.filter(stripe_customer_id=customer).values_list("org_id", flat=True).first()
    return None
