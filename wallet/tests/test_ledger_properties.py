"""Random sequences of ledger operations keep the books exact (hypothesis)."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wallet import ledger
from wallet.models import Hold, Wallet

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("topup"), st.integers(1, 50_000_000)),
        st.tuples(st.just("hold"), st.integers(0, 5_000_000)),
        st.tuples(st.just("settle"), st.integers(0, 6_000_000)),
        st.tuples(st.just("release"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(1, 5_000_000)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_of_operations_keeps_balance_and_holds_consistent(org_a, ops):
    run = uuid.uuid4().hex[:8]  # each example writes fresh keys on the same wallet
    start = Wallet.objects.get(org=org_a).balance
    expected, open_holds = start, []
    for i, (op, amount) in enumerate(ops):
        if op == "topup":
            ledger.credit_topup(org_id=org_a.pk, amount=amount, reference="cs", idempotency_key=f"cs_{run}_{i}")
            expected += amount
        elif op == "hold":
            try:
                open_holds.append(
                    ledger.place_hold(org_id=org_a.pk, key_id=None, amount=amount, request_id=f"{run}{i}")
                )
            except ledger.InsufficientFunds:
                wallet = Wallet.objects.get(org=org_a)
                assert wallet.balance - wallet.held < amount
        elif op == "settle" and open_holds:
            ledger.settle(open_holds.pop(0), charge=amount, upstream_cost=amount, receipt={})
            expected -= amount
        elif op == "release" and open_holds:
            ledger.release(open_holds.pop())
        elif op == "refund":
            ledger.debit_refund(org_id=org_a.pk, charge_id=f"ch_{run}_{i}", refunded_total=amount)
            expected -= amount
        ledger.assert_ledger_invariant()
    wallet = Wallet.objects.get(org=org_a)
    assert wallet.balance == expected
    open_now = Hold.objects.filter(wallet=wallet, status="open")
    assert set(open_now.values_list("pk", flat=True)) == set(open_holds)
    assert wallet.held == sum(open_now.values_list("amount", flat=True))
    for hold_id in open_holds:  # leave the wallet with no open holds for the next example
        ledger.release(hold_id)
