"""Auto top-up: charge the saved card off-session once per threshold crossing.

The ledger sets `auto_topup_triggered` when the balance crosses below the threshold (and clears it
when the balance rises above again), then enqueues this. The PaymentIntent's idempotency key names
the crossing, so a retried task cannot charge twice; the credit's key is the PaymentIntent id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import stripe

from wallet import ledger, payments
from wallet.models import LedgerEntry, Wallet
from wallet.money import cents_to_micros, format_usd
from wallet.notify import send_auto_topup_failed_email

if TYPE_CHECKING:
    from accounts.models import Membership

log = logging.getLogger(__name__)
NEEDS_CARD = "Save a card first: auto top-up charges it when you are not there."


class WalletSettingsError(Exception):
    """A wallet settings change the rules forbid; the message is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_owner(by: Membership) -> None:
    if by.role != "owner":
        raise WalletSettingsError("Only an owner can change the wallet's money settings.")


def configure_auto_topup(by: Membership, *, enabled: bool, threshold: int, amount: int) -> Wallet:
    """Turn auto top-up on or off (micro-dollars); the dashboard and the management API both call this."""
    _require_owner(by)
    wallet = ledger.ensure_wallet(by.org_id)
    if enabled and not wallet.stripe_payment_method_id:
        raise WalletSettingsError(NEEDS_CARD)
    return ledger.update_settings(
        by.org_id,
        auto_topup_enabled=enabled,
        auto_topup_threshold=threshold,
        auto_topup_amount=amount,
        auto_topup_last_error="",
    )


def set_low_balance_alert(by: Membership, threshold: int) -> Wallet:
    """The balance (micro-dollars) under which the owners get an email; 0 turns it off."""
    _require_owner(by)
    ledger.ensure_wallet(by.org_id)
    return ledger.update_settings(by.org_id, low_balance_threshold=threshold)


def run_auto_topup(wallet_id: int) -> bool:
    """Charge and credit one auto top-up; True if money was added."""
    wallet = Wallet.objects.get(pk=wallet_id)
    if not (wallet.auto_topup_enabled and wallet.auto_topup_triggered and wallet.auto_topup_amount > 0):
        return False
    if wallet.balance >= wallet.auto_topup_threshold:
        return False  # topped up some other way since the crossing
    crossing = LedgerEntry.objects.filter(wallet=wallet, kind=LedgerEntry.Kind.AUTO_TOPUP).count() + 1
    metadata = {"org_id": str(wallet.org_id), "wallet_id": str(wallet.pk), "purpose": "auto_topup"}
    try:
        intent = payments.charge_saved_card(
            wallet,
            wallet.auto_topup_amount,
            metadata=metadata,
            description=f"qlaud auto top-up for {wallet.org_id}",
            idempotency_key=f"auto-topup-{wallet.pk}-{crossing}",
        )
    except stripe.StripeError as error:
        return _failed(wallet, error.user_message or str(error))
    if intent["status"] != "succeeded":
        return _failed(wallet, f"the payment needs attention (status {intent['status']})")
    return ledger.credit_topup(
        org_id=wallet.org_id,
        amount=cents_to_micros(intent["amount_received"] or intent["amount"]),
        reference=intent["id"],
        idempotency_key=f"pi:{intent['id']}",
        # StripeObject.get exists at run time: dj-stripe patches dict methods back on (djstripe/_stripe_compat.py).
        receipt={"payment_intent": intent["id"], "charge": intent.get("latest_charge"), "auto": True},  # type: ignore[attr-defined]
        auto=True,
    )


def _failed(wallet: Wallet, reason: str) -> bool:
    log.warning("auto top-up of %s for org %s failed: %s", format_usd(wallet.auto_topup_amount), wallet.org_id, reason)
    ledger.update_settings(wallet.org_id, auto_topup_last_error=reason[:300])
    send_auto_topup_failed_email(wallet.pk, reason)
    return False
