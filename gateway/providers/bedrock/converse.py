"""Bedrock Converse <-> Anthropic Messages, both pure (no Django, no I/O).

Converse is how Bedrock serves its non-Anthropic models (Llama, Mistral, DeepSeek-R1, gpt-oss...)
behind one schema. The pipeline speaks the Anthropic dialect to this provider, so requests are
mapped Anthropic -> Converse and responses / stream events Converse -> Anthropic here.
"""

from __future__ import annotations

import base64
import enum
import uuid
from typing import Any

Event = tuple[str, dict[str, Any]]

STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
TOOL_CHOICES: dict[str, dict[str, Any]] = {"auto": {"auto": {}}, "any": {"any": {}}}
INFERENCE_FIELDS = {
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop_sequences": "stopSequences",
}


class UnsupportedContent(ValueError):
    """A request part Converse cannot carry (e.g. an image by URL: Converse takes bytes or S3 only)."""


# --- request ------------------------------------------------------------------------------


def to_converse(body: dict[str, Any], *, model_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": [_message(m) for m in body.get("messages", [])]}
    if system := _system(body.get("system")):
        out["system"] = system
    inference = {INFERENCE_FIELDS[k]: v for k, v in body.items() if k in INFERENCE_FIELDS and v is not None}
    if inference:
        out["inferenceConfig"] = inference
    if tool_config := _tool_config(body):
        out["toolConfig"] = tool_config
    extra = _additional_fields(body, model_id)
    if extra:
        out["additionalModelRequestFields"] = extra
    return out


def _system(system: Any) -> list[dict[str, Any]]:
    if not system:
        return []
    if isinstance(system, str):
        return [{"text": system}]
    return [part for block in system for part in _with_cache_point({"text": block["text"]}, block)]


def _message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content", "")
    if isinstance(content, str):
        blocks = [{"text": content}]
    else:
        blocks = [part for block in content for part in _with_cache_point(_block(block), block)]
    return {"role": message["role"], "content": blocks}


def _with_cache_point(converted: dict[str, Any], original: dict[str, Any]) -> list[dict[str, Any]]:
    # Anthropic marks the block that ends a cached prefix; Converse wants a cachePoint after it.
    if original.get("cache_control"):
        return [converted, {"cachePoint": {"type": "default"}}]
    return [converted]


def _block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"text": block["text"]}
    if kind == "image":
        return {"image": _image(block["source"])}
    if kind == "document":
        return {"document": _document(block)}
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block.get("input") or {}}}
    if kind == "tool_result":
        return {"toolResult": _tool_result(block)}
    if kind == "thinking":
        text = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block["data"]}}
    raise UnsupportedContent(f"content block type {kind!r} is not supported by Bedrock Converse")


def _image(source: dict[str, Any]) -> dict[str, Any]:
    if source.get("type") != "base64":
        raise UnsupportedContent("Bedrock Converse accepts images as base64 data only, not by URL")
    image_format = source.get("media_type", "image/png").split("/")[-1].replace("jpg", "jpeg")
    return {"format": image_format, "source": {"bytes": source["data"]}}


def _document(block: dict[str, Any]) -> dict[str, Any]:
    source = block["source"]
    if source.get("type") == "text":
        return {"format": "txt", "name": _doc_name(block), "source": {"bytes": _b64(source["data"])}}
    if source.get("type") != "base64":
        raise UnsupportedContent("Bedrock Converse accepts documents as base64 data only")
    doc_format = source.get("media_type", "application/pdf").split("/")[-1]
    return {"format": doc_format, "name": _doc_name(block), "source": {"bytes": source["data"]}}


