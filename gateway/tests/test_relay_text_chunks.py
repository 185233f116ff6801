"""The pass-through relay fed chunks as JSON text relays and bills exactly what it does when fed them parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.tests.translation_helpers import SEALER
from gateway.translate import relay, sse


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-upstream",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


USAGE = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}


def _stream(usage_null_in_every_chunk: bool) -> list[dict[str, Any]]:
    extra = {"usage": None} if usage_null_in_every_chunk else {}
    return [
        _chunk({"role": "assistant", "content": ""}, **extra),
        _chunk({"content": "Hello"}, **extra),
        _chunk({"content": ' "quoted" \\ back\nslash é 日本'}, **extra),
        _chunk({"content": "error"}, **extra),
        _chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}]}, **extra),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}, **extra),
        _chunk({}, "tool_calls", **extra),
        {**_chunk({}), "choices": [], "usage": USAGE},
    ]


def _run(chunks: list[Any], include_usage: bool) -> tuple[list[Any], Any, Any, int]:
    r = relay.OpenAIPassRelay('my "model"', "req", include_usage)
    out = [r.feed("", c) for c in chunks] + [r.finish(None)]
    frames = [json.loads(f[6:]) if f.startswith(b"data: {") else f for f in b"".join(out).split(b"\n\n") if f]
    return frames, r.usage, r.finish_reason, r.chars


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("usage_null", [True, False])
def test_text_chunks_relay_and_bill_as_parsed_ones_do(include_usage: bool, usage_null: bool) -> None:
    chunks = _stream(usage_null)
    texts = [json.dumps(c, separators=(",", ":"), ensure_ascii=False) for c in chunks]
    parsed = _run(chunks, include_usage)
    assert _run(texts, include_usage) == parsed
    assert _run([json.dumps(c, separators=(",", ":")) for c in chunks], include_usage) == parsed  # \u escapes
    frames, usage, finish, chars = parsed
    assert all(f["model"] == 'my "model"' for f in frames if isinstance(f, dict))
    assert usage.output == 5 and finish == "tool_calls" and frames[-1] == sse.DONE.strip()
    assert chars == len("Hello") + len(' "quoted" \\ back\nslash é 日本') + len("error") + len('{"a":1}')


def test_a_text_chunk_that_is_not_json_is_skipped_as_the_parsing_reader_skips_it() -> None:
    r = relay.OpenAIPassRelay("m", "req", True)
    assert r.feed("", "not json") == b""
    assert r.feed("", '"a string"') == b""


# --- Translated: OpenAI-compatible chunks in, Anthropic events out -------------------------------------------------

TRICKY = ' "quoted" \\ back\nslash\ttab\r\x08\x0c é 日本 😀 \u2028 </think> \x7f /slash'


def _translated_stream(texts: list[str], usage_null: bool) -> list[dict[str, Any]]:
    extra = {"usage": None} if usage_null else {}
    return [
        _chunk({"role": "assistant", "content": ""}, **extra),
        _chunk({"reasoning_content": "thinking first"}, **extra),
        *(_chunk({"content": t}, **extra) for t in texts),
        _chunk({"content": "and"}, x_groq={"id": "g"}),
        _chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}]}, **extra),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}, **extra),
        _chunk({"content": "after the tool"}, **extra),
        _chunk({}, "tool_calls", **extra),
        {**_chunk({}), "choices": [], "usage": USAGE},
    ]


def _translate(items: list[Any], provider: str = "deepseek") -> tuple[bytes, Any, Any, int]:
    r = relay.OpenAIToAnthropicRelay("my-model", "req", 12, provider, SEALER)
    out = b"".join(r.feed("", c) for c in items) + r.finish(None)
    return out, r.usage, r.finish_reason, r.chars


@pytest.mark.parametrize("provider", ["deepseek", "workers-ai"])  # workers-ai: <think> read out of the text
@pytest.mark.parametrize("usage_null", [True, False])
def test_translated_text_chunks_make_the_same_bytes_and_bill_the_same_as_parsed_ones(provider, usage_null) -> None:
    chunks = _translated_stream(["Hello", TRICKY, "<think>x</think>y", "error", ""], usage_null)
    parsed = _translate(chunks, provider)
    assert _translate([json.dumps(c, separators=(",", ":"), ensure_ascii=False) for c in chunks], provider) == parsed
    assert _translate([json.dumps(c, separators=(",", ":")) for c in chunks], provider) == parsed  # \u escapes
    assert _translate([json.dumps(c) for c in chunks], provider) == parsed  # spaced out: never the plain-text path
    out, usage, finish, _chars = parsed
    assert (
        usage.output == 5
        and finish == "tool_calls"
        and out.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    )


def test_a_translated_text_chunk_goes_out_unparsed_only_inside_an_open_text_block(monkeypatch) -> None:
    r = relay.OpenAIToAnthropicRelay("my-model", "req", 12, "deepseek", SEALER)
    parses = []
    real = relay._object
    monkeypatch.setattr(relay, "_object", lambda text: parses.append(text) or real(text))
    texts = [json.dumps(c, separators=(",", ":")) for c in _translated_stream(["one", "two", "three"], True)]
    for text in texts:
        r.feed("", text)
    # Parsed: the role chunk, the reasoning (no text block open yet), the first text (it opens the block), the
    # x_groq chunk, both tool fragments, the finish and usage chunks; "two", "three" and "after the tool" are not
    # ("after the tool": the tool block is open, so it is parsed too).
    unparsed = [t for t in texts if t not in parses]
    assert [json.loads(t)["choices"][0]["delta"]["content"] for t in unparsed] == ["two", "three"]


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=6), st.booleans())
def test_any_text_translates_the_same_from_chunk_text_as_from_the_parsed_chunk(texts, ascii_only) -> None:
    chunks = _translated_stream(texts, usage_null=False)
    try:
        items = [json.dumps(c, separators=(",", ":"), ensure_ascii=ascii_only) for c in chunks]
        parsed = _translate(chunks)
    except (UnicodeEncodeError, ValueError):  # a lone surrogate: neither reader takes it
        return
    assert _translate(items) == parsed
