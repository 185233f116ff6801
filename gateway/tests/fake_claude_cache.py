"""A fake Claude upstream that does Anthropic's prompt-cache accounting, for the cache replay.

Served under the fake upstream's `ROUTES` at `<fake>/cachey/v1/messages`. The prompt is read as one sequence of
blocks (tools, then system blocks, then each message's content blocks); at every `cache_control` breakpoint the
prefix up to it is hashed. The latest breakpoint whose prefix was cached (written within the last 5 minutes) is
reported as `cache_read_input_tokens`; the prefix from there to the last breakpoint is written and reported as
`cache_creation_input_tokens`; the rest is `input_tokens`. A prefix shorter than the model's minimum cacheable
length (1024 tokens for Sonnet and Opus, 2048 for Haiku) is neither read nor written, as Anthropic does.
Tokens are counted as one per four characters of the block's canonical JSON (deterministic, close enough).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.tests import fake_upstream
from gateway.tests.fake_upstream import Answer, anthropic_events, anthropic_message

PATH = "/cachey/v1/messages"
TTL_SECONDS = 300.0
OUTPUT_TOKENS = 200


def min_cacheable(model: str) -> int:
    return 2048 if "haiku" in model else 1024


def tokens_of(block: dict[str, Any]) -> int:
    return max(1, len(_canonical(block)) // 4)


def _canonical(block: dict[str, Any]) -> str:
    """The block as the cache sees it: where the breakpoint sits is no part of the prefix."""
    ((where, inner),) = block.items()
    if isinstance(inner, dict):
        inner = {k: v for k, v in inner.items() if k != "cache_control"}
    return json.dumps({where: inner}, sort_keys=True, separators=(",", ":"))


def prompt_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"tool": t} for t in body.get("tools") or ()]
    system = body.get("system")
    system = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    blocks += [{"system": b} for b in system]
    for message in body.get("messages") or ():
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        blocks += [{message["role"]: part} for part in parts]
    return blocks


def _marked(block: dict[str, Any]) -> bool:
    inner = next(iter(block.values()))
    return isinstance(inner, dict) and bool(inner.get("cache_control"))


@dataclass
class CacheAccountant:
    """The upstream's prompt cache: prefix hash -> expiry (monotonic seconds)."""

    clock: Any = time.monotonic
    entries: dict[str, float] = field(default_factory=dict)

    def account(self, body: dict[str, Any]) -> dict[str, int]:
        blocks = prompt_blocks(body)
        sizes = [tokens_of(b) for b in blocks]
        total = sum(sizes)
        floor = min_cacheable(str(body.get("model", "")))
        now = self.clock()
        digest, prefix, points = hashlib.sha256(), 0, []
        for block, size in zip(blocks, sizes, strict=True):
            digest.update(_canonical(block).encode())
            prefix += size
            if _marked(block) and prefix >= floor:
                points.append((digest.hexdigest(), prefix))
        read = max((p for h, p in points if self.entries.get(h, 0.0) > now), default=0)
        written = max((p for _, p in points), default=0)
        for key, _ in points:
            self.entries[key] = now + TTL_SECONDS  # a hit refreshes the entry's lifetime too
        creation = max(written - read, 0)
        return {"input_tokens": total - read - creation, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": creation}  # fmt: skip

    def reset(self) -> None:
        self.entries.clear()


ACCOUNTANT = CacheAccountant()


def _answer(body: dict[str, Any]) -> Answer:
    turn = sum(1 for m in body.get("messages") or () if m.get("role") == "assistant")
    return Answer(text=f"Step {turn} done.", completion_tokens=OUTPUT_TOKENS)


async def handle(fake: Any, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    usage = ACCOUNTANT.account(body)
    answer = _answer(body)
    if not body.get("stream"):
        message = anthropic_message(answer, body)
        message["usage"] = {**usage, "output_tokens": OUTPUT_TOKENS}
        return web.json_response(message)
    events = anthropic_events(answer, body)
    events[0]["message"]["usage"] = {**usage, "output_tokens": 1}
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return await fake._stream(request, frames, scenario)


fake_upstream.ROUTES[PATH] = handle
