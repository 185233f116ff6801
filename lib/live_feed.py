"""Publishing to the dashboard's live request feed.

The gateway calls `publish_requests(org_id, payloads)` after writing a batch of RequestLog rows: one
channel-layer message per org and batch, which every open dashboard of that org receives over the
websocket as one frame per request (qlaud/consumers.py). Each request travels with the id of the user
whose key made it (`user_id`, never sent to the browser): the consumer shows members only their own
keys' requests, as the usage pages do, and owners and admins the whole org's. Publishing never raises:
a missing or failing channel layer must not disturb the request that is being recorded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.utils import timezone

log = logging.getLogger(__name__)

EVENT_TYPE = "request.completed"
BATCH_EVENT_TYPE = "requests.completed"


def org_group(org_id: int) -> str:
    return f"org_{org_id}_requests"


def feed_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the feed shows of one request, from RequestLog fields (a row's or the dict the gateway writes).

    Only these counts, costs and timings leave the server: never content, keys or user agents.
    """
    created = fields.get("created") or timezone.now()
    tokens_in = sum(fields.get(k) or 0 for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens"))
    return {
        "request_id": fields.get("request_id", ""),
        "created": created.isoformat() if isinstance(created, datetime) else str(created),
        "model": fields.get("model") or fields.get("requested_model", ""),
        "provider": fields.get("provider", ""),
        "status": fields.get("status"),
        "error_type": fields.get("error_type") or "",
        "input_tokens": tokens_in,
        "output_tokens": fields.get("output_tokens") or 0,
        "cost": fields.get("cost") or 0,  # micro-dollars
        "ttft_ms": fields.get("ttft_ms"),
        "total_ms": fields.get("total_ms"),
    }


async def publish_request(org_id: int, payload: Mapping[str, Any]) -> None:
    """Send one completed request to org `org_id`'s live feed.

    `payload` may be the RequestLog field dict itself (as gateway.pipeline.log_fields builds it):
    it is reduced to feed_payload() before it leaves the process.
    """
    await _send(org_id, {"type": EVENT_TYPE, **_row(payload)})


# The dashboard shows the newest 50 requests (static/js/live-feed.js, MAX_ROWS): older ones of a batch would be
# pushed out as they arrived, so they are not sent (under load a batch holds hundreds, built on the event loop).
# The cut is per user, so a member's own requests are not crowded out by a busier colleague's.
FEED_ROWS = 50


async def publish_requests(org_id: int, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Send several completed requests (oldest first) to org `org_id`'s live feed in one channel-layer message."""
    if payloads:
        await _send(org_id, {"type": BATCH_EVENT_TYPE, "rows": [_row(p) for p in _newest_per_user(payloads)]})


def _newest_per_user(payloads: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The newest FEED_ROWS payloads of each user, oldest first."""
    kept: list[Mapping[str, Any]] = []
    seen: Counter[Any] = Counter()
    for payload in reversed(payloads):
        seen[payload.get("user_id")] += 1
        if seen[payload.get("user_id")] <= FEED_ROWS:
            kept.append(payload)
    return kept[::-1]


def _row(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"user_id": payload.get("user_id"), "request": feed_payload(payload)}


def visible_rows(rows: Sequence[Mapping[str, Any]], only_user: int | None) -> list[dict[str, Any]]:
    """What one dashboard shows of a batch: a member (`only_user`) their keys' rows, a manager (None) all;
    at most FEED_ROWS, the newest."""
    shown = [row["request"] for row in rows if only_user is None or row["user_id"] == only_user]
    return shown[-FEED_ROWS:]


async def _send(org_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(org_group(org_id), message)
    except Exception:  # best effort: the feed is a convenience, the RequestLog row is the record
        log.warning("live feed publish failed for org %s", org_id, exc_info=True)
