from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SESSION_ORG_KEY = "org_id"


class CurrentOrgMiddleware:
    """Sets request.org and request.membership for signed-in users (lazily, no query otherwise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.org = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = user.memberships.select_related("org").order_by("created")
            wanted = request.session.get(SESSION_ORG_KEY)
            membership = next((m for m in memberships if m.org_id == wanted), None) or memberships.first()
            if membership is not None:
                request.org = membership.org  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
        return self.get_response(request)
