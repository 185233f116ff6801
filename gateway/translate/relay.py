"""Relay one upstream answer to the client in the surface's dialect, metering as it goes.

A `Relay` is made per request for a (surface dialect, upstream dialect) pair. Cross-dialect
pairs hand every upstream event to the translation core (`gateway.translate.stream`,
`gateway.translate.answer`); same-dialect pairs pass events through, echoing the requested
model id and hiding the usage chunk qlaud asked for on the client's behalf; an OpenAI-dialect
provider with quirks (`gateway.translate.dialects`) has its chunks made canonical on the way.
Every relay also counts the characters it delivered, so a stream that breaks (or an
upstream that reports no usage) can still be billed for what the client received.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from gateway import usage as usage_mod
from gateway.translate import dialects, sse
from gateway.translate.answer import anthropic_to_openai_response, openai_to_anthropic_response
from gateway.translate.reasoning import Sealer
from gateway.translate.stream import (
    AnthropicToOpenAI,
    AnthropicUsageMeter,
    OpenAIToAnthropic,
    OpenAIUsageMeter,
    anthropic_stream_error,
    openai_stream_error,
)
from gateway.usage import Usage
from lib import jsonio

ANTHROPIC = "anthropic"
OPENAI = "openai"
# The usual English/code average for BPE tokenizers: the one ratio both for what a stream delivered
# (here) and for a prompt before the upstream counts it (gateway/estimate.py).
CHARS_PER_TOKEN = 4
# usage -> what qlaud charges for it, in micro-dollars (the surface's closure over the host's prices)
Pricer = Callable[[Usage], int]


def cost_fields(cost_micros: int) -> dict[str, Any]:
    """What a request cost the customer, in the final usage of every answer: USD as a number, and the exact
    integer micro-dollars the wallet was charged."""
    return {"cost": cost_micros / 1_000_000, "cost_micros": cost_micros}


def _with_cost(usage: dict[str, Any], price: Pricer | None, billed: Usage) -> dict[str, Any]:
    return {**usage, **cost_fields(price(billed))} if price is not None else usage


_OPENAI_OUTPUT = ("content", "reasoning_content", "reasoning")


def delivered_chars(dialect: str, data: dict[str, Any]) -> int:
    """Characters of model output in one upstream event (text, reasoning, tool arguments)."""
    if dialect == OPENAI:
        total = 0
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            for name in _OPENAI_OUTPUT:
                text = delta.get(name)
                if isinstance(text, str):
                    total += len(text)
            for call in delta.get("tool_calls") or ():
                total += len(((call or {}).get("function") or {}).get("arguments") or "")
        return total
    delta = data.get("delta") or {}
    return sum(len(delta[k]) for k in ("text", "thinking", "partial_json") if isinstance(delta.get(k), str))


def message_chars(dialect: str, body: dict[str, Any]) -> int:
    """Characters of model output in a whole non-streaming answer."""
    if dialect == OPENAI:
        message = ((body.get("choices") or [{}])[0] or {}).get("message") or {}
        total = sum(
            len(message.get(k) or "")
            for k in ("content", "reasoning_content", "reasoning")
            if isinstance(message.get(k), str)
        )
        return total + sum(
            len((c.get("function") or {}).get("arguments") or "") for c in message.get("tool_calls") or ()
        )
    total = 0
    for block in body.get("content") or ():
        for key in ("text", "thinking"):
            total += len(block.get(key) or "") if isinstance(block.get(key), str) else 0
        if block.get("type") == "tool_use":
            total += len(json.dumps(block.get("input") or {}))
    return total


def estimated(chars: int, input_estimate: int) -> Usage:
    return Usage(input=input_estimate, output=-(-chars // CHARS_PER_TOKEN))


class Relay:
    """Base: counts delivered output; subclasses translate or pass through."""

    def __init__(self, requested_model: str, request_id: str) -> None:
        self.requested_model = requested_model
        self.request_id = request_id
        self.chars = 0
        self.first_event_at: float | None = None
        self.price: Pricer | None = None  # set by the surface: the final usage then carries the cost

    def _seen(self, dialect: str, data: dict[str, Any]) -> None:
        if self.first_event_at is None:
            self.first_event_at = time.perf_counter()
        self.chars += delivered_chars(dialect, data)

    def _unparsed(self, text: str) -> bytes | dict[str, Any]:
        """A chunk given as its JSON text: the bytes `_text_only` relays for it unparsed, else the chunk parsed (b""
        when it is not a JSON object: skipped, as the parsing reader skips it)."""
        relayed = self._text_only(text)
        if relayed is not None:
            return relayed
        parsed = _object(text)
        return b"" if parsed is None else parsed

    def _text_only(self, text: str) -> bytes | None:
        return None

    # interface: feed(event, data) -> bytes; finish(estimate) -> bytes; fail(type, message) -> bytes
    # attributes: usage, finish_reason, error, delivered


class OpenAIToAnthropicRelay(Relay):
    """OpenAI-compatible upstream, Anthropic client: the translate.stream state machine.

    From a canonical upstream `feed` also takes a chunk as its JSON text (`openai_compat.text_decoder`): a chunk
    that only carries text, while a text block is open, becomes its `content_block_delta` with the text's JSON
    string copied as it came (the bytes `feed` would write for the parsed chunk); every other chunk is parsed.
    """

    def __init__(self, requested_model: str, request_id: str, input_hint: int, provider: str, sealer: Sealer) -> None:
        super().__init__(requested_model, request_id)
        self.t = OpenAIToAnthropic(requested_model, f"msg_{request_id}", input_hint, provider=provider, sealer=sealer)

    def feed(self, event: str, data: dict[str, Any] | str) -> bytes:
        if isinstance(data, str):
            taken = self._unparsed(data)
            if isinstance(taken, bytes):
                return taken
            data = taken
        self._seen(OPENAI, data)
        return b"".join(sse.encode_json(e, p) for e, p in self.t.feed(data))

    def _text_only(self, text: str) -> bytes | None:
        """A text-only chunk inside an open text block, as its content_block_delta; None: it must be parsed."""
        index = self.t.open_text_index()
        content = _plain_text(text)
        if index is None or content is None:
            return None
        if not content:
            return b""  # no delta for empty text, as the state machine writes none
        self.chars += len(jsonio.loads(f'"{content}"')) if "\\" in content else len(content)
        return _TEXT_BLOCK_DELTA % (index, content.encode())

    def finish(self, estimate: Usage | None) -> bytes:
        return b"".join(sse.encode_json(e, self._priced(e, p)) for e, p in self.t.finish(estimate))

    def _priced(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        if event != "message_delta":
            return payload
        usage = payload["usage"]
        return {**payload, "usage": _with_cost(usage, self.price, usage_mod.from_anthropic(usage))}

    def fail(self, error_type: str, message: str) -> bytes:
        return b"".join(sse.encode_json(e, p) for e, p in self.t.fail(error_type, message))

    usage = property(lambda self: self.t.usage)
    finish_reason = property(lambda self: self.t.finish_reason)
    error = property(lambda self: self.t.error)
    delivered = property(lambda self: self.t.delivered)


class AnthropicToOpenAIRelay(Relay):
    def __init__(self, requested_model: str, request_id: str, include_usage: bool) -> None:
        super().__init__(requested_model, request_id)
        self.t = AnthropicToOpenAI(requested_model, f"chatcmpl-{request_id}", int(time.time()), include_usage)

    def feed(self, event: str, data: dict[str, Any]) -> bytes:
        self._seen(ANTHROPIC, data)
        return self._encode(self.t.feed(event, data))

    def finish(self, estimate: Usage | None) -> bytes:
        return self._encode(self.t.finish())

    def fail(self, error_type: str, message: str) -> bytes:
        return self._encode(self.t.fail(error_type, message))

    def _encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out = b"".join(sse.encode_json(None, self._priced(c)) for c in chunks)
        if self.t.completed and not getattr(self, "_done", False):
            self._done = True
            out += sse.DONE
        return out

    def _priced(self, chunk: dict[str, Any]) -> dict[str, Any]:
        if not chunk.get("usage"):
            return chunk
        return {**chunk, "usage": _with_cost(chunk["usage"], self.price, self.t.usage)}

    usage = property(lambda self: self.t.usage)
    finish_reason = property(lambda self: self.t.stop_reason)
    error = property(lambda self: self.t.error)
    delivered = property(lambda self: self.t.delivered)


class AnthropicPassRelay(Relay):
    """Anthropic upstream, Anthropic client: events go through, with the requested model echoed."""

    def __init__(self, requested_model: str, request_id: str) -> None:
        super().__init__(requested_model, request_id)
        self.meter = AnthropicUsageMeter()
        self.started = False
        self.ended = False

    def feed(self, event: str, data: dict[str, Any]) -> bytes:
        if self.ended:
            return b""
        self._seen(ANTHROPIC, data)
        self.meter.feed(event, data)
        kind = data.get("type") or event
        if kind == "message_start":
            self.started = True
            data = {**data, "message": {**(data.get("message") or {}), "model": self.requested_model}}
        elif kind == "message_delta" and self.price is not None:
            data = {**data, "usage": _with_cost(data.get("usage") or {}, self.price, self.meter.usage)}
        elif kind == "error":  # rebuilt: the provider's text only redacted (the meter read it so)
            return self.fail(*anthropic_stream_error(data.get("error")))
        self.ended = kind == "message_stop"
        return sse.encode_json(kind, data)

    def finish(self, estimate: Usage | None) -> bytes:
        if self.ended:
            return b""
        return self.fail("api_error", "upstream closed the stream before finishing")

    def fail(self, error_type: str, message: str) -> bytes:
        if self.ended:
            return b""
        self.ended = True
        self.meter.error = (error_type, message)
        return sse.encode_json("error", {"type": "error", "error": {"type": error_type, "message": message}})

    usage = property(lambda self: self.meter.usage)
    finish_reason = property(lambda self: self.meter.stop_reason)
    error = property(lambda self: self.meter.error)
    delivered = property(lambda self: self.started)


# A chunk whose one choice carries only text: `"delta":{"content":"..."}` (the JSON string, escapes and all).
_TEXT_DELTA = re.compile(r'"delta":\{"content":"((?:[^"\\]|\\.)*)"\}')
# Escapes in a JSON string that jsonio.dumps would write differently (\u, \/), or raw control characters (invalid).
_NOT_AS_WRITTEN = re.compile(r"\\[u/]|[\x00-\x1f]")


_TEXT_BLOCK_DELTA = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
    b'"delta":{"type":"text_delta","text":"%b"}}\n\n'
)


def _plain_text(text: str) -> str | None:
    """The content of a chunk that carries only text (one choice, not finished, no usage, error or provider
    extras), as its JSON string, when jsonio.dumps would write that string the same; else None."""
    if '"finish_reason":null' not in text or '"error"' in text or "x_groq" in text or text.count('"delta"') != 1:
        return None
    if '"usage"' in text and not (text.count('"usage"') == 1 and '"usage":null' in text):
        return None
    delta = _TEXT_DELTA.search(text)
    if delta is None or _NOT_AS_WRITTEN.search(delta.group(1)):
        return None
    return delta.group(1)


class OpenAIPassRelay(Relay):
    """OpenAI-compatible upstream, OpenAI client: chunks go through, model echoed, usage as the client asked.

    From a canonical upstream (no normaliser) `feed` also takes a chunk as its JSON text
    (`openai_compat.text_decoder`): a chunk that only carries text, most of a stream, goes out as it came with
    the model's value swapped in the text; only the others (role, tool calls, finish reason, usage, errors)
    are parsed.
    """

    def __init__(
        self,
        requested_model: str,
        request_id: str,
        include_usage: bool,
        normaliser: dialects.ChunkNormaliser | None = None,
    ) -> None:
        super().__init__(requested_model, request_id)
        self.meter = OpenAIUsageMeter()
        self.include_usage = include_usage
        self.normaliser = normaliser  # None: a canonical upstream, chunks go through untouched
        self._envelope: dict[str, Any] | None = None  # the last chunk, for the usage chunk's id and created
        self._model = jsonio.dumps(requested_model)[1:-1]  # the model's value as JSON string content
        self.started = False
        self.ended = False

    def feed(self, event: str, data: dict[str, Any] | str) -> bytes:
        if self.ended:
            return b""
        if isinstance(data, str):
            taken = self._unparsed(data)
            if isinstance(taken, bytes):
                return taken
            data = taken
        if self.normaliser is not None:
            data = self.normaliser.chunk(data)
        self._seen(OPENAI, data)
        self.meter.feed(data)
        self.started = True
        if data.get("error"):  # rebuilt: the provider's text only redacted, nothing else of the chunk (metadata)
            return self.fail(*openai_stream_error(data["error"]))
        chunk = {**data, "model": self.requested_model}
        if self.normaliser is not None:
            # Usage wherever the provider put it (x_groq, a chunk with choices) goes out once, canonical, at the end.
            self._envelope = chunk
            chunk.pop("x_groq", None)
            chunk.pop("usage", None)
            return sse.encode_json(None, chunk) if chunk.get("choices") else b""
        if not self.include_usage:
            if not chunk.get("choices"):
                return b""  # the usage-only chunk qlaud asked for, for billing
            chunk.pop("usage", None)
        elif chunk.get("usage"):
            chunk["usage"] = _with_cost(chunk["usage"], self.price, self.meter.usage)
        return sse.encode_json(None, chunk)

    def _text_only(self, text: str) -> bytes | None:
        """A text-only chunk relayed as its own text with the requested model; None: it must be parsed."""
        if '"finish_reason":null' not in text or '"error"' in text or text.count('"delta"') != 1:
            return None
        if '"usage"' in text and not (self.include_usage and text.count('"usage"') == 1 and '"usage":null' in text):
            return None  # usage to read or to hide
        delta = _TEXT_DELTA.search(text)
        start = text.find('"model":"') + 9
        end = text.find('"', start)
        if delta is None or start < 9 or end < 0 or "\\" in text[start:end]:
            return None
        content = delta.group(1)
        if self.first_event_at is None:
            self.first_event_at = time.perf_counter()
        self.chars += len(jsonio.loads(f'"{content}"')) if "\\" in content else len(content)
        self.started = True
        return b"".join((b"data: ", text[:start].encode(), self._model, text[end:].encode(), b"\n\n"))

    def _usage_chunk(self) -> bytes:
        if self.normaliser is None or not self.include_usage or not self.meter.usage:
            return b""
        envelope = {k: self._envelope.get(k) for k in ("id", "object", "created", "model")} if self._envelope else {}
        usage = usage_mod.to_openai(self.meter.usage)  # the provider's usage in OpenAI's semantics
        usage = _with_cost(usage, self.price, self.meter.usage)
        return sse.encode_json(None, {**envelope, "choices": [], "usage": usage})

    def reasoning_by_tool(self) -> dict[str, str]:
        """This answer's reasoning by tool-call id (only when the relay was asked to remember it)."""
        return self.normaliser.reasoning_by_tool() if self.normaliser is not None else {}

    def finish(self, estimate: Usage | None) -> bytes:
        if self.ended:
            return b""
        if self.meter.finish_reason is None:
            return self.fail("api_error", "upstream closed the stream before finishing")
        self.ended = True
        return self._usage_chunk() + sse.DONE

    def fail(self, error_type: str, message: str) -> bytes:
        if self.ended:
            return b""
        self.ended = True
        self.meter.error = (error_type, message)
        return sse.encode_json(None, {"error": {"message": message, "type": error_type, "param": None, "code": None}})

    usage = property(lambda self: self.meter.usage)
    finish_reason = property(lambda self: self.meter.finish_reason)
    error = property(lambda self: self.meter.error)
    delivered = property(lambda self: self.started)


