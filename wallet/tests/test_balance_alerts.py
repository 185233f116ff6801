"""Low-balance emails and auto top-up: once per crossing of the threshold."""

from __future__ import annotations

import pytest

from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.tests.fake_stripe import DECLINE_CARD


def _spend(org, amount: int, request_id: str) -> None:
    hold = ledger.place_hold(org_id=org.pk, key_id=None, amount=amount, request_id=request_id)
    ledger.settle(hold, charge=amount, upstream_cost=amount, receipt={})


@pytest.fixture
def alerting_a(org_a):
    ledger.update_settings(org_a.pk, low_balance_threshold=2_000_000)
    ledger.credit_topup(org_id=org_a.pk, amount=5_000_000, reference="cs_1", idempotency_key="cs_1")
    return org_a


def test_crossing_below_the_threshold_emails_the_managers_once(alerting_a, mailoutbox):
    _spend(alerting_a, 2_000_000, "r1")  # 3.00: still above
    assert mailoutbox == []
    _spend(alerting_a, 1_500_000, "r2")  # 1.50: crossed
    _spend(alerting_a, 500_000, "r3")  # 1.00: still below, no second email
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@example.com"]  # bob is a plain member
    assert "$1.50" in mail.body and "/dashboard/wallet/" in mail.body


def test_rising_above_the_threshold_rearms_the_alert(alerting_a, mailoutbox):
    _spend(alerting_a, 4_000_000, "r1")
    ledger.credit_topup(org_id=alerting_a.pk, amount=5_000_000, reference="cs_2", idempotency_key="cs_2")
    assert not Wallet.objects.get(org=alerting_a).low_balance_notified
    _spend(alerting_a, 5_000_000, "r2")
    assert len(mailoutbox) == 2


def test_a_zero_threshold_never_emails(org_a, mailoutbox):
    ledger.update_settings(org_a.pk, low_balance_threshold=0)
    ledger.credit_topup(org_id=org_a.pk, amount=1_000_000, reference="cs_1", idempotency_key="cs_1")
    _spend(org_a, 1_000_000, "r1")
    assert mailoutbox == []


@pytest.fixture
def auto_a(org_a, fake_stripe):
    customer = fake_stripe.customer(email="alice@example.com")
    card = fake_stripe.payment_method(customer["id"])
    ledger.update_settings(
        org_a.pk,
        low_balance_threshold=0,
        auto_topup_enabled=True,
        auto_topup_threshold=5_000_000,
        auto_topup_amount=20_000_000,
        stripe_customer_id=customer["id"],
        stripe_payment_method_id=card["id"],
    )
    ledger.credit_topup(org_id=org_a.pk, amount=6_000_000, reference="cs_1", idempotency_key="cs_1")
    return org_a


def test_auto_topup_charges_the_saved_card_once_per_crossing(auto_a, fake_stripe):
    _spend(auto_a, 2_000_000, "r1")  # 4.00: crossed below 5.00 -> +20.00
    wallet = Wallet.objects.get(org=auto_a)
    assert wallet.balance == 24_000_000
    created = fake_stripe.calls("POST", "/v1/payment_intents")
    assert len(created) == 1
    params = created[0].params
    assert (params["amount"], params["off_session"], params["confirm"]) == ("2000", "true", "true")
    assert params["payment_method"] == wallet.stripe_payment_method_id
    entry = LedgerEntry.objects.get(kind="auto_topup")
    assert entry.idempotency_key.startswith("pi:pi_test_")

    _spend(auto_a, 1_000_000, "r2")  # 23.00: above the threshold, nothing happens
    assert len(fake_stripe.calls("POST", "/v1/payment_intents")) == 1
    _spend(auto_a, 19_000_000, "r3")  # 4.00: a new crossing -> one more top-up
    assert len(fake_stripe.calls("POST", "/v1/payment_intents")) == 2
    assert Wallet.objects.get(org=auto_a).balance == 24_000_000


def test_a_declined_auto_topup_emails_a_clear_reason_and_does_not_retry(auto_a, fake_stripe, mailoutbox):
    ledger.update_settings(auto_a.pk, stripe_payment_method_id=DECLINE_CARD)
    _spend(auto_a, 2_000_000, "r1")
    _spend(auto_a, 1_000_000, "r2")  # still below: no retry within the same crossing
    wallet = Wallet.objects.get(org=auto_a)
    assert wallet.balance == 3_000_000
    assert wallet.auto_topup_last_error == "Your card was declined."
    assert len(fake_stripe.calls("POST", "/v1/payment_intents")) == 1
    assert len(mailoutbox) == 1
    assert "auto top-up" in mailoutbox[0].subject and "Your card was declined." in mailoutbox[0].body


def test_a_failing_follow_up_never_fails_the_settle(alerting_a, monkeypatch, caplog):
    from wallet import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_low_balance_email, "delay", broker_down)
    _spend(alerting_a, 4_000_000, "r1")  # crosses the alert threshold
    assert Wallet.objects.get(org=alerting_a).balance == 1_000_000
    assert "could not start the balance follow-ups" in caplog.text
