"""A fake OpenAI upstream whose behaviour the drills switch at run time, and which counts its calls.

    POST /<host>/v1/chat/completions   answered as <host>'s current mode says
    POST /_control/<host>?mode=M&chunks=N&interval_ms=I   switch <host> (modes below)
    GET  /_stats                        {"<host>": {"<mode>": calls}}

Modes: `ok` (a stream of N content chunks I ms apart, then finish, usage with completion_tokens = N,
[DONE]; or one JSON answer), `500` and `429` (OpenAI-shaped error bodies, 429 with retry-after: 1),
`stall_first` (headers, then silence until the client leaves), `stall_mid` (3 chunks, then silence).
One process (uvicorn, one worker): the modes and counters are plain dicts.
Run: uvicorn bench.chaos.upstream:app --port N
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import parse_qs

MODES: dict[str, dict[str, Any]] = defaultdict(lambda: {"mode": "ok", "chunks": 20, "interval_ms": 50})
CALLS: dict[str, Counter[str]] = defaultdict(Counter)
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
JSON = [(b"content-type", b"application/json")]


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-chaos",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "chaos",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def usage(n: int) -> dict[str, int]:
    return {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}


def completion(n: int) -> bytes:
    message = {"role": "assistant", "content": " tok" * n}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    body = {"id": "chatcmpl-chaos", "object": "chat.completion", "created": 1700000000, "model": "chaos"}
    return json.dumps({**body, "choices": [choice], "usage": usage(n)}).encode()


def error(status: int) -> bytes:
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    return json.dumps({"error": {"message": f"chaos {status}", "type": kind, "code": kind}}).encode()


async def _read(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _until_gone(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream(send: Any, receive: Any, n: int, interval: float, stall_after: int | None) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": SSE})
    for k in range(n):
        if k == stall_after:
            await _until_gone(receive)
            return
        delta = {"role": "assistant", "content": " tok"} if k == 0 else {"content": " tok"}
        await send({"type": "http.response.body", "body": chunk(delta), "more_body": True})
        await asyncio.sleep(interval)
    tail = chunk({}, "stop") + chunk({}, usage=usage(n)) + b"data: [DONE]\n\n"
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _answer(host: str, body: bytes, send: Any, receive: Any) -> None:
    conf = MODES[host]
    mode = conf["mode"]
    CALLS[host][mode] += 1
    if mode in ("500", "429"):
        headers = [*JSON, (b"retry-after", b"1")] if mode == "429" else JSON
        await send({"type": "http.response.start", "status": int(mode), "headers": headers})
        await send({"type": "http.response.body", "body": error(int(mode))})
        return
    stream = b'"stream":true' in body.replace(b" ", b"")
    if mode == "stall_first":
        await send({"type": "http.response.start", "status": 200, "headers": SSE if stream else JSON})
        await _until_gone(receive)
    elif stream:
        stall = 3 if mode == "stall_mid" else None
        await _stream(send, receive, conf["chunks"], conf["interval_ms"] / 1000, stall)
    else:
        await asyncio.sleep(conf["interval_ms"] / 1000)
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await send({"type": "http.response.body", "body": completion(conf["chunks"])})


async def _plain(send: Any, status: int, data: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await _read(receive)
    parts = scope["path"].strip("/").split("/")
    if parts[0] == "_stats":
        await _plain(send, 200, {host: dict(c) for host, c in CALLS.items()})
    elif parts[0] == "_control" and len(parts) == 2:
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        conf = MODES[parts[1]]
        conf.update({k: (v if k == "mode" else int(v)) for k, v in query.items() if k in conf})
        await _plain(send, 200, conf)
    elif parts[-2:] == ["chat", "completions"]:
        await _answer(parts[0], body, send, receive)
    else:
        await _plain(send, 404, {"error": {"message": "no such path", "type": "not_found"}})
