"""Streaming translation, one object per request and direction, plus usage meters for pass-through. Pure, no Django.

``OpenAIToAnthropic(requested_model, message_id, input_tokens_hint=0, *, provider="", sealer=None)``
    ``feed(chunk: dict) -> list[(event, payload)]`` per parsed OpenAI chunk; ``finish(estimate=None)`` at ``[DONE]`` or
    upstream EOF (closes blocks, ``message_delta`` with stop_reason and usage, ``message_stop``; ``estimate`` is the
    gateway's usage estimate, reported to the client only when the upstream sent no usage); ``fail(error_type,
    message)`` for a mid-stream error (an Anthropic ``error`` event, nothing after it). Attributes: ``usage`` (what the
    upstream reported; empty if nothing), ``delivered`` (``message_start`` has been emitted, so the client stream has
    begun and failover is no longer possible), ``error`` ((type, message) if the stream ended in an error),
    ``finish_reason``. Encode each pair with ``gateway.translate.sse.encode_json(event, payload)``.

``AnthropicToOpenAI(requested_model, completion_id, created, include_usage, *, reasoning_field="reasoning_content")``
    ``feed(event, data) -> list[chunk dict]``; ``finish()`` at upstream EOF; ``fail(error_type, message)`` (an
    ``{"error": {...}}`` chunk). ``usage``, ``delivered``, ``error``, ``stop_reason``; ``completed`` is True once the
    answer ended normally: only then does the relay write ``data: [DONE]`` (``gateway.translate.sse.DONE``).

``OpenAIUsageMeter`` / ``AnthropicUsageMeter``: same-dialect pass-through metering (``feed`` the parsed events,
read ``usage``, ``finish_reason`` / ``stop_reason``, ``error``).

Each translator is a small state machine: a ``Phase`` enum plus the fewest fields; mapping tables are module constants
(``gateway.translate.answer`` holds the stop-reason maps). The O->A machine opens one Anthropic block per
OpenAI part as it arrives, with a buffered-tool fallback for interleaved parallel tool fragments.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from gateway import usage as usage_mod
from gateway.translate.answer import (
    STOP_TO_FINISH,
    blocks_by_tool_id,
    merge_details,
    message_parts,
    seal,
    stop_reason_for,
    thought_signature,
)
from gateway.translate.reasoning import Sealer, ThinkSplitter
from gateway.translate.shaping import inlines_think
from gateway.usage import Usage
from lib.redact import provider_type, stream_error_message

__all__ = [
    "STATUS_TO_ERROR_TYPE",
    "AnthropicToOpenAI",
    "AnthropicUsageMeter",
    "OpenAIToAnthropic",
    "OpenAIUsageMeter",
    "anthropic_stream_error",
    "error_type_for",
    "openai_stream_error",
]

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]

STATUS_TO_ERROR_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Provider finish reasons that mean "the upstream failed"; an error only if nothing was produced yet.
_ERROR_FINISH: dict[str, str] = {"error": "api_error", "insufficient_system_resource": "overloaded_error"}

_CLOSED_EARLY = "upstream closed the stream before finishing"


def error_type_for(code: Any) -> str:
    """Anthropic error type for an upstream error code (HTTP status as int or string; anything else: api_error)."""
    try:
        return STATUS_TO_ERROR_TYPE.get(int(code), "api_error")
    except (TypeError, ValueError):
        return "api_error"


class Phase(enum.Enum):
    NEW = "new"  # nothing emitted yet
    STREAMING = "streaming"
    BUFFERING = "buffering"  # interleaved tool fragments seen: new tools are held back until finish
    DONE = "done"


class Kind(enum.Enum):
    THINKING = "thinking"
    TEXT = "text"
    TOOL = "tool"


@dataclass(slots=True)
class _Tool:
    id: str
    name: str
    args: list[str] = field(default_factory=list)
    index: int | None = None  # Anthropic block index once started; None while held back


@dataclass(slots=True)
class _Block:
    kind: Kind
    index: int
    tool: _Tool | None = None
    thinking: list[str] = field(default_factory=list)  # kept to seal the block at close
    details: list[dict[str, Any]] = field(default_factory=list)  # OpenRouter reasoning_details, sealed at close


_START_BLOCK: dict[Kind, dict[str, Any]] = {
    Kind.THINKING: {"type": "thinking", "thinking": "", "signature": ""},
    Kind.TEXT: {"type": "text", "text": ""},
}
_DELTA: dict[Kind, tuple[str, str]] = {Kind.THINKING: ("thinking_delta", "thinking"), Kind.TEXT: ("text_delta", "text")}
_PART_KIND = {"thinking": Kind.THINKING, "text": Kind.TEXT}


class OpenAIToAnthropic:
    """OpenAI chat.completion.chunk JSON in, Anthropic Messages SSE events out."""

    def __init__(
        self,
        requested_model: str,
        message_id: str,
        input_tokens_hint: int = 0,
        *,
        provider: str = "",
        sealer: Sealer | None = None,
        inline_think: bool | None = None,
    ) -> None:
        self.requested_model = requested_model
        self.message_id = message_id
        self.input_tokens_hint = input_tokens_hint
        self.provider = provider
        self.sealer = sealer
        self.phase = Phase.NEW
        self.usage: Usage = usage_mod.EMPTY
        self.finish_reason: str | None = None
        self.error: tuple[str, str] | None = None
        self.delivered = False  # message_start was emitted: the client stream has begun, failover is over
        self.thought_signatures: dict[str, str] = {}  # Gemini: tool-call id -> signature to echo next turn
        self._next_index = 0
        self._open: _Block | None = None
        self._tools: list[_Tool] = []
        self._by_key: dict[Any, _Tool] = {}
        if inline_think is None:
            inline_think = inlines_think(provider)
        self._think = ThinkSplitter() if inline_think else None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self.phase is Phase.DONE:
            return []
        if chunk.get("error"):
            return self.fail(*openai_stream_error(chunk["error"]))
        out: list[Event] = []
        if self.phase is Phase.NEW:
            out.append(self._message_start())
        self._take_usage(chunk)
        choices = chunk.get("choices") or ()
        choice = choices[0] if choices else {}
        delta = choice.get("delta") or {}
        if delta.get("reasoning_details"):
            self._reasoning_details(delta["reasoning_details"], out)
        for kind, text in message_parts(delta):
            self._part(kind, text, out)
        for fragment in delta.get("tool_calls") or ():
            if isinstance(fragment, dict):
                self._tool_fragment(fragment, out)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
            self._flush_think(out)
            self._close(out)
        return out

    def open_text_index(self) -> int | None:
        """The index of the text block a chunk's plain text would go to unchanged: one is open, the stream is
        streaming, and no splitter reads the text for inline thinking. Else None (the chunk must go through `feed`)."""
        block = self._open
        if block is None or block.kind is not Kind.TEXT or self.phase is not Phase.STREAMING or self._think is not None:
            return None
        return block.index

    def finish(self, estimate: Usage | None = None) -> list[Event]:
        if self.phase is Phase.DONE:
            return []
        produced = self._next_index > 0 or bool(self._tools)
        if not produced and (self.phase is Phase.NEW or self.finish_reason is None):
            return self.fail("api_error", _CLOSED_EARLY)
        if not produced and self.finish_reason in _ERROR_FINISH:
            return self.fail(_ERROR_FINISH[self.finish_reason], f"upstream finished with {self.finish_reason}")
        if self.finish_reason is None or self.finish_reason in _ERROR_FINISH:
            log.warning("upstream stream ended with finish_reason=%s after content", self.finish_reason)
        out: list[Event] = []
        self._flush_think(out)
        self._close(out)
        self._flush_held_tools(out)
        # Without upstream usage, keep at least the prompt estimate message_start announced (the SDKs overwrite it).
        reported = self.usage or estimate or Usage(input=self.input_tokens_hint)
        stop_reason = stop_reason_for(self.finish_reason, bool(self._tools))
        out.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": usage_mod.to_anthropic(reported),
                },
            )
        )
        out.append(("message_stop", {"type": "message_stop"}))
        self.phase = Phase.DONE
        return out

    def fail(self, error_type: str, message: str) -> list[Event]:
        if self.phase is Phase.DONE:
            return []
        self.error = (error_type, message)
        self.phase = Phase.DONE
        return [("error", {"type": "error", "error": {"type": error_type, "message": message}})]

    # -- steps -------------------------------------------------------------------------------------------------------

    def _message_start(self) -> Event:
        self.phase = Phase.STREAMING
        self.delivered = True
        usage = {
            "input_tokens": self.input_tokens_hint,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        }
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.requested_model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return ("message_start", {"type": "message_start", "message": message})

    def _take_usage(self, chunk: dict[str, Any]) -> None:
        raw = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if raw:
            self.usage = usage_mod.from_openai(raw)

    def _part(self, kind: str, text: str, out: list[Event]) -> None:
        pieces = self._think.feed(text) if self._think is not None and kind == "text" else [(kind, text)]
        for piece_kind, piece in pieces:
            self._text(_PART_KIND[piece_kind], piece, out)

    def _reasoning_details(self, items: Any, out: list[Event]) -> None:
        # Signed or encrypted reasoning must survive the client round trip: it rides in the block's signature.
        block = self._open
        if block is None or block.kind is not Kind.THINKING:
            self._close(out)
            block = self._start(Kind.THINKING, dict(_START_BLOCK[Kind.THINKING]), out)
        merge_details(block.details, items)

    def _flush_think(self, out: list[Event]) -> None:
        for kind, piece in self._think.flush() if self._think is not None else ():
            self._text(_PART_KIND[kind], piece, out)

    def _text(self, kind: Kind, text: str, out: list[Event]) -> None:
        block = self._open
        if block is None or block.kind is not kind:
            self._close(out)
            block = self._start(kind, dict(_START_BLOCK[kind]), out)
        if kind is Kind.THINKING:
            block.thinking.append(text)
        delta_type, key = _DELTA[kind]
        out.append(_delta(block.index, {"type": delta_type, key: text}))

    def _tool_fragment(self, fragment: dict[str, Any], out: list[Event]) -> None:
        function = fragment.get("function") or {}
        tool = self._tool_for(fragment, function)
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        if tool is None:
            tool = self._new_tool(fragment, function, out)
        signature = thought_signature(fragment)
        if signature:
            self.thought_signatures[tool.id] = signature
        streaming = self._open is not None and self._open.tool is tool
        if arguments and not streaming and tool.index is not None:
            # Anthropic blocks cannot reopen: from here on new tools wait for finish.
            log.warning("interleaved tool fragments for %s after its block closed", tool.id)
            self.phase = Phase.BUFFERING
        if arguments:
            tool.args.append(arguments)
            if streaming:
                out.append(_delta(tool.index, {"type": "input_json_delta", "partial_json": arguments}))  # type: ignore[arg-type]

    def _tool_for(self, fragment: dict[str, Any], function: dict[str, Any]) -> _Tool | None:
        key = self._key_of(fragment)
        tool = self._by_key.get(key)
        if tool is not None and fragment.get("id") and fragment["id"] != tool.id:
            return None  # Gemini reuses index 0 for the next parallel call, with a new id
        return tool

    def _key_of(self, fragment: dict[str, Any]) -> Any:
        if fragment.get("index") is not None:
            return fragment["index"]
        if fragment.get("id"):
            return fragment["id"]
        if self._open is not None and self._open.tool is not None:
            return self._key_by_tool(self._open.tool)
        return 0

    def _key_by_tool(self, tool: _Tool) -> Any:
        return next(key for key, known in self._by_key.items() if known is tool)

    def _new_tool(self, fragment: dict[str, Any], function: dict[str, Any], out: list[Event]) -> _Tool:
        tool_id = fragment.get("id") or f"toolu_{self.message_id.removeprefix('msg_')}_{len(self._tools)}"
        tool = _Tool(id=tool_id, name=function.get("name") or "")
        self._tools.append(tool)
        self._by_key[self._key_of(fragment)] = tool
        if self.phase is not Phase.BUFFERING:
            self._close(out)
            self._start_tool(tool, out)
        return tool

    def _start_tool(self, tool: _Tool, out: list[Event]) -> _Block:
        block = self._start(Kind.TOOL, {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}, out)
        block.tool = tool
        tool.index = block.index
        return block

    def _flush_held_tools(self, out: list[Event]) -> None:
        for tool in self._tools:
            if tool.index is None:
                block = self._start_tool(tool, out)
                if tool.args:
                    out.append(_delta(block.index, {"type": "input_json_delta", "partial_json": "".join(tool.args)}))
                self._close(out)

    def _start(self, kind: Kind, content_block: dict[str, Any], out: list[Event]) -> _Block:
        block = _Block(kind, self._next_index)
        self._next_index += 1
        self._open = block
        payload = {"type": "content_block_start", "index": block.index, "content_block": content_block}
        out.append(("content_block_start", payload))
        return block

    def _close(self, out: list[Event]) -> None:
        block = self._open
        if block is None:
            return
        if block.kind is Kind.THINKING:
            signature = seal("".join(block.thinking), self.provider, self.sealer, block.details or None)
            out.append(_delta(block.index, {"type": "signature_delta", "signature": signature}))
        out.append(("content_block_stop", {"type": "content_block_stop", "index": block.index}))
        self._open = None


def _delta(index: int, delta: dict[str, Any]) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def openai_stream_error(error: Any) -> tuple[str, str]:
    """(Anthropic error type, message for the client) of the `error` an OpenAI-dialect upstream sent in a stream.

    The message is qlaud's, quoting the provider's type and text only redacted (lib/redact.py), as for errors
    before the first byte (gateway.errors.from_upstream)."""
    if not isinstance(error, dict):
        return "api_error", stream_error_message("api_error", error)
    code = error.get("code") if error.get("code") is not None else error.get("status")
    error_type = error_type_for(code)
    said = provider_type(error.get("type"), error_type)
    if code is not None and str(code) != said:
        said += f", code {provider_type(code, '')}"
    return error_type, stream_error_message(said, error.get("message"))


class AnthropicToOpenAI:
    """Anthropic Messages SSE events in, OpenAI chat.completion.chunk dicts out."""

    def __init__(
        self,
        requested_model: str,
        completion_id: str,
        created: int,
        include_usage: bool,
        *,
        reasoning_field: str = "reasoning_content",
    ) -> None:
        self.requested_model = requested_model
        self.completion_id = completion_id
        self.created = created
        self.include_usage = include_usage
        self.reasoning_field = reasoning_field
        self.phase = Phase.NEW
        self.usage: Usage = usage_mod.EMPTY
        self.stop_reason: str | None = None
        self.error: tuple[str, str] | None = None
        self.delivered = False  # the first chunk was emitted
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._thinking: list[dict[str, Any]] = []  # signed blocks the OpenAI client cannot carry back
        self._tool_ids: list[str] = []

    @property
    def completed(self) -> bool:
        return self.phase is Phase.DONE and self.error is None

    def feed(self, event: str | None, data: dict[str, Any]) -> list[dict[str, Any]]:
        kind = data.get("type") or event or ""
        if self.phase is Phase.DONE or kind == "ping":
            return []
        if kind == "error":
            return self.fail(*anthropic_stream_error(data.get("error")))
        out: list[dict[str, Any]] = []
        if self.phase is Phase.NEW:
            self.phase = Phase.STREAMING
            self.delivered = True
            out.append(self._chunk({"role": "assistant", "content": ""}))
        handler = _A2O_HANDLERS.get(kind)
        if handler is not None:
            handler(self, data, out)
        return out

    def finish(self) -> list[dict[str, Any]]:
        if self.phase is Phase.DONE:
            return []
        if self.stop_reason is None:
            return self.fail("api_error", _CLOSED_EARLY)
        out: list[dict[str, Any]] = []
        self._on_message_stop({}, out)
        return out

    def fail(self, error_type: str, message: str) -> list[dict[str, Any]]:
        if self.phase is Phase.DONE:
            return []
        self.error = (error_type, message)
        self.phase = Phase.DONE
        return [{"error": {"message": message, "type": error_type, "param": None, "code": None}}]

    # -- handlers ----------------------------------------------------------------------------------------------------

    def _on_message_start(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self.usage = usage_mod.update_anthropic(self.usage, (data.get("message") or {}).get("usage"))

    def _on_block_start(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            self._thinking.append(dict(block))
        if kind == "tool_use":
            self._tool_ids.append(block.get("id") or "")
            index = self._tool_index.setdefault(data.get("index", 0), len(self._tool_index))
            call = {"index": index, "id": block.get("id"), "type": "function"}
            # Anthropic sends input {} and streams it; some compatible servers put the whole input here instead.
            arguments = (
                json.dumps(block["input"], ensure_ascii=False, separators=(",", ":")) if block.get("input") else ""
            )
            call["function"] = {"name": block.get("name"), "arguments": arguments}
            out.append(self._chunk({"tool_calls": [call]}))
        elif kind == "text" and block.get("text"):
            out.append(self._chunk({"content": block["text"]}))
        elif kind == "thinking" and block.get("thinking"):
            out.append(self._chunk({self.reasoning_field: block["thinking"]}))

    def _on_block_delta(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            out.append(self._chunk({"content": delta["text"]}))
        elif kind == "thinking_delta" and delta.get("thinking"):
            self._thinking[-1]["thinking"] = self._thinking[-1].get("thinking", "") + delta["thinking"]
            out.append(self._chunk({self.reasoning_field: delta["thinking"]}))
        elif kind == "signature_delta" and self._thinking:
            self._thinking[-1]["signature"] = delta.get("signature") or ""
        elif kind == "input_json_delta" and delta.get("partial_json"):
            index = self._tool_index.get(data.get("index", 0), 0)
            call = {"index": index, "function": {"arguments": delta["partial_json"]}}
            out.append(self._chunk({"tool_calls": [call]}))

    @property
    def thinking_blocks(self) -> dict[str, list[dict[str, Any]]]:
        """Tool-call id -> this answer's signed thinking blocks, for the gateway to store and hand back to
        ``openai_to_anthropic(thinking_blocks=...)`` on the next turn."""
        return blocks_by_tool_id(self._tool_ids, self._thinking)

    def _on_message_delta(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
        self.usage = usage_mod.update_anthropic(self.usage, data.get("usage"))

    def _on_message_stop(self, data: dict[str, Any], out: list[dict[str, Any]]) -> None:
        finish = STOP_TO_FINISH.get(self.stop_reason or "end_turn", "stop")
        out.append(self._chunk({}, finish))
        if self.include_usage:
            out.append(self._envelope([], usage_mod.to_openai(self.usage)))
        self.phase = Phase.DONE

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope([choice], None)

    def _envelope(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.requested_model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return chunk


_A2O_HANDLERS = {
    "message_start": AnthropicToOpenAI._on_message_start,
    "content_block_start": AnthropicToOpenAI._on_block_start,
    "content_block_delta": AnthropicToOpenAI._on_block_delta,
    "message_delta": AnthropicToOpenAI._on_message_delta,
    "message_stop": AnthropicToOpenAI._on_message_stop,
}


def anthropic_stream_error(error: Any) -> tuple[str, str]:
    """(error type, message for the client) of an Anthropic-dialect `error` event: redacted, as openai_stream_error."""
    if not isinstance(error, dict):
        return "api_error", stream_error_message("api_error", error)
    error_type = provider_type(error.get("type"), "api_error")
    return error_type, stream_error_message(error_type, error.get("message"))


class OpenAIUsageMeter:
    """Same-dialect OpenAI pass-through: watch the parsed chunks for usage, finish reason and errors."""

    __slots__ = ("error", "finish_reason", "usage")

    def __init__(self) -> None:
        self.usage: Usage = usage_mod.EMPTY
        self.finish_reason: str | None = None
        self.error: tuple[str, str] | None = None

    def feed(self, chunk: dict[str, Any]) -> None:
        if chunk.get("error"):
            self.error = openai_stream_error(chunk["error"])
        raw = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if raw:
            self.usage = usage_mod.from_openai(raw)
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]


class AnthropicUsageMeter:
    """Same-dialect Anthropic pass-through: cumulative usage from message_start + message_delta, stop reason."""

    __slots__ = ("error", "stop_reason", "usage")

    def __init__(self) -> None:
        self.usage: Usage = usage_mod.EMPTY
        self.stop_reason: str | None = None
        self.error: tuple[str, str] | None = None

    @property
    def finish_reason(self) -> str | None:
        return self.stop_reason

    def feed(self, event: str | None, data: dict[str, Any]) -> None:
        kind = data.get("type") or event
        if kind == "message_start":
            self.usage = usage_mod.update_anthropic(self.usage, (data.get("message") or {}).get("usage"))
        elif kind == "message_delta":
            self.usage = usage_mod.update_anthropic(self.usage, data.get("usage"))
            self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
        elif kind == "error":
            self.error = anthropic_stream_error(data.get("error"))
