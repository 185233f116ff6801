from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def usd(micros: int | None) -> str:
    """Micro-dollars as dollars: 1234567 -> "$1.23" (sub-cent amounts keep 4 decimals)."""
    if micros is None:
        return "—"
    dollars = micros / 1_000_000  # display only; money itself never becomes a float
    if micros and abs(micros) < 10_000:
        return f"${dollars:,.4f}"
    return f"${dollars:,.2f}"


@register.simple_tag(takes_context=True)
def user_memberships(context: template.Context) -> list:
    """The signed-in user's memberships with their orgs, for the org switcher (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(user.memberships.select_related("org").order_by("org__name"))
