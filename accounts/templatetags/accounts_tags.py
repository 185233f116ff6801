from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def user_memberships(context: template.Context) -> list:
    """The signed-in user's memberships with their orgs, for the org switcher (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(user.memberships.select_related("org").order_by("org__name"))
