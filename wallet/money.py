"""Money arithmetic in integer micro-dollars (1 USD = 1_000_000). Pure: no Django imports.

Prices are micro-dollars per million tokens (micro-$/Mtok), so the exact cost of `t` tokens
at price `p` is `t * p / 1_000_000` micro-dollars. Sums stay exact (integers over a common
denominator) and each request is rounded exactly once, up, for upstream cost and for total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Protocol

MICROS_PER_USD = 1_000_000
MICROS_PER_CENT = 10_000
TOKENS_PER_MTOK = 1_000_000
BPS = 10_000


class UsageLike(Protocol):
    """What `cost` reads from a usage object (gateway.usage.Usage fits)."""

    # Read-only members, so a frozen dataclass such as Usage satisfies the protocol.
    @property
    def input(self) -> int: ...  # uncached input tokens
    @property
    def cache_read(self) -> int: ...
    @property
    def cache_write(self) -> int: ...
    @property
    def output(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Prices:
    """Upstream prices in micro-dollars per million tokens."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0


ALL_DAYS = frozenset(range(7))  # datetime.weekday(): 0 = Monday
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Window:
    """A time of day in UTC: from `start` to `end` minutes after midnight (`end` excluded), on `days`.

    An `end` at or before `start` runs past midnight (16:30-00:30); such a window belongs to the day it starts on.
    """

    start: int
    end: int
    days: frozenset[int] = ALL_DAYS

    def holds(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("a price schedule needs an aware datetime")
        at = at.astimezone(UTC)
        minute, day = at.hour * 60 + at.minute, at.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        if minute >= self.start:
            return day in self.days
        return minute < self.end and (day - 1) % 7 in self.days


@dataclass(frozen=True, slots=True)
class Rate:
    """Prices that replace a host's standard ones for prompts of more than `above` tokens (None: any size)
    and/or inside `windows` (empty: at any time), and all day on `dates` (UTC; a provider's holidays)."""

    name: str
    prices: Prices
    above: int | None = None
    windows: tuple[Window, ...] = ()
    dates: frozenset[date] = frozenset()

    def applies(self, prompt_tokens: int, at: datetime) -> bool:
        if self.above is not None and prompt_tokens <= self.above:
            return False
        if not self.windows and not self.dates:
            return True
        return any(w.holds(at) for w in self.windows) or at.astimezone(UTC).date() in self.dates


STANDARD = "standard"


@dataclass(frozen=True, slots=True)
class PriceSheet:
    """A host's prices as its provider bills them: `base`, unless one of `rates` applies (the first that does)."""

    base: Prices
    rates: tuple[Rate, ...] = ()
    base_name: str = STANDARD

    def rate_for(self, prompt_tokens: int, at: datetime) -> Rate:
        """The rate a prompt of `prompt_tokens` tokens (input, cache read and cache write) pays when its upstream
        call started at `at`."""
        for rate in self.rates:
            if rate.applies(prompt_tokens, at):
                return rate
        return Rate(self.base_name, self.base)

    def possible(self, prompt_estimate: int) -> tuple[Prices, ...]:
        """Every rate a prompt of about `prompt_estimate` tokens could pay, at any time of day: a size tier counts
        once the estimate comes within HOLD_TIER_MARGIN of its threshold (the estimate may be short)."""
        reach = prompt_estimate * HOLD_TIER_MARGIN
        found = [r.prices for r in self.rates if r.above is None or reach > r.above]
        return (self.base, *found)


HOLD_TIER_MARGIN = 2  # a prompt estimated at half a tier's threshold may still cross it


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts priced outside a request (price examples, the blog's cost tables)."""

    input: int = 0  # uncached input tokens
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0


@dataclass(frozen=True, slots=True)
class Charge:
    """One request's cost: what upstream charges us and what we charge the customer."""

    upstream: int
    total: int
    markup: int


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def usd_to_micros(value: str | Decimal | int) -> int:
    """Exact USD -> micro-dollars. Floats are refused: they cannot hold cents exactly."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError("usd_to_micros takes str, Decimal or int, never float")
    try:
        micros = Decimal(value) * MICROS_PER_USD
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of USD: {value!r}") from exc
    if not micros.is_finite() or micros != micros.to_integral_value():
        raise ValueError(f"{value!r} USD is not a whole number of micro-dollars")
    return int(micros)


def cents_to_micros(cents: int) -> int:
    """Stripe amounts (integer cents) -> micro-dollars. The one place cents are converted."""
    return int(cents) * MICROS_PER_CENT


def micros_to_cents_floor(micros: int) -> int:
    """Micro-dollars -> whole cents, rounded down (never ask Stripe for more than meant)."""
    return micros // MICROS_PER_CENT


def customer_price(price_per_mtok: int, markup_bps: int) -> int:
    """A displayed per-Mtok customer price: upstream price plus markup, rounded up once."""
    return _ceil_div(price_per_mtok * (BPS + markup_bps), BPS)


def customer_prices(prices: Prices, markup_bps: int) -> Prices:
    """The four per-Mtok prices a customer pays (pages, /v1/catalog, Cloudflare cost tags), each rounded up once."""
    return Prices(
        input=customer_price(prices.input, markup_bps),
        output=customer_price(prices.output, markup_bps),
        cache_read=customer_price(prices.cache_read, markup_bps),
        cache_write=customer_price(prices.cache_write, markup_bps),
    )


def token_cost(tokens: int, price_per_mtok: int) -> Fraction:
    """The exact (unrounded) cost of `tokens` tokens, in micro-dollars."""
    return Fraction(tokens * price_per_mtok, TOKENS_PER_MTOK)


def _exact_upstream_numerator(usage: UsageLike, prices: Prices) -> int:
    """Upstream cost times TOKENS_PER_MTOK: an exact integer."""
    return (
        usage.input * prices.input
        + usage.cache_read * prices.cache_read
        + usage.cache_write * prices.cache_write
        + usage.output * prices.output
    )


def exact_total(usage: UsageLike, prices: Prices, markup_bps: int) -> Fraction:
    """What `cost` charges the customer before its one rounding, in micro-dollars (for display)."""
    return Fraction(_exact_upstream_numerator(usage, prices) * (BPS + markup_bps), TOKENS_PER_MTOK * BPS)


def cost(usage: UsageLike, prices: Prices, markup_bps: int) -> Charge:
    """Price one request. Both numbers are rounded up once, from the exact sum."""
    numerator = _exact_upstream_numerator(usage, prices)
    upstream = _ceil_div(numerator, TOKENS_PER_MTOK)
    total = _ceil_div(numerator * (BPS + markup_bps), TOKENS_PER_MTOK * BPS)
    return Charge(upstream=upstream, total=total, markup=total - upstream)


usage_cost = cost  # the name docs/architecture.md uses


def rate_to_bps(rate: str | Decimal | int) -> int:
    """A share written as a decimal ("0.05") -> basis points (500). Floats are refused, as for USD."""
    if isinstance(rate, bool) or isinstance(rate, float):
        raise TypeError("rate_to_bps takes str, Decimal or int, never float")
    bps = Decimal(rate) * BPS
    if not bps.is_finite() or bps < 0 or bps != bps.to_integral_value():
        raise ValueError(f"{rate!r} is not a non-negative rate in whole basis points")
    return int(bps)


def byok_cost(usage: UsageLike, prices: Prices, markup_bps: int, fee_bps: int) -> Charge:
    """A request served on the org's own provider key: no upstream cost; it pays `fee_bps` of what
    it would have cost through qlaud (price plus markup), rounded up once from the exact sum."""
    numerator = _exact_upstream_numerator(usage, prices)
    total = _ceil_div(numerator * (BPS + markup_bps) * fee_bps, TOKENS_PER_MTOK * BPS * BPS)
    return Charge(upstream=0, total=total, markup=total)


def estimate_hold(
    input_tokens_estimate: int, max_tokens: int, prices: Prices, markup_bps: int, fee_bps: int = BPS
) -> int:
    """The most a request can cost if upstream honours max_tokens.

    Input is priced at the dearer of plain input and cache write, since we cannot know
    before the call whether the prompt will be written to the cache. `fee_bps` below BPS: the most a
    request that can only be served on the org's own key costs (byok_cost's fee), rounded up the same way.
    """
    worst_input = max(prices.input, prices.cache_write)
    numerator = input_tokens_estimate * worst_input + max_tokens * prices.output
    return _ceil_div(numerator * (BPS + markup_bps) * fee_bps, TOKENS_PER_MTOK * BPS * BPS)


def prompt_tokens(usage: UsageLike) -> int:
    """The prompt's size as providers' long-context tiers count it: input, cache reads and cache writes."""
    return usage.input + usage.cache_read + usage.cache_write


def price_at(usage: UsageLike, sheet: PriceSheet, at: datetime, markup_bps: int) -> tuple[Charge, Rate]:
    """Price one request at the rate that applied: its prompt's size and the time its upstream call started."""
    rate = sheet.rate_for(prompt_tokens(usage), at)
    return cost(usage, rate.prices, markup_bps), rate


def hold_for(
    input_tokens_estimate: int, max_tokens: int, sheet: PriceSheet, markup_bps: int, fee_bps: int = BPS
) -> int:
    """The most a request can cost at the dearest rate that can apply to it (`PriceSheet.possible`); `fee_bps`
    as for `estimate_hold`."""
    return max(
        estimate_hold(input_tokens_estimate, max_tokens, prices, markup_bps, fee_bps)
        for prices in sheet.possible(input_tokens_estimate)
    )


def _dollars(micros: int | Fraction, places: int | None) -> tuple[str, int, str]:
    """(sign, whole dollars, decimals): exact with at least cents when `places` is None (an int amount),
    else rounded half up to `places` decimals (an exact Fraction too: costs before their one rounding)."""
    sign = "-" if micros < 0 else ""
    if places is None:
        whole, frac = divmod(abs(int(micros)), MICROS_PER_USD)
        return sign, whole, f"{frac:06d}".rstrip("0").ljust(2, "0")
    amount = abs(Fraction(micros)) / MICROS_PER_USD
    scaled = amount.numerator * 10**places * 2 // amount.denominator  # twice the amount in units of the last place
    units = (scaled + 1) // 2  # half up
    whole, frac = divmod(units, 10**places)
    return ("" if units == 0 else sign), whole, f"{frac:0{places}d}"


def format_usd(micros: int | Fraction, places: int | None = None) -> str:
    """Money for people: `$1.234567`, `$5.00`, `-$0.0012`, `$1,234.00`: at least cents and more digits only
    when they matter, or rounded (half up) to `places` decimals (`format_usd(1_234_567, 2)` -> `$1.23`)."""
    sign, whole, digits = _dollars(micros, places)
    return f"{sign}${whole:,}.{digits}" if digits else f"{sign}${whole:,}"


def usd_decimal(micros: int, places: int | None = None) -> str:
    """Money for machines and form fields, a plain decimal without symbol or grouping: `1234.5678`,
    `3.00`, `0.075`; `usd_decimal(5_000_000, 6)` -> `5.000000` (the API's exact amounts)."""
    sign, whole, digits = _dollars(micros, places)
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"
