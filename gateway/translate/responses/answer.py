"""Responses API objects: the `Response` envelope, output items, usage, and the non-streaming translations
Chat Completion -> Response (C->R) and Anthropic Message -> Response (A->R). Pure, no Django.

The response echoes the client's own `model`
string and request options; upstream reasoning becomes a reasoning item whose `summary` carries the text and,
when the client asked for `include: ["reasoning.encrypted_content"]`, whose `encrypted_content` carries a
sealed qlaud blob (gateway/translate/responses/blob.py) so the next turn can hand it back to the same upstream.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.translate.responses.request import ToolNames

Sealer = Callable[[dict[str, Any]], str]

CHAT_FINISH = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "function_call": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "model_length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}
ANTHROPIC_STOP = {
    "end_turn": ("completed", None),
    "stop_sequence": ("completed", None),
    "tool_use": ("completed", None),
    "pause_turn": ("completed", None),
    "max_tokens": ("incomplete", "max_output_tokens"),
    "model_context_window_exceeded": ("incomplete", "max_output_tokens"),
    "refusal": ("incomplete", "content_filter"),
}
# Request fields echoed in every Response object, with OpenAI's defaults when the client sent nothing.
ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "reasoning": {"effort": None, "summary": None},
    "safety_identifier": None,
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "user": None,
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """What every Response object of one request repeats."""

    id: str
    created_at: int
    model: str
    echo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_request(
        cls, body: dict[str, Any], *, response_id: str | None = None, created_at: int | None = None
    ) -> ResponseMeta:
        echo = {k: body[k] if body.get(k) is not None else default for k, default in ECHOED.items()}
        return cls(response_id or new_id("resp"), created_at or int(time.time()), str(body.get("model")), echo)


def response_object(
    meta: ResponseMeta,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    return {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": meta.model,
        "output": output,
        "service_tier": "default",
        "truncation": "disabled",
        "usage": usage,
        **meta.echo,
    }


def responses_usage(*, input_tokens: int, cached: int, cache_write: int, output: int, reasoning: int) -> dict:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output,
    }


def usage_from_chat(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return responses_usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        cached=prompt.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0,
        cache_write=prompt.get("cache_write_tokens") or 0,
        output=usage.get("completion_tokens") or 0,
        reasoning=completion.get("reasoning_tokens") or 0,
    )


def usage_from_anthropic(usage: dict[str, Any]) -> dict[str, Any]:
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    return responses_usage(
        input_tokens=(usage.get("input_tokens") or 0) + read + write,
        cached=read,
        cache_write=write,
        output=usage.get("output_tokens") or 0,
        reasoning=usage.get("reasoning_tokens") or 0,
    )


def estimated_usage(output_text_chars: int) -> dict[str, Any]:
    """Never omit usage (the AI SDK requires it): about 4 characters per token when the upstream sent none."""
    return responses_usage(
        input_tokens=0, cached=0, cache_write=0, output=math.ceil(output_text_chars / 4), reasoning=0
    )


# --- output items ----------------------------------------------------------------------------


def message_item(item_id: str, text: str | None, *, done: bool) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if text is not None else []
    status = "completed" if done else "in_progress"
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, text: str | None, blob: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if text:
        item["summary"] = [{"type": "summary_text", "text": text}]
    if blob:
        item["encrypted_content"] = blob
    return item


def call_item(
    item_id: str, call_id: str, upstream_name: str, arguments: str, tools: ToolNames, *, done: bool
) -> dict[str, Any]:
    """A function_call (namespace restored) or, for a freeform tool, a custom_tool_call with its `input`."""
    namespace, name, kind = tools.to_client(upstream_name)
    item = {"id": item_id, "type": "function_call", "status": "completed" if done else "in_progress"}
    item.update({"call_id": call_id, "name": name})
    if kind == "custom":
        item.update({"type": "custom_tool_call", "input": custom_input(arguments) if done else ""})
        return item
    item["arguments"] = arguments
    if namespace:
        item["namespace"] = namespace
    return item


def custom_input(arguments: str) -> str:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    return value.get("input", "") if isinstance(value, dict) else arguments


def call_id_or_new(upstream_id: object) -> str:
    return upstream_id if isinstance(upstream_id, str) and upstream_id else "call_" + secrets.token_hex(12)


# --- non-streaming ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shaping:
    """How output is presented for one request."""

    tools: ToolNames
    provider: str
    sealer: Sealer | None = None  # set when the client included reasoning.encrypted_content


def chat_to_response(completion: dict[str, Any], meta: ResponseMeta, shaping: Shaping) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        blob = shaping.sealer({"p": shaping.provider, "k": "text", "t": reasoning}) if shaping.sealer else None
        output.append(reasoning_item(new_id("rs"), reasoning, blob))
    if message.get("content"):
        output.append(message_item(new_id("msg"), message["content"], done=True))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        call_id = call_id_or_new(call.get("id"))
        args = function.get("arguments") or "{}"
        output.append(call_item(new_id("fc"), call_id, function.get("name", ""), args, shaping.tools, done=True))
    status, reason = CHAT_FINISH.get(choice.get("finish_reason") or "", ("completed", None))
    usage = usage_from_chat(completion["usage"]) if completion.get("usage") else estimated_usage(output_chars(output))
    return response_object(meta, status=status, output=output, usage=usage, incomplete=reason)


def anthropic_to_response(message: dict[str, Any], meta: ResponseMeta, shaping: Shaping) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        output.extend(_anthropic_block_items(block, shaping))
    status, reason = ANTHROPIC_STOP.get(message.get("stop_reason") or "", ("completed", None))
    usage = usage_from_anthropic(message["usage"]) if message.get("usage") else estimated_usage(output_chars(output))
    return response_object(meta, status=status, output=output, usage=usage, incomplete=reason)


def anthropic_blob(shaping: Shaping, kind: str, text: str = "", signature: str = "", data: str = "") -> str | None:
    if shaping.sealer is None:
        return None
    if kind == "redacted":
        return shaping.sealer({"p": shaping.provider, "k": "redacted", "d": data})
    return shaping.sealer({"p": shaping.provider, "k": "thinking", "t": text, "s": signature})


def _anthropic_block_items(block: dict[str, Any], shaping: Shaping) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "thinking":
        blob = anthropic_blob(shaping, "thinking", block.get("thinking", ""), block.get("signature", ""))
        return [reasoning_item(new_id("rs"), block.get("thinking", ""), blob)]
    if kind == "redacted_thinking":
        return [reasoning_item(new_id("rs"), None, anthropic_blob(shaping, "redacted", data=block.get("data", "")))]
    if kind == "text" and block.get("text"):
        return [message_item(new_id("msg"), block["text"], done=True)]
    if kind == "tool_use":
        call_id = call_id_or_new(block.get("id"))
        args = json.dumps(block.get("input") or {})
        return [call_item(new_id("fc"), call_id, block.get("name", ""), args, shaping.tools, done=True)]
    return []


def output_chars(output: list[dict[str, Any]]) -> int:
    total = 0
    for item in output:
        total += sum(len(p.get("text", "")) for p in item.get("content", []) + item.get("summary", []))
        total += len(item.get("arguments", ""))
    return total
