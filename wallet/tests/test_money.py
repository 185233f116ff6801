from __future__ import annotations

import ast
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.money import (
    Charge,
    Prices,
    byok_cost,
    cents_to_micros,
    cost,
    customer_price,
    estimate_hold,
    format_usd,
    micros_to_cents_floor,
    token_cost,
    usd_decimal,
    usd_to_micros,
)
from wallet.templatetags.wallet_tags import usd_rounded


@dataclass
class U:
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0


SONNET = Prices(input=3_000_000, output=15_000_000, cache_read=300_000, cache_write=3_750_000)


@pytest.mark.parametrize(
    ("value", "micros"),
    [("5", 5_000_000), ("0.01", 10_000), (Decimal("1.234567"), 1_234_567), (20, 20_000_000), ("-2.5", -2_500_000)],
)
def test_it_converts_usd_exactly(value, micros):
    assert usd_to_micros(value) == micros


@pytest.mark.parametrize("value", ["0.0000001", "abc", "NaN", "Infinity"])
def test_it_refuses_usd_that_is_not_whole_micro_dollars(value):
    with pytest.raises(ValueError):
        usd_to_micros(value)


def test_it_refuses_floats():
    with pytest.raises(TypeError):
        usd_to_micros(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cents", "micros"), [(500, 5_000_000), (1, 10_000), (0, 0), (-250, -2_500_000)])
def test_it_converts_stripe_cents_to_micros(cents, micros):
    assert cents_to_micros(cents) == micros


@pytest.mark.parametrize(("micros", "cents"), [(5_000_000, 500), (19_999, 1), (9_999, 0), (10_000, 1)])
def test_it_floors_micros_to_cents(micros, cents):
    assert micros_to_cents_floor(micros) == cents


@pytest.mark.parametrize(
    ("price", "bps", "expected"),
    [(3_000_000, 700, 3_210_000), (1, 700, 2), (0, 700, 0), (100, 0, 100), (150_000, 700, 160_500), (7, 700, 8)],
)
def test_customer_price_adds_markup_rounding_up_once(price, bps, expected):
    assert customer_price(price, bps) == expected


# (usage, prices, bps) -> (upstream, total): hand-computed.
COST_TABLE = [
    # 1000 in @ $3/M = 3000 micro; 500 out @ $15/M = 7500 micro; 10500 x 1.07 = 11235.
    (U(input=1000, output=500), SONNET, 700, Charge(upstream=10_500, total=11_235, markup=735)),
    # Caches: 2000 read @ 0.3 = 600; 1000 write @ 3.75 = 3750; total 4350 x 1.07 = 4654.5 -> 4655.
    (U(cache_read=2000, cache_write=1000), SONNET, 700, Charge(upstream=4_350, total=4_655, markup=305)),
    # One token at $3/M = 3 micro exactly; x1.07 = 3.21 -> 4.
    (U(input=1), SONNET, 700, Charge(upstream=3, total=4, markup=1)),
    # Sub-micro price: 1 token at 50_000 micro/Mtok costs 0.05 micro, rounded up to 1.
    (U(input=1), Prices(input=50_000, output=0), 700, Charge(upstream=1, total=1, markup=0)),
    # Several sub-micro parts are summed exactly before the single rounding: 3 x 1/3 micro = 1 micro.
    (U(input=1, output=2), Prices(input=333_334, output=333_333), 0, Charge(upstream=1, total=1, markup=0)),
    # Nothing used costs nothing.
    (U(), SONNET, 700, Charge(upstream=0, total=0, markup=0)),
    # Very large counts stay exact: 10^12 tokens @ $15/M = $15,000,000.
    (U(output=10**12), SONNET, 700, Charge(upstream=15 * 10**12, total=16_050_000_000_000, markup=1_050 * 10**9)),
]


@pytest.mark.parametrize(("usage", "prices", "bps", "expected"), COST_TABLE)
def test_cost_rounds_each_request_up_once(usage, prices, bps, expected):
    assert cost(usage, prices, bps) == expected


def test_rounding_happens_on_the_sum_not_per_token_kind():
    # Rounding per kind would give 1 + 1 = 2 micro; the exact sum is 0.6 + 0.3 = 0.9 -> 1.
    prices = Prices(input=600_000, output=300_000)
    assert cost(U(input=1, output=1), prices, 0).upstream == 1


@given(
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**8),
    st.integers(0, 5_000),
)
def test_cost_equals_the_ceiling_of_the_exact_fraction(inp, read, write, out, price, bps):
    prices = Prices(input=price, output=price * 5, cache_read=price // 10, cache_write=price * 5 // 4)
    usage = U(input=inp, cache_read=read, cache_write=write, output=out)
    exact = sum(
        (
            token_cost(inp, prices.input),
            token_cost(read, prices.cache_read),
            token_cost(write, prices.cache_write),
            token_cost(out, prices.output),
        ),
        Fraction(0),
    )
    charge = cost(usage, prices, bps)
    assert charge.upstream - 1 < exact <= charge.upstream
    assert charge.total - 1 < exact * Fraction(10_000 + bps, 10_000) <= charge.total
    assert charge.markup == charge.total - charge.upstream >= 0


def test_estimate_hold_covers_the_worst_case_of_the_request():
    hold = estimate_hold(1000, 500, SONNET, 700)
    # Input at the dearer cache-write price: 1000 x 3.75 + 500 x 15 = 11250 micro, x1.07 = 12037.5 -> 12038.
    assert hold == 12_038
    assert hold >= cost(U(input=1000, output=500), SONNET, 700).total
    assert hold >= cost(U(cache_write=1000, output=500), SONNET, 700).total


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (5_000_000, "$5.00"),
        (1_234_567, "$1.234567"),
        (1_230_000, "$1.23"),
        (1_234_500, "$1.2345"),
        (1, "$0.000001"),
        (0, "$0.00"),
        (-2_500_000, "-$2.50"),
        (1_234_000_000_000, "$1,234,000.00"),
    ],
)
def test_format_usd_shows_cents_and_only_meaningful_extra_digits(micros, text):
    assert format_usd(micros) == text


