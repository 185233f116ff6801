"""The markup customers pay on upstream prices (customer prices themselves: wallet.money.customer_prices)."""

from __future__ import annotations

from django.conf import settings


def markup_bps() -> int:
    return settings.QLAUD_MARKUP_BPS
