"""Publishing to the dashboard's live request feed.

The gateway calls `publish_request(org_id, payload)` after writing a RequestLog row; every open
dashboard of that org receives it over the websocket (qlaud/consumers.py). Publishing never raises:
a missing or failing channel layer must not disturb the request that is being recorded.
"""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

EVENT_TYPE = "request.completed"
FEED_FIELDS = (
    "request_id",
    "created",
    "model",
    "provider",
    "status",
    "input_tokens",
    "output_tokens",
    "cost",
    "ttft_ms",
    "total_ms",
)


def org_group(org_id: int) -> str:
    return f"org_{org_id}_requests"


async def publish_request(org_id: int, payload: dict) -> None:
    """Send one completed request to org `org_id`'s live feed. Only FEED_FIELDS are forwarded."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "request": {k: payload.get(k) for k in FEED_FIELDS}}
    try:
        await layer.group_send(org_group(org_id), message)
    except Exception:  # best effort: the feed is a convenience, the RequestLog row is the record
        log.warning("live feed publish failed for org %s", org_id, exc_info=True)