@pytest.mark.parametrize(
    ("micros", "places", "text"),
    [
        (1_234_567, 2, "$1.23"),
        (1_235_000, 2, "$1.24"),  # half up
        (4_321, 4, "$0.0043"),
        (-1_234_567, 2, "-$1.23"),
        (-4, 4, "$0.0000"),
        (1_234_000_000_000, 2, "$1,234,000.00"),
        (Fraction(1_000_001, 3), 4, "$0.3333"),  # an exact cost before its one rounding
    ],
)
def test_format_usd_rounds_half_up_to_the_places_a_page_shows(micros, places, text):
    assert format_usd(micros, places) == text


def test_usd_decimal_is_plain_for_machines_and_forms():
    assert usd_decimal(3_000_000) == "3.00" and usd_decimal(75_000) == "0.075"  # $/Mtok on price tables
    assert usd_decimal(1_234_567, 6) == "1.234567" and usd_decimal(5_000_000, 6) == "5.000000"  # the API
    assert usd_decimal(1_234_000_000_000) == "1234000.00" and usd_decimal(-2_500_000) == "-2.50"


def test_the_pure_modules_import_nothing_from_django():
    root = Path(__file__).parent.parent.parent
    for path in (root / "wallet" / "money.py", root / "accounts" / "periods.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "django" for a in node.names)
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("django")


def test_the_usd_rounded_filter_shows_cents_and_sub_cent_amounts_to_four_places():
    assert (usd_rounded(1_234_567), usd_rounded(4_321), usd_rounded(0), usd_rounded(None)) == (
        "$1.23",
        "$0.0043",
        "$0.00",
        "—",
    )


def test_a_hold_for_a_request_only_the_orgs_own_key_can_serve_is_the_byok_fee_of_the_worst_case():
    fee_bps = 500  # 5%
    hold = estimate_hold(1000, 500, SONNET, 700, fee_bps)
    # The full-price hold's exact 12037.5 micro-dollars, x5% = 601.875 -> 602, rounded up once.
    assert hold == 602
    assert estimate_hold(1000, 500, SONNET, 700, 10_000) == estimate_hold(1000, 500, SONNET, 700) == 12_038
    for worst in (U(input=1000, output=500), U(cache_write=1000, output=500)):
        assert hold >= byok_cost(worst, SONNET, 700, fee_bps).total
