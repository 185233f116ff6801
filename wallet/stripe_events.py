"""dj-stripe webhook handlers -> ledger, dispatched through one dict.

dj-stripe verifies the signature and processes the event inside its own transaction; money is
moved by the ledger's own durable transaction, so the ledger call runs on commit. If it fails,
the webhook answers 500 (Stripe retries) and `sync_stripe` still finds missed top-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from djstripe.event_handlers import djstripe_receiver

from wallet import ledger, payments
from wallet.money import cents_to_micros

log = logging.getLogger(__name__)


def on_checkout_completed(obj: dict[str, Any]) -> None:
    payments.credit_session_id(obj["id"])


def on_charge_refunded(obj: dict[str, Any]) -> None:
    org_id = payments.org_for_payment(
        payment_intent=obj.get("payment_intent"), metadata=obj.get("metadata"), customer=obj.get("customer")
    )
    if org_id is None or not obj.get("amount_refunded"):
        log.warning("refund on charge %s matches no wallet; not debited", obj["id"])
        return
    receipt = {
        "charge": obj["id"],
        "payment_intent": obj.get("payment_intent"),
        "refunded_cents": obj["amount_refunded"],
    }
    ledger.debit_refund(
        org_id=org_id, charge_id=obj["id"], refunded_total=cents_to_micros(obj["amount_refunded"]), receipt=receipt
    )


def on_dispute_created(obj: dict[str, Any]) -> None:
    org_id = payments.org_for_payment(
        payment_intent=obj.get("payment_intent"), metadata=obj.get("metadata"), customer=None
    )
    if org_id is None:
        log.warning("dispute %s on charge %s matches no wallet; not debited", obj["id"], obj.get("charge"))
        return
    receipt = {"dispute": obj["id"], "charge": obj.get("charge"), "reason": obj.get("reason"), "cents": obj["amount"]}
    ledger.debit_dispute(
        org_id=org_id,
        amount=cents_to_micros(obj["amount"]),
        reference=obj.get("charge") or obj["id"],
        idempotency_key=f"dispute:{obj['id']}",
        receipt=receipt,
    )


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_checkout_completed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute_created,
}


@djstripe_receiver(list(HANDLERS))
def handle_wallet_event(sender: Any, event: Any, **kwargs: Any) -> None:
    handler = HANDLERS[event.type]
    obj = dict(event.data["object"])
    transaction.on_commit(lambda: handler(obj))
