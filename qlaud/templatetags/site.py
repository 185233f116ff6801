from __future__ import annotations

from django import template

from catalog import public
from lib.site_url import site_url
from qlaud import clients
from qlaud.views import ERROR_MEANINGS
from wallet.money import format_usd

register = template.Library()


@register.filter
def usd(micros: int | None) -> str:
    """Integer micro-dollars -> `$1.23` (more digits only when they matter)."""
    return "" if micros is None else format_usd(int(micros))


@register.filter
def usd_per_mtok(micros_per_mtok: int | None) -> str:
    """A price in micro-dollars per million tokens reads as dollars per million tokens."""
    return "" if micros_per_mtok is None else format_usd(int(micros_per_mtok))


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@register.filter
def pct(ratio: float | None) -> str:
    """0.9987 -> `99.87%`; None (no traffic in the window) -> an en dash."""
    if ratio is None:
        return "–"
    return f"{ratio * 100:.2f}%" if ratio < 1 else "100%"


@register.simple_tag(takes_context=True)
def quickstart(context: template.Context, model: str = "", key: str = "") -> list[dict]:
    """curl, openai-py, anthropic-py and Claude Code, filled with this site's address, the model (default:
    the example model) and a key (default: a placeholder)."""
    site = site_url(context.get("request"))
    return clients.quickstart(model or clients.example_model(), site=site, key=key or clients.KEY_PLACEHOLDER)


@register.simple_tag
def catalog_model_ids() -> list[str]:
    """Every catalog model id, for datalists (empty before the catalog is loaded)."""
    return public.model_ids()


@register.simple_tag
def example_model() -> str:
    return clients.example_model()


@register.filter
def error_reason(error_type: str | None) -> str:
    """A RequestLog's error kind in words (the docs' error table), or the kind itself if unknown."""
    if not error_type:
        return ""
    if error_type == "client_disconnected":
        return "The client closed the connection before the answer finished; tokens streamed so far are billed."
    return ERROR_MEANINGS.get(error_type, error_type)
