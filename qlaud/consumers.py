"""Websocket consumers: the dashboard's live request feed, one channel group per org."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from lib.live_feed import org_group

SESSION_ORG_KEY = "org_id"  # the key accounts.middleware.CurrentOrgMiddleware reads


@database_sync_to_async
def _current_org_id(user, session) -> int | None:
    """The org the user has selected in this session, as the HTTP middleware would pick it."""
    memberships = list(user.memberships.order_by("created").values_list("org_id", flat=True))
    wanted = session.get(SESSION_ORG_KEY) if session is not None else None
    if wanted in memberships:
        return wanted
    return memberships[0] if memberships else None


class RequestFeedConsumer(AsyncJsonWebsocketConsumer):
    """Streams `request.completed` events of the signed-in user's current org. Read-only."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        org_id = await _current_org_id(user, self.scope.get("session"))
        if org_id is None:
            await self.close(code=4403)
            return
        self.group = org_group(org_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The feed is one-way; anything the browser sends is ignored."""

    async def request_completed(self, event: dict) -> None:
        await self.send_json({"type": "request", "request": event["request"]})

    async def requests_completed(self, event: dict) -> None:
        """A batch from the gateway's RequestLog writer: the browser still gets one frame per request."""
        for request in event["requests"]:
            await self.send_json({"type": "request", "request": request})
