"""Non-streaming responses, OpenAI Chat Completions <-> Anthropic Messages. Pure, no Django.

- ``openai_to_anthropic_response(resp, requested_model, *, provider="", sealer=None) -> dict``: an OpenAI-compatible
  ``chat.completion`` as an Anthropic ``message``: reasoning (``reasoning_content`` / ``reasoning`` / Mistral thinking
  parts) -> a leading ``thinking`` block whose signature is a qlaud seal (see ``gateway.reasoning``), then text, then
  ``tool_use`` blocks.
- ``anthropic_to_openai_response(resp, requested_model, *, created=None, reasoning_field="reasoning_content")``:
  an Anthropic ``message`` as a ``chat.completion`` (thinking -> ``reasoning_content``).
- ``STOP_TO_FINISH`` (Anthropic stop_reason -> OpenAI finish_reason) and ``FINISH_TO_STOP`` (the reverse);
  ``stop_reason_for(finish_reason, saw_tool)`` applies the Gemini rule (``stop`` with tool calls is ``tool_use``).
- ``tool_input(arguments) -> dict``: tolerant parse of a tool call's argument string.

The ``model`` field always echoes the model the client asked for (clients.md rule 13); the served upstream model
belongs in headers and receipts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from gateway import usage as usage_mod
from gateway.reasoning import Sealer, split_think, unsealed
from gateway.shaping import inlines_think

__all__ = [
    "FINISH_TO_STOP",
    "STOP_TO_FINISH",
    "anthropic_to_openai_response",
    "message_parts",
    "openai_to_anthropic_response",
    "seal",
    "stop_reason_for",
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


def seal(thinking: str, provider: str, sealer: Sealer | None) -> str:
    return sealer.seal(provider, thinking) if sealer else unsealed(provider)


def message_parts(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """("thinking" | "text", text) pieces of an OpenAI message or delta, in order, across provider dialects."""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
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
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": seal(thinking, provider, sealer)})
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
