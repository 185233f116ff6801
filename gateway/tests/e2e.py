"""Helpers shared by the end-to-end tests: SDK clients, expected charges, ledger checks."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import openai
from django.conf import settings

from gateway.surfaces import chat, responses
from gateway.surfaces.exchange import Surface
from gateway.tests.conftest import PRICES, wait_for_log
from gateway.tests.fake_upstream import CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS
from gateway.translate.request import openai_to_anthropic
from gateway.translate.shaping import Target
from gateway.usage import Usage
from wallet.ledger import assert_ledger_invariant
from wallet.models import LedgerEntry
from wallet.money import Prices, cost

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEATHER_FUNCTION = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": WEATHER_TOOL["input_schema"],
    },
}


# What Cursor posts to /v1/chat/completions for a Claude model: system as text blocks with cache_control, cache_control
# markers on content, tool_choice as an Anthropic-style object.
CURSOR_CACHE = {"type": "ephemeral"}
CURSOR_SYSTEM = [{"type": "text", "text": "You are Cursor's agent.", "cache_control": CURSOR_CACHE}]
CURSOR_USER = [{"type": "text", "text": "Weather in Paris?", "cache_control": CURSOR_CACHE}]
CURSOR_CLAUDE_CHAT: dict[str, Any] = {
    "model": "claude-4.5-sonnet-thinking",
    "messages": [
        {
            "role": "system",
            "content": [{"type": "text", "text": "You are Cursor's agent.", "cache_control": CURSOR_CACHE}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?", "cache_control": CURSOR_CACHE}]},
    ],
    "tools": [WEATHER_FUNCTION],
    "tool_choice": {"type": "tool", "name": "get_weather"},
    "max_tokens": 64,
}


def cursor_claude_for(target: Target) -> dict[str, Any]:
    """Cursor's Claude chat body as qlaud sends it to a Claude host."""
    return openai_to_anthropic(copy.deepcopy(CURSOR_CLAUDE_CHAT), target)


def assert_cursor_cache_kept(sent: dict[str, Any]) -> None:
    assert sent["system"] == [{"type": "text", "text": "You are Cursor's agent.", "cache_control": CURSOR_CACHE}]
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "Weather in Paris?", "cache_control": CURSOR_CACHE}
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}


def anthropic_client(live: Any, key: str, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=live.url, api_key=key, max_retries=0, **kw)


def openai_client(live: Any, key: str, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, **kw)


def fake_usage(completion: int = COMPLETION_TOKENS) -> Usage:
    """What the fake upstream reports for every answer, normalised."""
    return Usage(input=PROMPT_TOKENS - CACHED_TOKENS, cache_read=CACHED_TOKENS, output=completion)


def expected_charge(usage: Usage) -> int:
    return cost(usage, Prices(**PRICES), settings.QLAUD_MARKUP_BPS).total


def billed(count: int = 1) -> list[Any]:
    """The request log rows, each checked against its ledger entry and the ledger invariant."""
    rows = wait_for_log(count=count)
    for row in rows:
        entries = list(LedgerEntry.objects.filter(reference=row.request_id, kind=LedgerEntry.Kind.USAGE))
        if row.cost or entries:
            assert len(entries) == 1, f"request {row.request_id} billed {len(entries)} times"
            assert entries[0].amount == -row.cost
    assert_ledger_invariant()
    return rows


def record_client_bodies(monkeypatch: Any) -> dict[str, list[dict[str, Any]]]:
    """The JSON bodies clients post to /v1/responses and /v1/chat/completions, by surface, as qlaud parsed them."""
    seen: dict[str, list[dict[str, Any]]] = {"responses": [], "chat": []}

    def recording(surface: Any) -> Any:
        def validate(body: dict[str, Any]) -> None:
            seen[surface.name].append(copy.deepcopy(body))
            surface.validate(body)

        return Surface(surface.name, surface.dialect, validate)

    monkeypatch.setattr(responses, "RESPONSES", recording(responses.RESPONSES))
    monkeypatch.setattr(chat, "CHAT", recording(chat.CHAT))
    return seen
