from __future__ import annotations

from django import template

from wallet.money import format_usd

register = template.Library()


@register.filter
def per_mtok(micros: int | None) -> str:
    """A micro-$/Mtok price as dollars per million tokens: 3210000 -> "$3.21"."""
    return "—" if micros is None else format_usd(micros)


@register.filter
def context_size(tokens: int | None) -> str:
    """128000 -> "128K", 1048576 -> "1M", 2000000 -> "2M"."""
    if not tokens:
        return "—"
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.3g}M" if tokens % 1_048_576 else f"{tokens // 1_048_576}M"
    return f"{round(tokens / 1000)}K"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def rounded(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


@register.filter
def sortedlist(values) -> list:
    return sorted(values or ())
