"""The reasoning behind each tool call, remembered per org for upstreams that need it back.

OpenAI-style clients (Cursor, Cline, openai-py, LangChain) do not send ``reasoning_content`` back on the assistant turn
that made a tool call; DeepSeek in thinking mode refuses the next turn without it (providers.md, DeepSeek). So the
chat surface remembers, per org and tool-call id, the reasoning and the provider it came from, and restores it on
the next turn (``gateway.translate.request.shape_openai(reasoning=...)``). Stored in Django's cache: Redis (with
its TTL) when REDIS_URL is set, the process's cache in embedded mode (one process is the whole deployment).
Keys carry the org, so one org never reads another's; entries expire after REASONING_MEMORY_SECONDS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache

from gateway.translate.shaping import Target, rules_for

__all__ = ["missing_ids", "recall", "remember", "wanted"]


def wanted(provider: str) -> bool:
    """Does this OpenAI-dialect provider need reasoning back on tool-call turns?"""
    return rules_for(Target("openai", provider, "")).reasoning_replay == "reasoning_content"


def missing_ids(body: Mapping[str, Any]) -> list[str]:
    """Tool-call ids of the assistant turns that came back without their reasoning."""
    ids: list[str] = []
    for message in body.get("messages") or ():
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        if isinstance(message.get("reasoning_content"), str):
            continue
        calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
        ids += [c["id"] for c in calls if isinstance(c.get("id"), str)]
    return ids


def _key(org_id: int, tool_id: str) -> str:
    return f"reasoning:{org_id}:{tool_id}"


async def remember(org_id: int, provider: str, host_id: int, by_tool: Mapping[str, str]) -> None:
    if not by_tool:
        return
    entries = {_key(org_id, tool_id): (provider, host_id, text) for tool_id, text in by_tool.items()}
    await cache.aset_many(entries, timeout=settings.REASONING_MEMORY_SECONDS)


async def recall(org_id: int, tool_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Tool-call id -> (provider, reasoning) for what is still remembered."""
    keys = {_key(org_id, tool_id): tool_id for tool_id in tool_ids}
    if not keys:
        return {}
    found = await cache.aget_many(list(keys))
    return {keys[key]: (value[0], value[2]) for key, value in found.items()}
