"""Non-streaming responses, OpenAI Chat Completions <-> Anthropic Messages. Pure, no Django.

- ``openai_to_anthropic_response(resp, requested_model, *, provider="", sealer=None) -> dict``: an OpenAI-compatible
  ``chat.completion`` as an Anthropic ``message``: reasoning (``reasoning_content`` / ``reasoning`` / Mistral thinking
  parts) -> a leading ``thinking`` block whose signature is a qlaud seal (see ``gateway.translate.reasoning``),
  then text, then ``tool_use`` blocks.
- ``anthropic_to_openai_response(resp, requested_model, *, created=None, reasoning_field="reasoning_content")``:
  an Anthropic ``message`` as a ``chat.completion`` (thinking -> ``reasoning_content``).
- ``STOP_TO_FINISH`` (Anthropic stop_reason -> OpenAI finish_reason) and ``FINISH_TO_STOP`` (the reverse);
  ``stop_reason_for(finish_reason, saw_tool)`` applies the Gemini rule (``stop`` with tool calls is ``tool_use``).
- ``tool_input(arguments) -> dict``: tolerant parse of a tool call's argument string.
- Reasoning replay hooks for the gateway to store and hand back on the next turn: ``thought_signatures_of(resp)``
  (Gemini signatures by tool-call id) and ``thinking_blocks_of(resp)`` (Anthropic signed thinking by tool-call id).

The ``model`` field always echoes the model the client asked for (clients.md rule 13); the served upstream model
belongs in headers and receipts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from gateway import usage as usage_mod
from gateway.translate.reasoning import Sealer, is_anthropic, split_think, unsealed
from gateway.translate.shaping import inlines_think

__all__ = [
    "FINISH_TO_STOP",
    "STOP_TO_FINISH",
    "anthropic_to_openai_response",
    "blocks_by_tool_id",
    "merge_details",
    "message_parts",
    "openai_to_anthropic_response",
    "seal",
    "stop_reason_for",
    "thinking_blocks_of",
    "thought_signature",
    "thought_signatures_of",
    "tool_input",
]

STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
}

FINISH_TO_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    "model_length": "max_tokens",  # Mistral
}


def stop_reason_for(finish_reason: str | None, saw_tool: bool) -> str:
    stop = FINISH_TO_STOP.get(finish_reason or "stop", "end_turn")
    # Gemini-compat streams finish tool-call answers with "stop"; the client must still run the tools.
    return "tool_use" if saw_tool and stop == "end_turn" else stop


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as an object: "" / invalid JSON -> {}, a non-object value is wrapped."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def seal(thinking: str, provider: str, sealer: Sealer | None, details: list[dict[str, Any]] | None = None) -> str:
    return sealer.seal(provider, thinking, details) if sealer else unsealed(provider, details)


def merge_details(into: list[dict[str, Any]], items: Any) -> None:
    """Fold streamed OpenRouter ``reasoning_details`` fragments into whole items (keyed by their ``index``)."""
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        known = next((d for d in into if item.get("index") is not None and d.get("index") == item["index"]), None)
        if known is None:
            into.append(dict(item))
            continue
        for key, value in item.items():
            appended = key in _APPENDED and isinstance(value, str) and isinstance(known.get(key), str)
            known[key] = known[key] + value if appended else value


_APPENDED = frozenset({"text", "summary", "data"})


def _details_text(details: Any) -> str:
    if not details or not isinstance(details, list):  # most deltas: no generator built for nothing
        return ""
    return "".join(str(d.get("text") or d.get("summary") or "") for d in details if isinstance(d, dict))


def thought_signature(call: dict[str, Any]) -> str | None:
    """Gemini's ``extra_content.google.thought_signature`` on a tool call, if any."""
    google = (call.get("extra_content") or {}).get("google") or {}
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def thought_signatures_of(resp: dict[str, Any]) -> dict[str, str]:
    """Tool-call id -> Gemini thought signature in a whole OpenAI-compatible answer (store, then hand back to
    ``anthropic_to_openai(thought_signatures=...)``)."""
    message = ((resp.get("choices") or [{}])[0] or {}).get("message") or {}
    calls = [call for call in message.get("tool_calls") or () if isinstance(call, dict)]
    return {call["id"]: sig for call in calls if call.get("id") and (sig := thought_signature(call))}


