from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

SESSION_ORG_KEY = "org_id"


def _current_membership(user: Any, wanted: Any) -> Any:
    memberships = list(user.memberships.select_related("org").order_by("created"))
    return next((m for m in memberships if m.org_id == wanted), None) or (memberships[0] if memberships else None)


class CurrentOrgMiddleware:
    """Sets request.org and request.membership for signed-in users (no query for anonymous ones).

    Async-capable so the gateway's async views keep running on the event loop: API requests
    carry no session, so the user is anonymous and nothing is looked up.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        user = getattr(request, "user", None)
        membership = None
        if user is not None and user.is_authenticated:
            membership = _current_membership(user, request.session.get(SESSION_ORG_KEY))
        _set(request, membership)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        membership = None
        if hasattr(request, "auser"):
            user = await request.auser()
            if user.is_authenticated:
                wanted = await request.session.aget(SESSION_ORG_KEY)
                membership = await sync_to_async(_current_membership)(user, wanted)
        _set(request, membership)
        return await self.get_response(request)


def _set(request: HttpRequest, membership: Any) -> None:
    request.org = membership.org if membership is not None else None  # type: ignore[attr-defined]
    request.membership = membership  # type: ignore[attr-defined]
