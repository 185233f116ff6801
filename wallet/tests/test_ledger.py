from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import IntegrityError

from wallet import ledger
from wallet.ledger import InsufficientFunds, LedgerError
from wallet.models import Hold, LedgerEntry, Wallet


def _wallet(org) -> Wallet:
    return Wallet.objects.get(org=org)


def test_every_new_org_gets_an_empty_wallet(org_a, org_b):
    assert _wallet(org_a).balance == 0
    assert _wallet(org_b).held == 0


def test_the_ledger_creates_a_missing_wallet_lazily(org_a):
    Wallet.objects.filter(org=org_a).delete()
    assert ledger.credit_topup(org_id=org_a.pk, amount=5_000_000, reference="cs_1", idempotency_key="cs_1")
    assert _wallet(org_a).balance == 5_000_000


def test_a_topup_is_credited_once_per_idempotency_key(org_a):
    assert ledger.credit_topup(org_id=org_a.pk, amount=5_000_000, reference="cs_1", idempotency_key="cs_1")
    assert not ledger.credit_topup(org_id=org_a.pk, amount=5_000_000, reference="cs_1", idempotency_key="cs_1")
    wallet = _wallet(org_a)
    assert wallet.balance == 5_000_000
    assert list(wallet.entries.values_list("kind", "amount", "balance_after")) == [("topup", 5_000_000, 5_000_000)]


def test_a_hold_reserves_money_and_settle_charges_the_real_cost(funded_a, key_a):
    hold_id = ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=50_000, request_id="req_1")
    funded_a.refresh_from_db()
    assert (funded_a.balance, funded_a.held, funded_a.available) == (10_000_000, 50_000, 9_950_000)

    ledger.settle(hold_id, charge=12_345, upstream_cost=11_537, receipt={"model": "m"})
    funded_a.refresh_from_db()
    assert (funded_a.balance, funded_a.held) == (10_000_000 - 12_345, 0)
    entry = LedgerEntry.objects.get(idempotency_key="usage:req_1")
    assert (entry.kind, entry.amount, entry.api_key_id, entry.reference) == ("usage", -12_345, key_a.pk, "req_1")
    assert entry.receipt == {"model": "m", "upstream_cost": 11_537, "charge": 12_345, "hold": 50_000}
    hold = Hold.objects.get(pk=hold_id)
    assert (hold.status, hold.charged) == ("settled", 12_345)


def test_settle_twice_charges_once(funded_a):
    hold_id = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=1_000, request_id="req_1")
    ledger.settle(hold_id, charge=900, upstream_cost=800, receipt={})
    ledger.settle(hold_id, charge=900, upstream_cost=800, receipt={})
    assert _wallet(funded_a.org).balance == 10_000_000 - 900


def test_settle_charges_an_overshoot_beyond_the_hold(funded_a):
    hold_id = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=10_000_000, request_id="req_1")
    ledger.settle(hold_id, charge=10_000_250, upstream_cost=9_000_000, receipt={})
    wallet = _wallet(funded_a.org)
    assert (wallet.balance, wallet.held) == (-250, 0)


def test_release_returns_the_hold_and_is_idempotent(funded_a):
    hold_id = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=3_000, request_id="req_1")
    ledger.release(hold_id)
    ledger.release(hold_id)
    wallet = _wallet(funded_a.org)
    assert (wallet.balance, wallet.held) == (10_000_000, 0)
    assert Hold.objects.get(pk=hold_id).status == "released"


def test_a_released_hold_settled_later_is_charged_once(funded_a):
    hold_id = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=3_000, request_id="req_1")
    ledger.release(hold_id)
    ledger.settle(hold_id, charge=2_000, upstream_cost=1_800, receipt={})
    ledger.settle(hold_id, charge=2_000, upstream_cost=1_800, receipt={})
    wallet = _wallet(funded_a.org)
    assert (wallet.balance, wallet.held) == (10_000_000 - 2_000, 0)


def test_it_refuses_a_hold_when_the_available_balance_is_short(funded_a):
    ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=9_000_000, request_id="req_1")
    with pytest.raises(InsufficientFunds) as refused:
        ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=1_000_001, request_id="req_2")
    assert refused.value.kind == "balance"
    assert "/dashboard/wallet/" in refused.value.message
    assert "$1.00" in refused.value.message  # what is available
    assert not Hold.objects.filter(request_id="req_2").exists()


def test_an_empty_wallet_refuses_any_paid_request(org_a):
    with pytest.raises(InsufficientFunds):
        ledger.place_hold(org_id=org_a.pk, key_id=None, amount=1, request_id="req_1")


