"""Customer prices: upstream price x (1 + markup), rounded up once (wallet.money is the authority)."""

from __future__ import annotations

from django.conf import settings

from wallet.money import Prices, customer_price


def markup_bps() -> int:
    return settings.QLAUD_MARKUP_BPS


def customer_prices(prices: Prices, bps: int | None = None) -> Prices:
    """The four per-Mtok prices a customer pays, each rounded up once."""
    bps = markup_bps() if bps is None else bps
    return Prices(
        input=customer_price(prices.input, bps),
        output=customer_price(prices.output, bps),
        cache_read=customer_price(prices.cache_read, bps),
        cache_write=customer_price(prices.cache_write, bps),
    )


def usd_per_mtok(micros: int) -> str:
    """$ per million tokens for display: 3000000 -> "3.00", 150000 -> "0.15", 75000 -> "0.075"."""
    whole, frac = divmod(micros, 1_000_000)
    text = f"{frac:06d}".rstrip("0")
    return f"{whole}.{text.ljust(2, '0')}"
