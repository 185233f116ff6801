from __future__ import annotations

from django import template

from wallet.money import format_usd

register = template.Library()


@register.filter
def money(micros: int | None) -> str:
    """Micro-dollars at full precision: 1234567 -> "$1.234567", 5000000 -> "$5.00"."""
    return "—" if micros is None else format_usd(int(micros))


@register.filter
def neg(micros: int | None) -> int:
    return -(micros or 0)