def test_a_request_id_can_hold_only_once(funded_a):
    ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=1, request_id="req_1")
    with pytest.raises(IntegrityError):
        ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=1, request_id="req_1")


def test_it_refuses_a_hold_beyond_the_keys_spend_limit_for_the_period(funded_a, key_a):
    key_a.spend_limit, key_a.limit_period = 100_000, "day"
    key_a.save()
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False):
        first = ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=60_000, request_id="r1")
        ledger.settle(first, charge=50_000, upstream_cost=40_000, receipt={})
        ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=30_000, request_id="r2")  # open
        with pytest.raises(InsufficientFunds) as refused:
            ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=20_001, request_id="r3")
        assert refused.value.kind == "key_limit"
        assert "limit" in refused.value.message and "/dashboard/keys/" in refused.value.message
        assert ledger.key_period_spend(key_a.pk, "day") == 80_000
    with time_machine.travel(datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC), tick=False):
        # A new day: yesterday's usage no longer counts, the still-open hold does.
        assert ledger.key_period_spend(key_a.pk, "day") == 30_000
        ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=70_000, request_id="r4")


def test_a_key_with_a_never_period_counts_all_its_usage(funded_a, key_a):
    key_a.spend_limit, key_a.limit_period = 10_000, "never"
    key_a.save()
    hold = ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=10_000, request_id="r1")
    ledger.settle(hold, charge=10_000, upstream_cost=9_000, receipt={})
    with pytest.raises(InsufficientFunds):
        ledger.place_hold(org_id=funded_a.org_id, key_id=key_a.pk, amount=1, request_id="r2")


def test_refunds_and_disputes_debit_once(funded_a):
    org_id = funded_a.org_id
    assert ledger.debit_refund(org_id=org_id, charge_id="ch_1", refunded_total=2_000_000)
    assert not ledger.debit_refund(org_id=org_id, charge_id="ch_1", refunded_total=2_000_000)
    assert ledger.debit_dispute(org_id=org_id, amount=1_000_000, reference="ch_1", idempotency_key="dispute:dp_1")
    assert not ledger.debit_dispute(org_id=org_id, amount=1_000_000, reference="ch_1", idempotency_key="dispute:dp_1")
    kinds = list(_wallet(funded_a.org).entries.order_by("pk").values_list("kind", "amount"))
    assert kinds == [("topup", 10_000_000), ("refund", -2_000_000), ("dispute", -1_000_000)]
    assert _wallet(funded_a.org).balance == 7_000_000


def test_partial_refunds_debit_only_the_newly_refunded_part_even_out_of_order(funded_a):
    org_id = funded_a.org_id
    assert ledger.debit_refund(org_id=org_id, charge_id="ch_1", refunded_total=3_000_000)
    assert not ledger.debit_refund(org_id=org_id, charge_id="ch_1", refunded_total=1_000_000)  # late, older event
    assert ledger.debit_refund(org_id=org_id, charge_id="ch_1", refunded_total=5_000_000)
    assert _wallet(funded_a.org).balance == 5_000_000


def test_adjustments_need_a_reason_and_are_recorded(org_a):
    with pytest.raises(LedgerError):
        ledger.adjust(org_id=org_a.pk, amount=1_000, reason="")
    assert ledger.adjust(org_id=org_a.pk, amount=1_000_000, reason="goodwill credit for outage")
    entry = _wallet(org_a).entries.get()
    assert (entry.kind, entry.amount, entry.receipt) == (
        "adjustment",
        1_000_000,
        {"reason": "goodwill credit for outage"},
    )


def test_ledger_entries_cannot_be_changed_or_deleted(funded_a):
    entry = LedgerEntry.objects.get()
    entry.amount = 99
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1)
    with pytest.raises(PermissionError):
        LedgerEntry.objects.all().delete()
    assert LedgerEntry.objects.get().amount == 10_000_000


def test_the_invariant_check_notices_drift(funded_a, allow_ledger_drift):
    Wallet.objects.filter(pk=funded_a.pk).update(balance=1)
    with pytest.raises(AssertionError, match="invariant"):
        ledger.assert_ledger_invariant()
    assert ledger.ledger_drift() == [
        {"wallet_id": funded_a.pk, "balance": 1, "entries": 10_000_000, "held": 0, "holds": 0}
    ]


def test_negative_holds_and_charges_are_refused(funded_a):
    with pytest.raises(LedgerError):
        ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=-1, request_id="r")
    hold = ledger.place_hold(org_id=funded_a.org_id, key_id=None, amount=1, request_id="r")
    with pytest.raises(LedgerError):
        ledger.settle(hold, charge=-5, upstream_cost=0, receipt={})
    with pytest.raises(LedgerError):
        ledger.release(987654)
