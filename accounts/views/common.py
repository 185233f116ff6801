"""What every dashboard view shares: sign-in, the current org, htmx partials."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase

from accounts.models import Membership

View = Callable[..., HttpResponseBase]  # HttpResponse or StreamingHttpResponse


def org_view(view: View) -> View:
    """Signed in, with request.org set; a user without any org gets their personal org first."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.org is None:  # type: ignore[attr-defined]
            from accounts.orgs import create_personal_org

            org = create_personal_org(request.user)  # type: ignore[arg-type]
            request.org = org  # type: ignore[attr-defined]
            request.membership = Membership.objects.get(org=org, user=request.user)  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def require_manager(request: HttpRequest) -> Membership:
    """Managers only; a plain member gets a 404 like any page that is not theirs."""
    membership: Membership = request.membership  # type: ignore[attr-defined]
    if not membership.is_manager:
        raise Http404
    return membership
