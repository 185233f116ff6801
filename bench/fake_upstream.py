"""A fast fake LLM upstream for the benchmark: raw ASGI, fixed small answers, no framework.

OpenAI Chat Completions at `/v1/chat/completions` and Anthropic Messages at `/v1/messages`,
JSON or SSE (a handful of chunks, usage at the end) depending on the body's `stream`.
It must cost far less than anything measured against it, so answers are pre-encoded bytes.
Run: uvicorn bench.fake_upstream:app --port N
"""

from __future__ import annotations

import json
from typing import Any

WORDS = ["Hello", " from", " the", " bench", " upstream."]
USAGE_OPENAI = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
USAGE_ANTHROPIC = {"input_tokens": 12, "output_tokens": 5}


def _openai_json() -> bytes:
    message = {"role": "assistant", "content": "".join(WORDS)}
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": USAGE_OPENAI,
    }
    return json.dumps(body).encode()


def _openai_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> bytes:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _openai_sse() -> list[bytes]:
    chunks = [_openai_chunk({"role": "assistant", "content": ""})]
    chunks += [_openai_chunk({"content": w}) for w in WORDS]
    chunks += [_openai_chunk({}, "stop"), _openai_chunk({}, usage=USAGE_OPENAI), b"data: [DONE]\n\n"]
    return chunks


def _anthropic_json() -> bytes:
    body = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [{"type": "text", "text": "".join(WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": USAGE_ANTHROPIC,
    }
    return json.dumps(body).encode()


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _anthropic_sse() -> list[bytes]:
    shell = json.loads(_anthropic_json())
    shell.update(content=[], stop_reason=None, usage={"input_tokens": 12, "output_tokens": 1})
    events = [_event({"type": "message_start", "message": shell})]
    events.append(_event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
    delta = {"type": "content_block_delta", "index": 0}
    events += [_event({**delta, "delta": {"type": "text_delta", "text": w}}) for w in WORDS]
    events.append(_event({"type": "content_block_stop", "index": 0}))
    message_delta = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append(_event({"type": "message_delta", "delta": message_delta, "usage": {"output_tokens": 5}}))
    events.append(_event({"type": "message_stop"}))
    return events


ANSWERS = {
    ("openai", False): [_openai_json()],
    ("openai", True): _openai_sse(),
    ("anthropic", False): [_anthropic_json()],
    ("anthropic", True): _anthropic_sse(),
}
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    # A substring test is enough here and keeps the fake's CPU cost near zero.
    stream = b'"stream":true' in body.replace(b" ", b"")
    flavour = "anthropic" if scope["path"].endswith("/messages") else "openai"
    parts = ANSWERS[(flavour, stream)]
    headers = SSE_HEADERS if stream else [*JSON_HEADERS, (b"content-length", str(len(parts[0])).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for part in parts[:-1]:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": parts[-1], "more_body": False})