def _object(text: str) -> dict[str, Any] | None:
    try:
        value = jsonio.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def stream_relay(
    surface: str,
    upstream: str,
    *,
    requested_model: str,
    request_id: str,
    input_hint: int,
    provider: str,
    include_usage: bool,
    sealer: Sealer,
    remember_reasoning: bool = False,
) -> Relay:
    if surface == ANTHROPIC and upstream == OPENAI:
        return OpenAIToAnthropicRelay(requested_model, request_id, input_hint, provider, sealer)
    if surface == OPENAI and upstream == ANTHROPIC:
        return AnthropicToOpenAIRelay(requested_model, request_id, include_usage)
    if surface == ANTHROPIC:
        return AnthropicPassRelay(requested_model, request_id)
    normaliser = dialects.normaliser_for(provider, remember=remember_reasoning)
    return OpenAIPassRelay(requested_model, request_id, include_usage, normaliser)


# --- Non-streaming --------------------------------------------------------------------------


def upstream_usage(dialect: str, body: dict[str, Any]) -> Usage:
    raw = body.get("usage")
    return usage_mod.from_openai(raw) if dialect == OPENAI else usage_mod.from_anthropic(raw)


def finish_reason_of(dialect: str, body: dict[str, Any]) -> str:
    if dialect == OPENAI:
        return str(((body.get("choices") or [{}])[0] or {}).get("finish_reason") or "")
    return str(body.get("stop_reason") or "")


def translate_answer(
    surface: str, upstream: str, body: dict[str, Any], *, requested_model: str, provider: str, sealer: Sealer
) -> dict[str, Any]:
    """The whole upstream answer in the surface's dialect, echoing the requested model."""
    if surface == ANTHROPIC and upstream == OPENAI:
        return openai_to_anthropic_response(body, requested_model, provider=provider, sealer=sealer)
    if surface == OPENAI and upstream == ANTHROPIC:
        return anthropic_to_openai_response(body, requested_model)
    if surface == OPENAI:
        body = dialects.normalise_answer(body, provider)
    return {**body, "model": requested_model}


def with_usage(surface: str, answer: dict[str, Any], usage: Usage, cost_micros: int) -> dict[str, Any]:
    """Report the billed usage (estimated or not) with its cost (`cost_fields`)."""
    billed = usage_mod.to_anthropic(usage) if surface == ANTHROPIC else usage_mod.to_openai(usage)
    return {**answer, "usage": {**billed, **cost_fields(cost_micros)}}
