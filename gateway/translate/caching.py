"""Prompt-cache breakpoints on Anthropic-dialect bodies. Pure: no Django, no I/O.

Claude hosts cache a prompt prefix only where a block carries `cache_control`, and accept at most four such
breakpoints per request (tools, then system, then messages, in that order). `limit_breakpoints` keeps the latest
four (a later breakpoint covers the earlier prefix, so the latest ones save the most); `place_breakpoints` marks, for
a client that set none, the end of the tools, the end of the system prompt and the last two user turns: what a
long-running agent needs for every turn to read the previous turn's prefix from the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_BREAKPOINTS = 4
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
AUTO_USER_TURNS = 2
# Blocks Anthropic lets carry cache_control (thinking blocks may not).
_CACHEABLE = frozenset(("text", "image", "document", "tool_use", "tool_result"))

Block = dict[str, Any]


def marked_blocks(body: dict[str, Any]) -> Iterator[Block]:
    """Every block carrying cache_control, in prompt order (tools, system, messages)."""
    for block in _prompt_blocks(body):
        if block.get("cache_control"):
            yield block


def _prompt_blocks(body: dict[str, Any]) -> Iterator[Block]:
    yield from (t for t in body.get("tools") or () if isinstance(t, dict))
    system = body.get("system")
    if isinstance(system, list):
        yield from (b for b in system if isinstance(b, dict))
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list):
            yield from (b for b in content if isinstance(b, dict))


def limit_breakpoints(body: dict[str, Any], limit: int = MAX_BREAKPOINTS) -> int:
    """Drop breakpoints beyond `limit`, earliest first (in place); the number dropped."""
    marked = list(marked_blocks(body))
    extra = marked[: max(len(marked) - limit, 0)]
    for block in extra:
        del block["cache_control"]
    return len(extra)


def place_breakpoints(body: dict[str, Any]) -> int:
    """Mark the end of tools, of the system prompt and the last user turns (in place); the number placed.
    Does nothing when the body already has a breakpoint (the client knows its prompt better)."""
    if body.get("cache_control") or next(marked_blocks(body), None) is not None:
        return 0
    if isinstance(body.get("system"), str) and body["system"]:
        body["system"] = [{"type": "text", "text": body["system"]}]
    targets = [_last(body.get("tools")), _last(body.get("system"))]
    users = [m for m in body.get("messages") or () if m.get("role") == "user"]
    targets += [_last_of_message(m) for m in users[-AUTO_USER_TURNS:]]
    placed = [t for t in targets if t is not None]
    for block in placed:
        block["cache_control"] = dict(EPHEMERAL)
    return len(placed)


def _last(blocks: Any) -> Block | None:
    if isinstance(blocks, list) and blocks and isinstance(blocks[-1], dict):
        return blocks[-1]
    return None


def _last_of_message(message: dict[str, Any]) -> Block | None:
    content = message.get("content")
    if isinstance(content, str) and content:
        message["content"] = content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return None
    for block in reversed(content):
        if isinstance(block, dict) and block.get("type") in _CACHEABLE:
            return block
    return None


def claude_model(upstream_model: str) -> bool:
    """Anthropic's own ids, Bedrock's `anthropic.claude-...` and Vertex's `claude-...@date` alike."""
    return "claude" in upstream_model.lower()


def prepare(body: dict[str, Any], *, auto: bool) -> dict[str, Any]:
    """The breakpoints a Claude host gets: the client's (at most four) or, when it set none and `auto`, ours."""
    if auto:
        place_breakpoints(body)
    limit_breakpoints(body)
    return body
