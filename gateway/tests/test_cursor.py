"""Cursor with "Override OpenAI Base URL", replayed in its documented request shapes (/work/shared/spec/clients.md).

Cursor's servers post a Responses API body to /v1/chat/completions for OpenAI-family models and read Chat
Completions back; Claude models get an Anthropic-flavoured Chat body (system as text blocks with cache_control,
tool_choice as an object). Cursor itself cannot run here, so its bodies go through the real openai SDK (extra_body
for what the SDK's types cannot express) against qlaud under uvicorn and the fake upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from catalog import routing
from gateway.tests.conftest import E2E
from gateway.tests.e2e import billed, expected_charge, fake_usage, openai_client
from gateway.tests.fake_upstream import FakeUpstream

pytestmark = E2E

PATCH = "*** Begin Patch\n*** Update File: app.py\n@@\n-print('hi')\n+print('hello')\n*** End Patch\n"
APPLY_PATCH = {
    "type": "custom",
    "name": "ApplyPatch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'},
}
READ_FILE = {
    "type": "function",
    "name": "read_file",
    "description": "Read a file.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    "strict": False,
}


def cursor_body(**extra: Any) -> dict[str, Any]:
    """What Cursor's agent posts for an OpenAI-family model (all but model and stream)."""
    return {
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "You are Cursor's agent."}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Say hello in app.py"}]},
        ],
        "tools": [READ_FILE, APPLY_PATCH],
        "tool_choice": "auto",
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "medium", "summary": "auto"},
        "text": {"verbosity": "low"},
        "truncation": "disabled",
        "previous_response_id": None,
        "prompt_cache_retention": "24h",
        "parallel_tool_calls": True,
        **extra,
    }


@dataclass
class World:
    client: openai.OpenAI
    fake: FakeUpstream


@pytest.fixture
def world(catalog: Any, tenant: Any, live: Any, fake: FakeUpstream) -> World:
    """gpt-5 on an OpenAI-compatible upstream, claude-sonnet-4.5 on Anthropic; both answer as the `agent` scenario."""
    fake.agent_tool = ("ApplyPatch", {"input": PATCH})
    catalog.model("gpt-5", (catalog.provider("openai", "openai", "/v1"), "fake-agent"))
    catalog.model("claude-sonnet-4.5", (catalog.provider("anthropic", "anthropic"), "fake-agent"))
    return World(openai_client(live, tenant.raw), fake)


def create(world: World, model: str, body: dict[str, Any], **kw: Any) -> Any:
    return world.client.chat.completions.create(model=model, messages=openai.omit, extra_body=body, **kw)


def rebuilt(world: World, model: str, body: dict[str, Any]) -> Any:
    """A streamed answer as the SDK's accumulator rebuilds it, and the chunks it came in. (Its snapshot: the
    SDK's final parsing step, get_final_completion(), fails on any custom tool call in openai-python 3.51.)"""
    state = ChatCompletionStreamState()
    chunks = list(create(world, model, body, stream=True, stream_options={"include_usage": True}))
    for chunk in chunks:
        state.handle_chunk(chunk)
    return state.current_completion_snapshot, chunks


def custom_of(call: Any) -> tuple[str, str]:
    """(name, input) of a custom tool call, whether the SDK typed it or kept the accumulated dict."""
    custom = call.custom if isinstance(call.custom, dict) else call.custom.model_dump()
    return custom["name"], custom["input"]


@pytest.mark.parametrize("model", ["gpt-5", "claude-sonnet-4.5"])
def test_a_streamed_responses_body_on_chat_completions_comes_back_as_chat_chunks_with_a_custom_tool_call(
    world: World, model: str
):
    completion, chunks = rebuilt(world, model, cursor_body())
    call = completion.choices[0].message.tool_calls[0]
    assert call.type == "custom" and custom_of(call) == ("ApplyPatch", PATCH)
    assert completion.choices[0].finish_reason == "tool_calls"
    assert all(c.object == "chat.completion.chunk" and c.model == model for c in chunks)
    assert chunks[-1].usage.prompt_tokens > 0 and chunks[-1].usage.cost > 0
    billed()


@pytest.mark.parametrize("model", ["gpt-5", "claude-sonnet-4.5"])
def test_a_whole_responses_body_on_chat_completions_is_answered_as_a_chat_completion(world: World, model: str):
    completion = create(world, model, cursor_body())
    call = completion.choices[0].message.tool_calls[0]
    assert completion.object == "chat.completion" and completion.model == model
    assert call.type == "custom" and custom_of(call) == ("ApplyPatch", PATCH)
    (row,) = billed()
    assert completion.usage.model_extra["cost_micros"] == row.cost == expected_charge(fake_usage(row.output_tokens))


def test_the_custom_tool_is_offered_upstream_as_a_function_with_one_string_argument(world: World):
    create(world, "gpt-5", cursor_body())
    (sent,) = world.fake.bodies("/chat/completions")
    tools = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert tools["ApplyPatch"]["parameters"]["properties"] == {"input": {"type": "string"}}
    assert tools["read_file"]["parameters"] == READ_FILE["parameters"]
    assert sent["messages"][0] == {"role": "system", "content": "You are Cursor's agent."}
    billed()


