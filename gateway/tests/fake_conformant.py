"""Fake upstreams for the fidelity suite, served under the fake upstream's `ROUTES`.

- `/conform/v1/chat/completions` and `/conform/v1/messages`: answer what they are asked, as a well-behaved host
  does: tool calls when tools are offered (two when the prompt asks for both cities), an answer after a tool result,
  JSON when JSON is asked for, reasoning when asked, and cache accounting (implicit for the OpenAI-style host, at
  breakpoints for the Claude-style one).
- `/noindex/v1/chat/completions`: the same, but its streamed tool call deltas carry no `index`.
- `/garbage/v1/chat/completions`: 200 with bytes that are no JSON and no SSE a client can use.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from gateway.tests import fake_upstream as fu
from gateway.tests.fake_claude_cache import CacheAccountant

CONFORM, NOINDEX, GARBAGE = "/conform", "/noindex", "/garbage"
CLAUDE_CACHE = CacheAccountant()
SEEN_PROMPTS: set[str] = set()


def _wants(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages") or []) + json.dumps(body.get("system") or "")


def _answer(body: dict[str, Any], has_tool_result: bool, reasoning: bool) -> fu.Answer:
    thought = "Think first." if reasoning else ""
    if has_tool_result:
        return fu.Answer(reasoning=thought, text="It is 21 degrees.")
    if body.get("tools"):
        if "Oslo" in _wants(body):
            calls = [("call_o1", "get_weather", {"city": "Oslo"}), ("call_r1", "get_weather", {"city": "Rome"})]
        else:
            calls = [("call_p1", "get_weather", {"city": "Paris"})]
        return fu.Answer(reasoning=thought, tools=calls)
    if "json" in json.dumps(body).lower():
        return fu.Answer(text='{"ok": true}')
    return fu.Answer(text="ok")


def _openai_usage(body: dict[str, Any], answer: fu.Answer) -> dict[str, Any]:
    prompt = len(json.dumps(body.get("messages"))) // 4
    key = hashlib.sha256(json.dumps(body.get("messages")).encode()).hexdigest()
    cached = prompt // 2 if key in SEEN_PROMPTS else 0
    SEEN_PROMPTS.add(key)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": prompt + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


async def openai(fake: Any, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    answer = _answer(body, fu.openai_has_tool_result(body), bool(body.get("reasoning_effort")))
    usage = _openai_usage(body, answer)
    if not body.get("stream"):
        return web.json_response({**fu.openai_message(answer, body), "usage": usage})
    chunks = fu.openai_chunks(answer, body, include_usage=False)
    chunks.append({**chunks[-1], "choices": [], "usage": usage})
    if request.path.startswith(NOINDEX):
        for chunk in chunks:
            for choice in chunk.get("choices") or ():
                for call in choice["delta"].get("tool_calls") or ():
                    call.pop("index", None)
    frames = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
    return await fake._stream(request, frames, scenario)


async def anthropic(fake: Any, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    answer = _answer(body, fu.anthropic_has_tool_result(body), bool(body.get("thinking")))
    usage = {**CLAUDE_CACHE.account(body), "output_tokens": answer.completion_tokens}
    if not body.get("stream"):
        return web.json_response({**fu.anthropic_message(answer, body), "usage": usage})
    events = fu.anthropic_events(answer, body)
    events[0]["message"]["usage"] = {**usage, "output_tokens": 1}
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return await fake._stream(request, frames, scenario)


async def garbage(fake: Any, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    if body.get("stream"):
        return await fake._stream(request, [b"data: {not json\n\n", b"data: [DONE]\n\n"], scenario)
    return web.Response(text="<html>upstream says hi</html>", content_type="application/json")


def reset() -> None:
    CLAUDE_CACHE.reset()
    SEEN_PROMPTS.clear()


fu.ROUTES[CONFORM + "/v1/chat/completions"] = openai
fu.ROUTES[NOINDEX + "/v1/chat/completions"] = openai
fu.ROUTES[CONFORM + "/v1/messages"] = anthropic
fu.ROUTES[GARBAGE + "/v1/chat/completions"] = garbage
