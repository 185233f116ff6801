"""Upstream streams -> Responses API events (pure state machines, no Django).

Two classes, one per upstream dialect:

- `ChatToResponses.feed(chunk)`: one parsed Chat Completions chunk (dict) at a time.
- `AnthropicToResponses.feed(event, data)`: one parsed Anthropic SSE event at a time.

Both: `start()` (call once the upstream answered 200: `response.created`, `response.in_progress`),
`finish()` (end of upstream stream: closes open items, then `response.completed` / `.incomplete` / `.failed`),
`fail(code, message)` (mid-stream failure: `error` then `response.failed`). Each returns a list of event dicts
carrying `type` and a gap-free `sequence_number`; `encode(event)` frames one for SSE. After a terminal event
the machine ignores further input. `.response` is the final Response object, `.upstream_usage` the raw
upstream usage for metering, `.finish_reason` the upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.translate.responses.answer import (
    ANTHROPIC_STOP,
    CHAT_FINISH,
    ResponseMeta,
    Shaping,
    anthropic_blob,
    call_id_or_new,
    call_item,
    estimated_usage,
    message_item,
    new_id,
    output_chars,
    reasoning_item,
    response_object,
    usage_from_anthropic,
    usage_from_chat,
)
from gateway.translate.sse import encode_json
from gateway.translate.stream import anthropic_stream_error, openai_stream_error

ANTHROPIC_ERROR_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "overloaded_error": "server_error",
    "api_error": "server_error",
    "timeout_error": "server_error",
    "invalid_request_error": "invalid_request_error",
    "billing_error": "insufficient_quota",
}


def encode(event: dict[str, Any]) -> bytes:
    return encode_json(event["type"], event)


@dataclass(slots=True)
class _Item:
    """One open output item; `parts` accumulates its text or arguments."""

    kind: str  # reasoning | message | call
    index: int
    id: str
    parts: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    signature: str = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _Emitter:
    """Sequence numbers and the open/close event sequences of output items, shared by both directions."""

    def __init__(self, meta: ResponseMeta, shaping: Shaping) -> None:
        self.meta, self.shaping = meta, shaping
        self.seq = 0
        self.output: list[dict[str, Any] | None] = []
        self.response: dict[str, Any] | None = None
        self.started = False

    @property
    def done(self) -> bool:
        return self.response is not None

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        skeleton = response_object(self.meta, status="in_progress", output=[], usage=None)
        return [
            self.event("response.created", response=skeleton),
            self.event("response.in_progress", response=skeleton),
        ]

    def open(
        self, kind: str, *, call_id: str = "", name: str = "", with_part: bool = True
    ) -> tuple[_Item, list[dict[str, Any]]]:
        prefix = {"reasoning": "rs", "message": "msg", "call": "fc"}[kind]
        item = _Item(kind, len(self.output), new_id(prefix), call_id=call_id, name=name)
        self.output.append(None)
        events = [self.event("response.output_item.added", output_index=item.index, item=self._skeleton(item))]
        if kind == "reasoning" and with_part:
            part = {"type": "summary_text", "text": ""}
            events.append(self.event("response.reasoning_summary_part.added", **self._at(item, 0), part=part))
        elif kind == "message":
            events.append(self.event("response.content_part.added", **self._at(item, 0), part=_text_part("")))
        return item, events

    def _skeleton(self, item: _Item) -> dict[str, Any]:
        if item.kind == "reasoning":
            return reasoning_item(item.id, None)
        if item.kind == "message":
            return message_item(item.id, None, done=False)
        return call_item(item.id, item.call_id, item.name, "", self.shaping.tools, done=False)

    def _at(self, item: _Item, sub_index: int | None = None) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": item.id, "output_index": item.index}
        if sub_index is not None:
            where["summary_index" if item.kind == "reasoning" else "content_index"] = sub_index
        return where

    def delta(self, item: _Item, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        item.parts.append(text)
        if item.kind == "reasoning":
            return [self.event("response.reasoning_summary_text.delta", **self._at(item, 0), delta=text)]
        if item.kind == "message":
            return [self.event("response.output_text.delta", **self._at(item, 0), delta=text, logprobs=[])]
        if self._is_custom(item):
            return []  # freeform input is delivered whole on output_item.done (no Chat-style argument deltas)
        return [self.event("response.function_call_arguments.delta", **self._at(item), delta=text)]

    def _is_custom(self, item: _Item) -> bool:
        return self.shaping.tools.to_client(item.name)[2] == "custom"

    def close(self, item: _Item, blob: str | None = None) -> list[dict[str, Any]]:
        closer = {"reasoning": self._close_reasoning, "message": self._close_message}.get(item.kind, self._close_call)
        final, events = closer(item, blob)
        self.output[item.index] = final
        return [*events, self.event("response.output_item.done", output_index=item.index, item=final)]

    def _close_reasoning(self, item: _Item, blob: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        text, at = item.text, self._at(item, 0)
        part = {"type": "summary_text", "text": text}
        return reasoning_item(item.id, text, blob), [
            self.event("response.reasoning_summary_text.done", **at, text=text),
            self.event("response.reasoning_summary_part.done", **at, part=part),
        ]

    def _close_message(self, item: _Item, blob: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        text, at = item.text, self._at(item, 0)
        return message_item(item.id, text, done=True), [
            self.event("response.output_text.done", **at, text=text, logprobs=[]),
            self.event("response.content_part.done", **at, part=_text_part(text)),
        ]

    def _close_call(self, item: _Item, blob: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        args = item.text or "{}"
        final = call_item(item.id, item.call_id, item.name, args, self.shaping.tools, done=True)
        if self._is_custom(item):
            return final, []
        done = self.event("response.function_call_arguments.done", **self._at(item), name=final["name"], arguments=args)
        return final, [done]

    def close_reasoning_only(self, item: _Item, blob: str | None) -> list[dict[str, Any]]:
        """A reasoning item with no text (Anthropic redacted thinking): added, then done at once."""
        final = reasoning_item(item.id, None, blob)
        self.output[item.index] = final
        return [self.event("response.output_item.done", output_index=item.index, item=final)]

    def finished_output(self) -> list[dict[str, Any]]:
        return [item for item in self.output if item is not None]

    def terminal(self, status: str, usage: dict[str, Any], reason: str | None) -> list[dict[str, Any]]:
        kind = "response.completed" if status == "completed" else "response.incomplete"
        self.response = response_object(
            self.meta, status=status, output=self.finished_output(), usage=usage, incomplete=reason
        )
        return [self.event(kind, response=self.response)]

    def fail(self, code: str, message: str, error_type: str = "server_error") -> list[dict[str, Any]]:
        if self.done:
            return []
        events = self.start()
        error = {"type": error_type, "code": code, "message": message, "param": None}
        events.append(self.event("error", code=code, message=message, param=None, error=error))
        self.response = response_object(
            self.meta,
            status="failed",
            output=self.finished_output(),
            usage=None,
            error={"code": code, "message": message},
        )
        events.append(self.event("response.failed", response=self.response))
        return events

    def output_chars(self) -> int:
        return output_chars(self.finished_output())


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class ChatToResponses:
    """Chat Completions chunks -> Responses events."""

    def __init__(self, meta: ResponseMeta, shaping: Shaping) -> None:
        self._out = _Emitter(meta, shaping)
        self._reasoning: _Item | None = None
        self._message: _Item | None = None
        self._calls: dict[object, _Item] = {}
        self._last_call_key: object = None
        self.finish_reason: str | None = None
        self.upstream_usage: dict[str, Any] | None = None

    @property
    def response(self) -> dict[str, Any] | None:
        return self._out.response

    def start(self) -> list[dict[str, Any]]:
        return self._out.start()

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if self._out.done:
            return []
        if isinstance(chunk.get("error"), dict):  # OpenRouter-style error chunk after a 200
            return self._out.fail("server_error", openai_stream_error(chunk["error"])[1])
        events = self._out.start()
        usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if usage:
            self.upstream_usage = usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) == 0:
                events += self._choice(choice)
        return events

    def _choice(self, choice: dict[str, Any]) -> list[dict[str, Any]]:
        delta = choice.get("delta") or {}
        events = self._reasoning_delta(delta.get("reasoning_content") or delta.get("reasoning"))
        events += self._content_delta(delta.get("content"))
        for fragment in delta.get("tool_calls") or []:
            events += self._tool_fragment(fragment)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return events

    def _reasoning_delta(self, text: object) -> list[dict[str, Any]]:
        if not isinstance(text, str) or not text:
            return []
        events: list[dict[str, Any]] = []
        if self._reasoning is None:
            events = self._close_all()
            self._reasoning, opened = self._out.open("reasoning")
            events += opened
        return events + self._out.delta(self._reasoning, text)

    def _content_delta(self, text: object) -> list[dict[str, Any]]:
        if not isinstance(text, str) or not text:
            return []
        events: list[dict[str, Any]] = []
        if self._message is None:
            events = self._close_all()
            self._message, opened = self._out.open("message")
            events += opened
        return events + self._out.delta(self._message, text)

    def _tool_fragment(self, fragment: dict[str, Any]) -> list[dict[str, Any]]:
        key = fragment.get("index")
        if key is None:
            key = fragment.get("id") or self._last_call_key
        function = fragment.get("function") or {}
        events: list[dict[str, Any]] = []
        if key not in self._calls:
            events = self._close_text()
            call_id = call_id_or_new(fragment.get("id"))
            self._calls[key], opened = self._out.open("call", call_id=call_id, name=function.get("name") or "")
            events += opened
        self._last_call_key = key
        return events + self._out.delta(self._calls[key], function.get("arguments") or "")

    def _close_text(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._reasoning is not None:
            item, self._reasoning = self._reasoning, None
            events += self._out.close(item, self._blob(item))
        if self._message is not None:
            item, self._message = self._message, None
            events += self._out.close(item)
        return events

    def _close_all(self) -> list[dict[str, Any]]:
        events = self._close_text()
        for item in self._calls.values():
            events += self._out.close(item)
        self._calls.clear()
        return events

    def _blob(self, item: _Item) -> str | None:
        shaping = self._out.shaping
        return shaping.sealer({"p": shaping.provider, "k": "text", "t": item.text}) if shaping.sealer else None

    def finish(self) -> list[dict[str, Any]]:
        if self._out.done:
            return []
        events = self._out.start() + self._close_all()
        produced = bool(self._out.finished_output())
        if self.finish_reason not in CHAT_FINISH and not produced:
            return events + self._out.fail("server_error", "The upstream stream ended without an answer.")
        status, reason = CHAT_FINISH.get(self.finish_reason or "", ("completed", None))
        usage = usage_from_chat(self.upstream_usage) if self.upstream_usage else None
        return events + self._out.terminal(status, usage or estimated_usage(self._out.output_chars()), reason)

    def fail(self, code: str, message: str, error_type: str = "server_error") -> list[dict[str, Any]]:
        return self._out.fail(code, message, error_type)


class AnthropicToResponses:
    """Anthropic Messages SSE events -> Responses events."""

    def __init__(self, meta: ResponseMeta, shaping: Shaping) -> None:
        self._out = _Emitter(meta, shaping)
        self._blocks: dict[int, _Item] = {}
        self.finish_reason: str | None = None
        self.upstream_usage: dict[str, Any] = {}

    @property
    def response(self) -> dict[str, Any] | None:
        return self._out.response

    def start(self) -> list[dict[str, Any]]:
        return self._out.start()

    def feed(self, event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        if self._out.done:
            return []
        kind = data.get("type") or event
        events = self._out.start()
        if kind == "message_start":
            self._usage((data.get("message") or {}).get("usage"))
        elif kind == "content_block_start":
            events += self._block_start(data.get("index", 0), data.get("content_block") or {})
        elif kind == "content_block_delta":
            events += self._block_delta(data.get("index", 0), data.get("delta") or {})
        elif kind == "content_block_stop":
            events += self._block_stop(data.get("index", 0))
        elif kind == "message_delta":
            self.finish_reason = (data.get("delta") or {}).get("stop_reason") or self.finish_reason
            self._usage(data.get("usage"))
        elif kind == "error":
            error_type, message = anthropic_stream_error(data.get("error"))
            events += self._out.fail(ANTHROPIC_ERROR_CODES.get(error_type, "server_error"), message, error_type)
        return events

    def _usage(self, usage: dict[str, Any] | None) -> None:
        self.upstream_usage.update({k: v for k, v in (usage or {}).items() if v is not None})

    def _block_start(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            redacted = kind == "redacted_thinking"
            item, events = self._out.open("reasoning", with_part=not redacted)
            if redacted:
                blob = anthropic_blob(self._out.shaping, "redacted", data=block.get("data", ""))
                return events + self._out.close_reasoning_only(item, blob)
            events += self._out.delta(item, block.get("thinking") or "")
        elif kind == "text":
            item, events = self._out.open("message")
            events += self._out.delta(item, block.get("text") or "")
        elif kind == "tool_use":
            call_id = call_id_or_new(block.get("id"))
            item, events = self._out.open("call", call_id=call_id, name=block.get("name") or "")
        else:
            return []  # server tool blocks and the like have no Responses counterpart here
        self._blocks[index] = item
        return events

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        item = self._blocks.get(index)
        if item is None:
            return []
        kind = delta.get("type")
        if kind == "signature_delta":
            item.signature += delta.get("signature") or ""
            return []
        text = delta.get({"thinking_delta": "thinking", "text_delta": "text"}.get(kind or "", "partial_json"))
        return self._out.delta(item, text if isinstance(text, str) else "")

    def _block_stop(self, index: int) -> list[dict[str, Any]]:
        item = self._blocks.pop(index, None)
        if item is None:
            return []
        blob = (
            anthropic_blob(self._out.shaping, "thinking", item.text, item.signature)
            if item.kind == "reasoning"
            else None
        )
        return self._out.close(item, blob)

    def finish(self) -> list[dict[str, Any]]:
        if self._out.done:
            return []
        events = self._out.start()
        for index in sorted(self._blocks):
            events += self._block_stop(index)
        if self.finish_reason is None and not self._out.finished_output():
            return events + self._out.fail("server_error", "The upstream stream ended without an answer.")
        status, reason = ANTHROPIC_STOP.get(self.finish_reason or "", ("completed", None))
        usage = usage_from_anthropic(self.upstream_usage) if self.upstream_usage else None
        return events + self._out.terminal(status, usage or estimated_usage(self._out.output_chars()), reason)

    def fail(self, code: str, message: str, error_type: str = "server_error") -> list[dict[str, Any]]:
        return self._out.fail(code, message, error_type)
