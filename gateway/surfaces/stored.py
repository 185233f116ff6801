"""Short-lived storage behind `previous_response_id`, `item_reference` and `GET /v1/responses/{id}`.

qlaud is not a conversation store: a response is kept for `TTL_SECONDS` in the Django cache (Redis in production),
only when the client did not send `store: false`, and only for the org that made it (the org id is part of every
key, so another org's id is simply unknown). What is kept per response: the Response object and the whole
conversation up to and including its output, so a follow-up needs one cache read. Output items are also kept by
their own id for `item_reference` (the AI SDK's default with `store: true`).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from gateway.translate.responses.request import RequestError, normalize_input

TTL_SECONDS = 3600


def _response_key(org_id: int, response_id: str) -> str:
    return f"responses:{org_id}:r:{response_id}"


def _item_key(org_id: int, item_id: str) -> str:
    return f"responses:{org_id}:i:{item_id}"


def wants_storage(body: dict[str, Any]) -> bool:
    return body.get("store") is not False  # OpenAI's default is true


async def save(org_id: int, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
    """Keep a finished response; `conversation` is the resolved input it answered."""
    output = response.get("output") or []
    values: dict[str, Any] = {
        _response_key(org_id, response["id"]): {"response": response, "items": [*conversation, *output]}
    }
    values.update({_item_key(org_id, item["id"]): item for item in output if item.get("id")})
    await cache.aset_many(values, TTL_SECONDS)


async def load(org_id: int, response_id: str) -> dict[str, Any] | None:
    stored = await cache.aget(_response_key(org_id, response_id))
    return stored["response"] if stored else None


async def resolve_input(org_id: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The full input for this turn: the stored conversation of `previous_response_id` followed by the new input,
    with `item_reference` items replaced by the stored items. Raises RequestError (400) on an unknown id."""
    items = normalize_input(body)
    previous = body.get("previous_response_id")
    if previous:
        stored = await cache.aget(_response_key(org_id, str(previous)))
        if stored is None:
            raise RequestError(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        items = [*stored["items"], *items]
    return await _dereference(org_id, items)


async def _dereference(org_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = [str(item.get("id")) for item in items if item.get("type") == "item_reference"]
    if not wanted:
        return items
    found = await cache.aget_many([_item_key(org_id, item_id) for item_id in wanted])
    resolved = []
    for item in items:
        if item.get("type") != "item_reference":
            resolved.append(item)
            continue
        stored = found.get(_item_key(org_id, str(item.get("id"))))
        if stored is None:
            raise RequestError(
                f"Item with id '{item.get('id')}' not found (qlaud keeps items for {TTL_SECONDS // 60} minutes). "
                "Send the full item, or set store to false so clients send full history.",
                param="input",
            )
        resolved.append(stored)
    return resolved
