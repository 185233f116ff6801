"""The pass-through relay fed chunks as JSON text relays and bills exactly what it does when fed them parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