def blocks_by_tool_id(tool_ids: list[str], blocks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each tool-call id of an Anthropic answer -> that answer's signed thinking blocks (empty if none are signed)."""
    signed = [b for b in blocks if b.get("type") == "redacted_thinking" or is_anthropic(b.get("signature"))]
    return {tool_id: signed for tool_id in tool_ids if tool_id} if signed else {}


def thinking_blocks_of(resp: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``blocks_by_tool_id`` for a whole Anthropic answer (store, then hand back to
    ``openai_to_anthropic(thinking_blocks=...)``)."""
    blocks = [b for b in resp.get("content") or () if isinstance(b, dict)]
    tool_ids = [b.get("id") or "" for b in blocks if b.get("type") == "tool_use"]
    return blocks_by_tool_id(tool_ids, [b for b in blocks if b.get("type") in ("thinking", "redacted_thinking")])


def message_parts(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """("thinking" | "text", text) pieces of an OpenAI message or delta, in order, across provider dialects."""
    reasoning = (
        message.get("reasoning_content") or message.get("reasoning") or _details_text(message.get("reasoning_details"))
    )
    if isinstance(reasoning, str) and reasoning:
        yield "thinking", reasoning
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        yield "text", refusal  # Anthropic has no refusal block; the client still sees the words
    content = message.get("content")
    if isinstance(content, str):
        if content:
            yield "text", content
        return
    for part in content or ():
        yield from _content_part(part)


def _content_part(part: Any) -> Iterator[tuple[str, str]]:
    # Mistral (Magistral) sends content as a list: text parts and thinking parts holding their own text parts.
    if not isinstance(part, dict):
        return
    kind = part.get("type")
    if kind == "text" and part.get("text"):
        yield "text", part["text"]
    elif kind == "thinking":
        inner = part.get("thinking")
        if not isinstance(inner, str):
            inner = "".join(p.get("text", "") for p in inner or () if isinstance(p, dict))
        text = inner
        if text:
            yield "thinking", text


def openai_to_anthropic_response(
    resp: dict[str, Any],
    requested_model: str,
    *,
    provider: str = "",
    sealer: Sealer | None = None,
    inline_think: bool | None = None,
) -> dict[str, Any]:
    choices = resp.get("choices") or [{}]
    message = choices[0].get("message") or {}
    parts = list(message_parts(message))
    if inline_think or (inline_think is None and inlines_think(provider)):
        parts = [piece for kind, text in parts for piece in (split_think(text) if kind == "text" else [(kind, text)])]
    content: list[dict[str, Any]] = []
    thinking = "".join(text for kind, text in parts if kind == "thinking")
    details: list[dict[str, Any]] = []
    merge_details(details, message.get("reasoning_details"))
    if thinking or details:
        signature = seal(thinking, provider, sealer, details or None)
        content.append({"type": "thinking", "thinking": thinking, "signature": signature})
    text = "".join(text for kind, text in parts if kind == "text")
    if text:
        content.append({"type": "text", "text": text})
    tool_calls = message.get("tool_calls") or []
    for call in tool_calls:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{len(content)}",
                "name": function.get("name") or "",
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": "msg_" + str(resp.get("id") or "qlaud").removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason_for(choices[0].get("finish_reason"), bool(tool_calls)),
        "stop_sequence": None,
        "usage": usage_mod.to_anthropic(usage_mod.from_openai(resp.get("usage"))),
    }


def anthropic_to_openai_response(
    resp: dict[str, Any],
    requested_model: str,
    *,
    created: int | None = None,
    reasoning_field: str = "reasoning_content",
) -> dict[str, Any]:
    blocks = [b for b in resp.get("content") or () if isinstance(b, dict)]
    text = "".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
    thinking = "".join(b.get("thinking") or "" for b in blocks if b.get("type") == "thinking")
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if thinking:
        message[reasoning_field] = thinking
    tool_calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-" + str(resp.get("id") or "qlaud").removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": requested_model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": STOP_TO_FINISH.get(resp.get("stop_reason") or "end_turn", "stop"),
            }
        ],
        "usage": usage_mod.to_openai(usage_mod.from_anthropic(resp.get("usage"))),
    }


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
    return {"id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": arguments}}