def _doc_name(block: dict[str, Any]) -> str:
    # Converse requires a name of letters, digits, spaces, hyphens, parentheses and brackets.
    title = "".join(c for c in str(block.get("title") or "document") if c.isalnum() or c in " -()[]")
    return title.strip()[:200] or "document"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _tool_result(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content", "")
    if isinstance(content, str):
        parts = [{"text": content}] if content else []
    else:
        parts = [_tool_result_part(p) for p in content]
    return {
        "toolUseId": block["tool_use_id"],
        "content": parts or [{"text": ""}],
        "status": "error" if block.get("is_error") else "success",
    }


def _tool_result_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image":
        return {"image": _image(part["source"])}
    if part.get("type") == "text":
        return {"text": part["text"]}
    raise UnsupportedContent(f"tool_result part {part.get('type')!r} is not supported by Bedrock Converse")


def _tool_config(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]
    choice = body.get("tool_choice") or {}
    # "none" has no Converse equivalent: drop the tools, unless the history uses them (then
    # Converse requires their declaration, and the choice falls back to auto).
    if not tools or (choice.get("type") == "none" and not _uses_tools(body)):
        return None
    specs = [
        part
        for t in tools
        for part in _with_cache_point(
            {"toolSpec": {"name": t["name"], "description": t.get("description") or t["name"],
                          "inputSchema": {"json": t["input_schema"]}}}, t)
    ]  # fmt: skip
    config: dict[str, Any] = {"tools": specs}
    if choice.get("type") in TOOL_CHOICES:
        config["toolChoice"] = TOOL_CHOICES[choice["type"]]
    elif choice.get("type") == "tool":
        config["toolChoice"] = {"tool": {"name": choice["name"]}}
    return config


def _uses_tools(body: dict[str, Any]) -> bool:
    return any(
        isinstance(m.get("content"), list) and any(b.get("type") in ("tool_use", "tool_result") for b in m["content"])
        for m in body.get("messages", [])
    )


def _additional_fields(body: dict[str, Any], model_id: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    thinking = body.get("thinking")
    # Only Claude understands Anthropic's thinking switch; other models reject unknown fields.
    if thinking and thinking.get("type") == "enabled" and "anthropic." in model_id:
        extra["thinking"] = thinking
    if body.get("top_k") is not None and "anthropic." in model_id:
        extra["top_k"] = body["top_k"]
    return extra


# --- response -----------------------------------------------------------------------------


def new_message_id() -> str:
    return f"msg_bdrk_{uuid.uuid4().hex[:24]}"


def usage_from_converse(usage: dict[str, Any]) -> dict[str, int]:
    """Converse's inputTokens already excludes cache reads and writes, as Anthropic's does."""
    return {
        "input_tokens": int(usage.get("inputTokens") or 0),
        "output_tokens": int(usage.get("outputTokens") or 0),
        "cache_read_input_tokens": int(usage.get("cacheReadInputTokens") or 0),
        "cache_creation_input_tokens": int(usage.get("cacheWriteInputTokens") or 0),
    }


def message_from_converse(response: dict[str, Any], *, model: str = "") -> dict[str, Any]:
    content = response.get("output", {}).get("message", {}).get("content", [])
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [b for b in (_anthropic_block(c) for c in content) if b is not None],
        "stop_reason": STOP_REASONS.get(response.get("stopReason", ""), "end_turn"),
        "stop_sequence": None,
        "usage": usage_from_converse(response.get("usage") or {}),
    }


def _anthropic_block(block: dict[str, Any]) -> dict[str, Any] | None:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use.get("input") or {}}
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
        text = reasoning.get("reasoningText", {})
        return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
    return None  # cachePoint, guardContent...: nothing the client needs to see


# --- stream -------------------------------------------------------------------------------


class _Phase(enum.Enum):
    BEFORE = "before"  # nothing sent yet
    OPEN = "open"  # message_start sent
    STOPPED = "stopped"  # messageStop seen, waiting for metadata (usage)
    DONE = "done"  # message_stop sent


