"""Prompt-cache breakpoints: the client's reach Claude hosts (within four), and qlaud places them when none were set."""

from __future__ import annotations

from typing import Any

from gateway.providers.bedrock import converse
from gateway.translate import caching
from gateway.translate.request import Target, openai_to_anthropic

CLAUDE = Target("anthropic", "anthropic", "claude-sonnet-4-5", max_output_tokens=64000)
MARK = {"type": "ephemeral"}


def _part(text: str, marked: bool = False) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": text}
    if marked:
        part["cache_control"] = MARK
    return part


def _tool(name: str, marked: bool = False) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    if marked:
        tool["cache_control"] = MARK
    return tool


def _cline_body() -> dict[str, Any]:
    return {
        "model": "claude",
        "tools": [_tool("read_file"), _tool("write_file", marked=True)],
        "messages": [
            {"role": "system", "content": [_part("You are Cline.", marked=True)]},
            {"role": "user", "content": [_part("fix the bug"), _part("<env>", marked=True)]},
            {
                "role": "assistant",
                "content": [_part("Reading.", marked=True)],
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [_part("file body", marked=True)]},
        ],
    }


def test_cache_control_on_openai_parts_tools_and_system_reaches_claude_as_breakpoints() -> None:
    out = openai_to_anthropic(_cline_body(), CLAUDE)
    assert out["tools"][1]["cache_control"] == MARK and "cache_control" not in out["tools"][0]
    assert out["system"] == [{"type": "text", "text": "You are Cline.", "cache_control": MARK}]
    user = out["messages"][0]["content"]
    assert user == [{"type": "text", "text": "fix the bug"}, {"type": "text", "text": "<env>", "cache_control": MARK}]
    assert out["messages"][1]["content"][-1]["type"] == "tool_use"
    assert out["messages"][1]["content"][-1]["cache_control"] == MARK
    assert out["messages"][2]["content"][0]["type"] == "tool_result"
    assert out["messages"][2]["content"][0]["cache_control"] == MARK


def test_more_than_four_breakpoints_keep_the_latest_four() -> None:
    out = openai_to_anthropic(_cline_body(), CLAUDE)
    assert len(list(caching.marked_blocks(out))) == 5
    assert caching.limit_breakpoints(out) == 1
    assert "cache_control" not in out["tools"][1]  # the earliest went
    assert len(list(caching.marked_blocks(out))) == 4
    assert out["messages"][2]["content"][0]["cache_control"] == MARK  # the latest stayed


def _agent_body() -> dict[str, Any]:
    return {
        "model": "claude",
        "system": "big system prompt",
        "tools": [{"name": "a", "input_schema": {"type": "object"}}, {"name": "b", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "a", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r1"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "b", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "r2"}]},
        ],
    }


def test_without_client_breakpoints_qlaud_marks_tools_system_and_the_last_two_user_turns() -> None:
    body = caching.prepare(_agent_body(), auto=True)
    assert body["tools"][-1]["cache_control"] == MARK and "cache_control" not in body["tools"][0]
    assert body["system"] == [{"type": "text", "text": "big system prompt", "cache_control": MARK}]
    assert "cache_control" not in str(body["messages"][0])
    assert body["messages"][2]["content"][-1]["cache_control"] == MARK
    assert body["messages"][4]["content"][-1]["cache_control"] == MARK
    assert len(list(caching.marked_blocks(body))) == 4


def test_an_org_that_switched_auto_caching_off_gets_no_breakpoints_placed() -> None:
    assert list(caching.marked_blocks(caching.prepare(_agent_body(), auto=False))) == []


def test_a_client_breakpoint_stops_qlaud_from_placing_its_own() -> None:
    body = _agent_body()
    body["messages"][0]["content"] = [{"type": "text", "text": "first", "cache_control": MARK}]
    caching.prepare(body, auto=True)
    assert [b["text"] for b in caching.marked_blocks(body)] == ["first"]


def test_breakpoints_are_not_placed_on_thinking_blocks() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "thinking", "thinking": "x"}]}
        ]
    }
    caching.place_breakpoints(body)
    assert body["messages"][0]["content"][0]["cache_control"] == MARK
    assert "cache_control" not in body["messages"][0]["content"][1]


def test_claude_models_are_recognised_on_every_host() -> None:
    assert caching.claude_model("claude-sonnet-4-5")
    assert caching.claude_model("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert caching.claude_model("claude-sonnet-4-5@20250929")
    assert not caching.claude_model("deepseek-chat")


def test_bedrock_converse_gets_cache_points_after_marked_tools_system_and_messages() -> None:
    body = caching.prepare(_agent_body(), auto=True)
    out = converse.to_converse(body, model_id="anthropic.claude-sonnet-4-5")
    tools = out["toolConfig"]["tools"]
    assert [list(t) for t in tools] == [["toolSpec"], ["toolSpec"], ["cachePoint"]]
    assert out["system"][-1] == {"cachePoint": {"type": "default"}}
    assert out["messages"][4]["content"][-1] == {"cachePoint": {"type": "default"}}
    assert sum(1 for m in out["messages"] for b in m["content"] if "cachePoint" in b) == 2
