"""/dashboard/wallet/: balance, Stripe Checkout top-ups, alerts and auto top-up. Scoped to request.org.

Any member may add money; only owners and admins change the wallet's settings or saved card.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.views.common import org_view, require_manager
from wallet import ledger, payments
from wallet.autotopup import WalletSettingsError, configure_auto_topup, set_low_balance_alert
from wallet.forms import AutoTopupForm, LowBalanceForm, TopupForm
from wallet.models import LedgerEntry, Wallet
from wallet.money import MICROS_PER_USD, cents_to_micros, format_usd, usd_decimal, usd_to_micros

log = logging.getLogger(__name__)
HISTORY_KINDS = [k for k in LedgerEntry.Kind.values if k != LedgerEntry.Kind.USAGE]


def _wallet(request: HttpRequest) -> Wallet:
    return ledger.ensure_wallet(request.org.pk)  # type: ignore[attr-defined]


def _context(request: HttpRequest, wallet: Wallet, **forms: object) -> dict:
    return {
        "wallet": wallet,
        "presets": settings.TOPUP_AMOUNTS_USD,
        "topup_min": settings.TOPUP_MIN_USD,
        "topup_max": settings.TOPUP_MAX_USD,
        "history": wallet.entries.filter(kind__in=HISTORY_KINDS).order_by("-created")[:50],
        "topup_form": forms.get("topup_form") or TopupForm(),
        "low_form": forms.get("low_form")
        or LowBalanceForm(initial={"alert_usd": usd_decimal(wallet.low_balance_threshold)}),
        "auto_form": forms.get("auto_form")
        or AutoTopupForm(
            initial={
                "enabled": wallet.auto_topup_enabled,
                "threshold_usd": usd_decimal(wallet.auto_topup_threshold),
                "amount_usd": usd_decimal(wallet.auto_topup_amount or 20 * MICROS_PER_USD),
            }
        ),
        "has_card": bool(wallet.stripe_payment_method_id),
        "is_manager": request.membership.is_manager,  # type: ignore[attr-defined]
        # Without a Stripe key the page says so up front and shows how to add credit locally.
        "stripe_ready": bool(payments.api_key()),
        "adjust_command": f'.venv/bin/python manage.py adjust_wallet {request.org.slug} 5 "local credit"',  # type: ignore[attr-defined]
    }


@org_view
def wallet_page(request: HttpRequest) -> HttpResponse:
    if request.GET.get("cancelled"):
        messages.info(request, "Checkout cancelled: nothing was charged.")
    return render(request, "wallet/wallet.html", _context(request, _wallet(request)))


@org_view
@require_POST
def topup(request: HttpRequest) -> HttpResponse:
    form = TopupForm(request.POST)
    wallet = _wallet(request)
    if not form.is_valid():
        return render(request, "wallet/wallet.html", _context(request, wallet, topup_form=form), status=400)
    if not payments.api_key():
        messages.error(request, "Top-ups are not available yet: this server has no Stripe key configured.")
        return redirect("wallet")
    try:
        # org_view: request.org is set and the user is signed in.
        url = payments.create_topup_session(request.org, form.micros, request.user.email)  # type: ignore[attr-defined,union-attr]
    except stripe.StripeError as error:
        log.warning("checkout session failed for org %s: %s", wallet.org_id, error.user_message or error)
        messages.error(request, "Stripe could not start the checkout. Nothing was charged; please try again.")
        return redirect("wallet")
    return HttpResponse(status=303, headers={"Location": url})


@org_view
def topup_success(request: HttpRequest) -> HttpResponse:
    """Stripe sends the customer back here; credit now if the webhook has not yet (once, either way)."""
    session_id = request.GET.get("session_id", "")
    if not session_id.startswith("cs_"):
        raise Http404
    try:
        session = payments.retrieve_session(session_id)
    except stripe.StripeError as error:
        log.warning("could not read checkout session %s: %s", session_id, error)
        messages.info(request, "Payment received: your balance updates as soon as Stripe confirms it.")
        return redirect("wallet")
    if (session.get("metadata") or {}).get("org_id") != str(request.org.pk):  # type: ignore[attr-defined]
        raise Http404
    payments.credit_session(session)
    if session.get("mode") == "setup":
        messages.success(request, "Card saved. You can now turn on auto top-up.")
    elif session.get("payment_status") == "paid":
        messages.success(request, f"Payment received: {format_usd(cents_to_micros(session['amount_total']))} added.")
    else:
        messages.info(request, "Payment processing: your balance updates as soon as Stripe confirms it.")
    return redirect("wallet")


@org_view
@require_POST
def low_balance(request: HttpRequest) -> HttpResponse:
    by = require_manager(request)
    form = LowBalanceForm(request.POST)
    if not form.is_valid():
        return render(request, "wallet/wallet.html", _context(request, _wallet(request), low_form=form), status=400)
    threshold = usd_to_micros(form.cleaned_data["alert_usd"])
    try:
        set_low_balance_alert(by, threshold)
    except WalletSettingsError as error:
        messages.error(request, error.message)
        return redirect("wallet")
    messages.success(request, f"Low-balance alert set at {format_usd(threshold)}." if threshold else "Alert off.")
    return redirect("wallet")


@org_view
@require_POST
def auto_topup(request: HttpRequest) -> HttpResponse:
    by = require_manager(request)
    wallet = _wallet(request)
    form = AutoTopupForm(request.POST, has_card=bool(wallet.stripe_payment_method_id))
    if not form.is_valid():
        return render(request, "wallet/wallet.html", _context(request, wallet, auto_form=form), status=400)
    data = form.cleaned_data
    try:
        configure_auto_topup(
            by,
            enabled=data["enabled"],
            threshold=usd_to_micros(data["threshold_usd"]),
            amount=usd_to_micros(data["amount_usd"]),
        )
    except WalletSettingsError as error:
        messages.error(request, error.message)
        return redirect("wallet")
    messages.success(request, "Auto top-up is on." if data["enabled"] else "Auto top-up is off.")
    return redirect("wallet")


@org_view
@require_POST
def save_card(request: HttpRequest) -> HttpResponse:
    require_manager(request)
    if not payments.api_key():
        messages.error(request, "Saving a card needs Stripe, and this server has no Stripe key configured.")
        return redirect("wallet")
    try:
        # org_view: request.org is set and the user is signed in.
        url = payments.create_card_session(request.org, request.user.email)  # type: ignore[attr-defined,union-attr]
    except stripe.StripeError as error:
        log.warning("card setup session failed: %s", error)
        messages.error(request, "Stripe could not start saving a card; please try again.")
        return redirect("wallet")
    return HttpResponse(status=303, headers={"Location": url})
