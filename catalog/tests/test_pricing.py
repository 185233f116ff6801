from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from catalog.templatetags.catalog_tags import context_size, per_mtok
from wallet.money import Prices, customer_prices


def test_customer_prices_add_the_markup_and_round_up_once():
    assert customer_prices(Prices(3_000_000, 15_000_000, 300_000, 3_750_000), 700) == Prices(
        3_210_000, 16_050_000, 321_000, 4_012_500
    )
    assert customer_prices(Prices(1, 0), 700) == Prices(2, 0)  # 1.07 rounds up to 2
    assert customer_prices(Prices(250_001, 100), 700).input == 267_502


@given(st.integers(0, 10**12), st.integers(0, 10_000))
def test_the_customer_price_is_never_below_the_exact_price_nor_a_micro_dollar_above(price, bps):
    got = customer_prices(Prices(price, price), bps).input
    exact_times_10000 = price * (10_000 + bps)
    assert got * 10_000 >= exact_times_10000 > (got - 1) * 10_000


def test_prices_display_in_dollars_per_million_tokens():
    assert per_mtok(3_210_000) == "$3.21" and per_mtok(28_000) == "$0.028" and per_mtok(None) == "—"
    assert context_size(128_000) == "128K" and context_size(1_048_576) == "1M" and context_size(2_000_000) == "2M"
