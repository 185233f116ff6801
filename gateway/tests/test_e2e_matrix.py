"""Every surface x upstream protocol x stream mode x scenario, driven by the real SDKs over uvicorn.

Each case checks the answer the SDK parsed, what qlaud sent upstream, and the bill: the ledger's
usage entry equals RequestLog.cost equals the price of the fake's usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.tests.conftest import E2E
from gateway.tests.e2e import (
    WEATHER_FUNCTION,
    WEATHER_TOOL,
    anthropic_client,
    billed,
    expected_charge,
    fake_usage,
    openai_client,
)

pytestmark = E2E

UPSTREAMS = {"openai": ("deepseek", "openai", ""), "anthropic": ("anthropic", "anthropic", "")}
SCENARIOS = ("text", "tool", "parallel", "reasoning")


@pytest.fixture
def routed(catalog: Any, request: Any) -> str:
    """A model `m-<scenario>` served by the fake in the requested upstream protocol."""
    upstream, scenario = request.param
    slug, protocol, path = UPSTREAMS[upstream]
    provider = catalog.provider(slug, protocol, path)
    catalog.model(f"m-{scenario}", (provider, f"fake-{scenario}"))
    return f"m-{scenario}"


CASES = [(u, s) for u in UPSTREAMS for s in SCENARIOS]


def _messages_call(client: Any, model: str, scenario: str, stream: bool) -> Any:
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 2000, "messages": [{"role": "user", "content": "hi"}]}
    if scenario in ("tool", "parallel"):
        kwargs["tools"] = [WEATHER_TOOL]
    if scenario == "reasoning":
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    if not stream:
        return client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as s:
        for _ in s:
            pass
        return s.get_final_message()


EXPECTED_BLOCKS = {
    "text": [("text", "Hello from the fake upstream.")],
    "tool": [("tool_use", {"city": "Paris"})],
    "parallel": [("text", "Checking both."), ("tool_use", {"city": "Oslo"}), ("tool_use", {"city": "Rome"})],
    "reasoning": [("thinking", "2+2: add the numbers."), ("text", "4")],
}


def _blocks(message: Any) -> list[tuple[str, Any]]:
    out = []
    for block in message.content:
        value = {"text": getattr(block, "text", None), "thinking": getattr(block, "thinking", None)}.get(block.type)
        out.append((block.type, block.input if block.type == "tool_use" else value))
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("routed", CASES, ids=[f"{u}-{s}" for u, s in CASES], indirect=True)
def test_the_messages_surface_answers_and_bills_every_upstream(live, tenant, fake, routed, stream):
    scenario = routed.removeprefix("m-")
    message = _messages_call(anthropic_client(live, tenant.raw), routed, scenario, stream)

    assert message.model == routed
    assert _blocks(message) == EXPECTED_BLOCKS[scenario]
    assert message.stop_reason == ("tool_use" if scenario in ("tool", "parallel") else "end_turn")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (100, 30)
    if scenario == "reasoning":
        assert message.content[0].signature  # kept by Claude Code, replayed to the provider later
    (row,) = billed()
    assert (row.surface, row.stream, row.status, row.usage_estimated) == ("messages", stream, 200, False)
    assert row.cost == expected_charge(fake_usage())
    assert tenant.balance == 10_000_000 - row.cost
    (sent,) = fake.bodies()
    assert sent["model"] == f"fake-{scenario}" and sent["stream"] is stream


def _chat_call(client: Any, model: str, scenario: str, stream: bool) -> dict[str, Any]:
    """The answer as {content, reasoning, tool_calls, finish}, from either mode."""
    kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2000}
    if scenario in ("tool", "parallel"):
        kwargs["tools"] = [WEATHER_FUNCTION]
    if scenario == "reasoning":
        kwargs["reasoning_effort"] = "low"
    if not stream:
        answer = client.chat.completions.create(**kwargs)
        choice = answer.choices[0]
        message = choice.message
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or ()]
        reasoning = (message.model_extra or {}).get("reasoning_content")
        return {
            "content": message.content,
            "reasoning": reasoning,
            "tools": calls,
            "finish": choice.finish_reason,
            "model": answer.model,
            "usage": answer.usage,
        }
    return _collect_chat_stream(
        client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
    )


def _collect_chat_stream(stream: Any) -> dict[str, Any]:
    content, reasoning, finish, usage, model = "", "", None, None, None
    calls: dict[int, list[str]] = {}
    for chunk in stream:
        model = chunk.model
        usage = chunk.usage or usage
        for choice in chunk.choices:
            delta = choice.delta
            content += delta.content or ""
            reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, ["", "", ""])
                entry[0] = call.id or entry[0]
                entry[1] = (call.function and call.function.name) or entry[1]
                entry[2] += (call.function and call.function.arguments) or ""
            finish = choice.finish_reason or finish
    tools = [(i, n, json.loads(a)) for i, n, a in (calls[k] for k in sorted(calls))]
    return {
        "content": content or None,
        "reasoning": reasoning or None,
        "tools": tools,
        "finish": finish,
        "model": model,
        "usage": usage,
    }


EXPECTED_CHAT = {
    "text": ("Hello from the fake upstream.", None, [], "stop"),
    "tool": (None, None, [("call_w1", "get_weather", {"city": "Paris"})], "tool_calls"),
    "parallel": (
        "Checking both.",
        None,
        [("call_A", "get_weather", {"city": "Oslo"}), ("call_B", "get_weather", {"city": "Rome"})],
        "tool_calls",
    ),
    "reasoning": ("4", "2+2: add the numbers.", [], "stop"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("routed", CASES, ids=[f"{u}-{s}" for u, s in CASES], indirect=True)
def test_the_chat_surface_answers_and_bills_every_upstream(live, tenant, fake, routed, stream):
    scenario = routed.removeprefix("m-")
    got = _chat_call(openai_client(live, tenant.raw), routed, scenario, stream)

    assert got["model"] == routed
    assert (got["content"], got["reasoning"], got["tools"], got["finish"]) == EXPECTED_CHAT[scenario]
    assert (got["usage"].prompt_tokens, got["usage"].completion_tokens) == (120, 30)
    (row,) = billed()
    assert (row.surface, row.stream, row.status, row.usage_estimated) == ("chat", stream, 200, False)
    assert row.cost == expected_charge(fake_usage())
    if not stream:
        assert got["usage"].model_extra["cost"] == pytest.approx(row.cost / 1_000_000)
    (sent,) = fake.bodies()
    assert sent["model"] == f"fake-{scenario}"
