"""The wallet page and Stripe Checkout top-ups, from the customer's side."""

from __future__ import annotations

import pytest

from wallet import ledger
from wallet.models import LedgerEntry, Wallet


def _session_id(response) -> str:
    return response["Location"].rsplit("/", 1)[1]


def test_the_wallet_page_shows_balance_hold_presets_and_history(alice_client, org_a, settings):
    settings.STRIPE_TEST_SECRET_KEY = "sk_test_" + "0" * 24
    ledger.credit_topup(org_id=org_a.pk, amount=20_000_000, reference="cs_x", idempotency_key="cs_x")
    ledger.place_hold(org_id=org_a.pk, key_id=None, amount=1_500_000, request_id="req_1")
    page = alice_client.get("/dashboard/wallet/").content.decode()
    assert "$18.50" in page and "$20.00" in page and "$1.50" in page  # available, balance, on hold
    for preset in ("$5", "$20", "$100"):
        assert f">{preset}</button>" in page
    assert "Top-up" in page and "cs_x" in page


def test_a_preset_button_creates_a_checkout_session_and_redirects_to_it(alice_client, fake_stripe, org_a):
    response = alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "20"})
    assert response.status_code == 303
    assert response["Location"].startswith(f"{fake_stripe.base_url}/pay/cs_test_")
    created = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    wallet = Wallet.objects.get(org=org_a)
    assert created["mode"] == "payment"
    assert created["line_items"][0]["price_data"]["unit_amount"] == "2000"
    assert created["line_items"][0]["price_data"]["currency"] == "usd"
    assert created["metadata"] == {"org_id": str(org_a.pk), "wallet_id": str(wallet.pk), "purpose": "topup"}
    assert created["success_url"].endswith("/dashboard/wallet/success?session_id={CHECKOUT_SESSION_ID}")
    assert created["customer"] == wallet.stripe_customer_id != ""
    assert Wallet.objects.get(org=org_a).balance == 0  # nothing until paid


@pytest.mark.parametrize("amount", ["4.99", "1000.01", "abc", "-5"])
def test_a_custom_amount_outside_the_bounds_is_refused(alice_client, fake_stripe, amount):
    response = alice_client.post("/dashboard/wallet/topup/", {"amount_usd": amount})
    assert response.status_code == 400
    assert not fake_stripe.calls("POST", "/v1/checkout/sessions")


def test_a_custom_amount_within_bounds_is_charged_in_exact_cents(alice_client, fake_stripe):
    assert alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "12.34"}).status_code == 303
    assert (
        fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params["line_items"][0]["price_data"]["unit_amount"]
        == "1234"
    )


def test_the_success_page_and_the_webhook_racing_credit_once(alice_client, fake_stripe, post_event, org_a):
    session_id = _session_id(alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "5"}))
    session = fake_stripe.complete_session(session_id)
    response = alice_client.get(f"/dashboard/wallet/success?session_id={session_id}")
    assert response.status_code == 302
    assert post_event(fake_stripe.event("checkout.session.completed", session)).status_code == 200
    alice_client.get(f"/dashboard/wallet/success?session_id={session_id}")  # reloaded
    assert Wallet.objects.get(org=org_a).balance == 5_000_000
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    assert "$5.00 added" in alice_client.get("/dashboard/wallet/").content.decode()


def test_the_success_page_of_an_unpaid_session_credits_nothing(alice_client, fake_stripe, org_a):
    session_id = _session_id(alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "5"}))
    assert alice_client.get(f"/dashboard/wallet/success?session_id={session_id}").status_code == 302
    assert Wallet.objects.get(org=org_a).balance == 0


def test_charlie_gets_404_on_the_success_page_of_org_as_session(alice_client, client, fake_stripe, charlie, org_b):
    session_id = _session_id(alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "5"}))
    fake_stripe.complete_session(session_id)
    client.force_login(charlie)
    assert client.get(f"/dashboard/wallet/success?session_id={session_id}").status_code == 404
    assert not LedgerEntry.objects.exists()


def test_a_stripe_outage_at_checkout_shows_an_error_and_charges_nothing(alice_client, settings):
    import stripe

    settings.STRIPE_TEST_SECRET_KEY = "sk_test_" + "0" * 24
    saved = stripe.api_base, stripe.max_network_retries
    stripe.api_base, stripe.max_network_retries = "http://127.0.0.1:9", 0  # nothing listens on the discard port
    try:
        response = alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "5"}, follow=True)
    finally:
        stripe.api_base, stripe.max_network_retries = saved
    assert "Stripe could not start the checkout" in response.content.decode()


def test_without_a_stripe_key_the_top_up_says_payments_are_not_configured(alice_client, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""
    response = alice_client.post("/dashboard/wallet/topup/", {"amount_usd": "5"}, follow=True)
    assert "no Stripe key configured" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_managers_set_the_low_balance_alert_and_members_cannot(alice_client, client, bob, org_a):
    assert alice_client.post("/dashboard/wallet/alert/", {"alert_usd": "7.50"}).status_code == 302
    assert Wallet.objects.get(org=org_a).low_balance_threshold == 7_500_000
    client.force_login(bob)
    assert client.post("/dashboard/wallet/alert/", {"alert_usd": "1"}).status_code == 404
    assert Wallet.objects.get(org=org_a).low_balance_threshold == 7_500_000


def test_auto_topup_needs_a_saved_card_which_setup_checkout_provides(alice_client, fake_stripe, org_a):
    form = {"enabled": "on", "threshold_usd": "5", "amount_usd": "20"}
    response = alice_client.post("/dashboard/wallet/auto-topup/", form)
    assert response.status_code == 400 and "Save a card first" in response.content.decode()

    redirect = alice_client.post("/dashboard/wallet/card/")
    assert redirect.status_code == 303
    assert fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params["mode"] == "setup"
    session_id = _session_id(redirect)
    fake_stripe.complete_session(session_id)
    alice_client.get(f"/dashboard/wallet/success?session_id={session_id}")
    wallet = Wallet.objects.get(org=org_a)
    assert wallet.stripe_payment_method_id.startswith("pm_test_") and wallet.balance == 0

    assert alice_client.post("/dashboard/wallet/auto-topup/", form).status_code == 302
    wallet.refresh_from_db()
    assert (wallet.auto_topup_enabled, wallet.auto_topup_threshold, wallet.auto_topup_amount) == (
        True,
        5_000_000,
        20_000_000,
    )


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/dashboard/wallet/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
