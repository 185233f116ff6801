from __future__ import annotations

from django import template

from wallet.money import MICROS_PER_CENT, format_usd

register = template.Library()


@register.filter
def money(micros: int | None) -> str:
    """Micro-dollars at full precision: 1234567 -> "$1.234567", 5000000 -> "$5.00"."""
    return "—" if micros is None else format_usd(int(micros))


@register.filter
def usd_rounded(micros: int | None) -> str:
    """Micro-dollars to the cent: 1234567 -> "$1.23"; sub-cent amounts keep 4 decimals ("$0.0043")."""
    if micros is None:
        return "—"
    return format_usd(int(micros), 4 if micros and abs(micros) < MICROS_PER_CENT else 2)


@register.filter
def neg(micros: int | None) -> int:
    return -(micros or 0)