class ConverseToAnthropic:
    """One per request: Converse stream events in, Anthropic stream events out."""

    def __init__(self, *, model: str = "") -> None:
        self._model = model
        self._phase = _Phase.BEFORE
        self._blocks: dict[int, tuple[int, str]] = {}  # converse index -> (anthropic index, block type)
        self._next_index = 0
        self._stop_reason = "end_turn"
        self.usage: dict[str, int] | None = None

    def feed(self, event_type: str, data: dict[str, Any]) -> list[Event]:
        out = self._start() if self._phase is _Phase.BEFORE else []
        handler = _HANDLERS.get(event_type)
        if handler is not None:
            out += handler(self, data)
        return out

    def finish(self) -> list[Event]:
        """End of the upstream stream: complete the message if Bedrock sent messageStop."""
        if self._phase is _Phase.STOPPED:
            return self._close_message()
        return []

    def _start(self) -> list[Event]:
        self._phase = _Phase.OPEN
        message: dict[str, Any] = {
            "id": new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _on_message_start(self, data: dict[str, Any]) -> list[Event]:
        return []

    def _on_block_start(self, data: dict[str, Any]) -> list[Event]:
        use = (data.get("start") or {}).get("toolUse")
        if use is None:
            return []
        block = {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": {}}
        return self._open(data.get("contentBlockIndex", 0), block)

    def _on_block_delta(self, data: dict[str, Any]) -> list[Event]:
        index = data.get("contentBlockIndex", 0)
        delta = data.get("delta") or {}
        if "text" in delta:
            return self._delta(index, {"type": "text", "text": ""}, {"type": "text_delta", "text": delta["text"]})
        if "toolUse" in delta:
            partial = delta["toolUse"].get("input", "")
            return self._delta(index, None, {"type": "input_json_delta", "partial_json": partial})
        if "reasoningContent" in delta:
            return self._reasoning_delta(index, delta["reasoningContent"])
        return []

    def _reasoning_delta(self, index: int, reasoning: dict[str, Any]) -> list[Event]:
        if "redactedContent" in reasoning:
            return self._open(index, {"type": "redacted_thinking", "data": reasoning["redactedContent"]})
        thinking = {"type": "thinking", "thinking": "", "signature": ""}
        if "signature" in reasoning:
            return self._delta(index, thinking, {"type": "signature_delta", "signature": reasoning["signature"]})
        return self._delta(index, thinking, {"type": "thinking_delta", "thinking": reasoning.get("text", "")})

    def _on_block_stop(self, data: dict[str, Any]) -> list[Event]:
        return self._close(data.get("contentBlockIndex", 0))

    def _on_message_stop(self, data: dict[str, Any]) -> list[Event]:
        self._stop_reason = STOP_REASONS.get(data.get("stopReason", ""), "end_turn")
        out = [e for index in list(self._blocks) for e in self._close(index)]
        self._phase = _Phase.STOPPED
        if self.usage is not None:  # metadata came first: nothing left to wait for
            out += self._close_message()
        return out

    def _on_metadata(self, data: dict[str, Any]) -> list[Event]:
        self.usage = usage_from_converse(data.get("usage") or {})
        return self._close_message() if self._phase is _Phase.STOPPED else []

    def _open(self, converse_index: int, block: dict[str, Any]) -> list[Event]:
        if converse_index in self._blocks:
            return []
        index = self._next_index
        self._next_index += 1
        self._blocks[converse_index] = (index, block["type"])
        return [("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})]

    def _delta(self, converse_index: int, opener: dict[str, Any] | None, delta: dict[str, Any]) -> list[Event]:
        out = self._open(converse_index, opener) if opener is not None else []
        if converse_index not in self._blocks:
            return out  # a tool input delta without its start: nothing to attach it to
        index = self._blocks[converse_index][0]
        return [*out, ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})]

    def _close(self, converse_index: int) -> list[Event]:
        entry = self._blocks.pop(converse_index, None)
        if entry is None:
            return []
        return [("content_block_stop", {"type": "content_block_stop", "index": entry[0]})]

    def _close_message(self) -> list[Event]:
        self._phase = _Phase.DONE
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        usage = self.usage or {"output_tokens": 0}
        return [
            ("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
            ("message_stop", {"type": "message_stop"}),
        ]


_HANDLERS = {
    "messageStart": ConverseToAnthropic._on_message_start,
    "contentBlockStart": ConverseToAnthropic._on_block_start,
    "contentBlockDelta": ConverseToAnthropic._on_block_delta,
    "contentBlockStop": ConverseToAnthropic._on_block_stop,
    "messageStop": ConverseToAnthropic._on_message_stop,
    "metadata": ConverseToAnthropic._on_metadata,
}
