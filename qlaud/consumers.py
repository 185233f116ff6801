"""Websocket consumers: the dashboard's live request feed, one channel group per org."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import Membership
from lib.live_feed import org_group, visible_rows

SESSION_ORG_KEY = "org_id"  # the key accounts.middleware.CurrentOrgMiddleware reads


@database_sync_to_async
def _current_membership(user, session) -> Membership | None:
    """The membership of the org the user has selected in this session, as the HTTP middleware would pick it."""
    memberships = list(user.memberships.order_by("created"))
    wanted = session.get(SESSION_ORG_KEY) if session is not None else None
    chosen = [m for m in memberships if m.org_id == wanted] or memberships
    return chosen[0] if chosen else None


class RequestFeedConsumer(AsyncJsonWebsocketConsumer):
    """Streams `request.completed` events of the signed-in user's current org. Read-only.

    Owners and admins see every request of the org; a member only the requests of keys they created,
    as on the usage pages (the role is read when the socket opens: a page reload picks up a new one).
    """

    group: str | None = None
    only_user: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        membership = await _current_membership(user, self.scope.get("session"))
        if membership is None:
            await self.close(code=4403)
            return
        self.only_user = None if membership.is_manager else user.pk
        self.group = org_group(membership.org_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The feed is one-way; anything the browser sends is ignored."""

    async def request_completed(self, event: dict) -> None:
        await self.requests_completed({"rows": [event]})

    async def requests_completed(self, event: dict) -> None:
        """A batch from the gateway's RequestLog writer: the browser still gets one frame per request."""
        for request in visible_rows(event["rows"], self.only_user):
            await self.send_json({"type": "request", "request": request})