@pytest.mark.parametrize("model", ["gpt-5", "claude-sonnet-4.5"])
def test_a_turn_replaying_a_custom_tool_call_and_its_output_gets_the_final_text(world: World, model: str):
    history = cursor_body()["input"] + [
        {"type": "custom_tool_call", "call_id": "call_1", "name": "ApplyPatch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done: patch applied."},
    ]
    completion, _ = rebuilt(world, model, cursor_body(input=history))
    assert completion.choices[0].message.content == "Done: the tool said hello-from-qlaud."
    assert completion.choices[0].finish_reason == "stop"
    billed()


def test_a_follow_up_may_name_the_answer_it_continues_by_its_chat_completion_id(world: World):
    first = create(world, "gpt-5", cursor_body(store=True))
    call = first.choices[0].message.tool_calls[0]
    follow_up = [{"type": "custom_tool_call_output", "call_id": call.id, "output": "Done: patch applied."}]
    second = create(world, "gpt-5", cursor_body(input=follow_up, previous_response_id=first.id))
    assert second.choices[0].message.content == "Done: the tool said hello-from-qlaud."
    billed(2)


def test_a_claude_body_keeps_its_cache_control_and_tool_choice_all_the_way_to_anthropic(world: World):
    system = [{"type": "text", "text": "You are Cursor's agent.", "cache_control": {"type": "ephemeral"}}]
    user = [{"type": "text", "text": "Read app.py", "cache_control": {"type": "ephemeral"}}]
    tool = {"type": "function", "function": {k: READ_FILE[k] for k in ("name", "description", "parameters")}}
    world.client.chat.completions.create(
        model="claude-4.5-sonnet-thinking",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],  # type: ignore[list-item]
        tools=[tool],  # type: ignore[list-item]
        extra_body={"tool_choice": {"type": "tool", "name": "read_file"}},
    )
    (sent,) = world.fake.bodies("/messages")
    assert sent["system"] == system
    assert sent["messages"][0]["content"] == user
    assert sent["tool_choice"] == {"type": "tool", "name": "read_file"}
    billed()


def test_an_anthropic_style_tool_choice_object_reaches_an_openai_upstream_in_openai_form(world: World):
    tool = {"type": "function", "function": {k: READ_FILE[k] for k in ("name", "description", "parameters")}}
    for choice, expected in (({"type": "auto"}, "auto"), ({"type": "any"}, "required")):
        world.client.chat.completions.create(
            model="gpt-5",
            messages=[{"role": "user", "content": "Read app.py"}],
            tools=[tool],  # type: ignore[list-item]
            extra_body={"tool_choice": choice},
        )
        assert world.fake.bodies("/chat/completions")[-1]["tool_choice"] == expected
    billed(2)


@pytest.mark.parametrize(
    ("cursor", "catalog_id"),
    [
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4.5"),
        ("claude-4.1-opus", "claude-opus-4.1"),
        ("gpt-5-high", "gpt-5"),
        ("gpt-5-codex-xhigh", "gpt-5-codex"),
        ("o3-low", "o3"),
        ("grok-4-fast", "grok-4-fast"),
    ],
)
def test_cursors_model_variants_name_the_catalog_model_they_are_a_variant_of(cursor: str, catalog_id: str):
    assert routing.cursor_plain_name(cursor) == catalog_id


def test_a_cursor_thinking_or_effort_model_name_is_served_by_its_catalog_model(world: World):
    for name in ("gpt-5-high", "claude-4.5-sonnet-thinking"):
        completion = create(world, name, cursor_body())
        assert completion.model == name
    rows = billed(2)
    assert [(r.requested_model, r.model) for r in rows] == [
        ("gpt-5-high", "gpt-5"),
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4.5"),
    ]


@pytest.mark.parametrize(
    ("cursor", "effort"),
    [
        ("gpt-5-high", "high"),
        ("o3-low", "low"),
        ("gpt-5-codex-xhigh", "high"),
        ("claude-4.5-sonnet-thinking", "medium"),
        ("claude-4.5-sonnet-thinking-max", "high"),
        ("gpt-5", None),
        ("grok-4-fast", None),
    ],
)
def test_a_cursor_variant_names_the_reasoning_effort_it_asks_for(cursor: str, effort: str | None):
    assert routing.cursor_effort(cursor) == effort


def test_a_cursor_effort_variant_reaches_the_upstream_as_that_effort_unless_the_body_names_one(world: World):
    ask = [{"role": "user", "content": "Say hello"}]
    world.client.chat.completions.create(model="gpt-5-high", messages=ask)
    assert world.fake.bodies("/chat/completions")[-1]["reasoning_effort"] == "high"
    world.client.chat.completions.create(model="gpt-5-high", messages=ask, reasoning_effort="low")
    assert world.fake.bodies("/chat/completions")[-1]["reasoning_effort"] == "low"  # the body's own wins
    world.client.chat.completions.create(model="gpt-5", messages=ask)
    assert "reasoning_effort" not in world.fake.bodies("/chat/completions")[-1]
    billed(3)


def test_a_cursor_thinking_variant_turns_claudes_thinking_on(world: World):
    ask = [{"role": "user", "content": "Say hello"}]
    world.client.chat.completions.create(model="claude-4.5-sonnet-thinking", messages=ask, max_tokens=100)
    sent = world.fake.bodies("/messages")[-1]
    assert sent["thinking"]["type"] == "enabled" and sent["max_tokens"] > sent["thinking"]["budget_tokens"]
    world.client.chat.completions.create(model="claude-sonnet-4.5", messages=ask, max_tokens=100)
    assert "thinking" not in world.fake.bodies("/messages")[-1]
    billed(2)
