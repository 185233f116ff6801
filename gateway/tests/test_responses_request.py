"""Responses requests -> Chat Completions and Anthropic Messages requests (pure translators)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.translate.responses import blob as seal
from gateway.translate.responses.request import RequestError, responses_to_anthropic, responses_to_chat

KEY = seal.derive_key("test-secret")


def unseal(blob: object) -> dict[str, Any] | None:
    return seal.unseal(blob, KEY)


def to_chat(body: dict[str, Any], provider: str = "deepseek", max_output_tokens: int | None = 8192):
    return responses_to_chat(body, provider=provider, max_output_tokens=max_output_tokens, unseal=unseal)


def to_anthropic(body: dict[str, Any], max_output_tokens: int | None = 32000):
    return responses_to_anthropic(body, provider="anthropic", max_output_tokens=max_output_tokens, unseal=unseal)


CODEX_TOOLS = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Run",
        "strict": False,
        "parameters": {"type": "object"},
    },
    {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Agents",
        "tools": [{"type": "function", "name": "spawn_agent", "description": "Spawn", "parameters": None}],
    },
    {"type": "web_search", "external_web_access": False},
]


def test_a_string_input_is_one_user_message_after_the_instructions() -> None:
    body = to_chat({"model": "m", "input": "say hi", "instructions": "Be brief."}).body
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "say hi"}]
    assert body["model"] == "m"


def test_codex_developer_messages_merge_into_one_leading_system_message() -> None:
    items = [
        {"type": "message", "id": "msg_1", "role": "developer", "content": [{"type": "input_text", "text": "A"}]},
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "B"}, {"type": "input_text", "text": "C"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
    ]
    messages = to_chat({"model": "m", "input": items}).body["messages"]
    assert messages == [{"role": "system", "content": "A\n\nBC"}, {"role": "user", "content": "go"}]


def test_ai_sdk_items_without_a_type_are_messages_and_images_become_image_url_parts() -> None:
    items = [
        {"role": "system", "content": "sys"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "original"},
            ],
        },
    ]
    messages = to_chat({"model": "m", "input": items}).body["messages"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
    ]


def test_assistant_text_and_consecutive_calls_merge_into_one_tool_call_message() -> None:
    items = [
        {"role": "user", "content": "weather?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "w", "arguments": '{"c":"P"}'},
        {"type": "function_call", "call_id": "c2", "name": "spawn_agent", "namespace": "ns", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "ok"}]},
    ]
    messages = to_chat({"model": "m", "input": items}, provider="groq").body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"c":"P"}'}},
            {"id": "c2", "type": "function", "function": {"name": "ns__spawn_agent", "arguments": "{}"}},
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "ok"},
    ]


def reasoning_item(payload: dict[str, Any] | None, summary: str = "summary text") -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": summary}]}
    item["encrypted_content"] = seal.seal(payload, KEY) if payload else None
    return item


TOOL_TURN = [
    {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": '{"cmd":"ls"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
]


def test_a_sealed_deepseek_reasoning_item_returns_as_reasoning_content_on_the_tool_call_turn() -> None:
    items = [
        {"role": "user", "content": "ls"},
        reasoning_item({"p": "deepseek", "k": "text", "t": "raw CoT"}),
        *TOOL_TURN,
    ]
    messages = to_chat({"model": "m", "input": items}).body["messages"]
    assert messages[1]["reasoning_content"] == "raw CoT"
    assert messages[1]["tool_calls"][0]["id"] == "c1"


def test_reasoning_is_dropped_for_a_chat_upstream_that_did_not_produce_it() -> None:
    items = [{"role": "user", "content": "ls"}, reasoning_item({"p": "deepseek", "k": "text", "t": "raw"}), *TOOL_TURN]
    messages = to_chat({"model": "m", "input": items}, provider="groq").body["messages"]
    assert "reasoning_content" not in messages[1]


def test_a_tampered_blob_is_ignored_and_deepseek_falls_back_to_the_summary_text() -> None:
    item = reasoning_item({"p": "deepseek", "k": "text", "t": "secret"})
    item["encrypted_content"] = item["encrypted_content"][:-4] + "AAAA"
    messages = to_chat({"model": "m", "input": [{"role": "user", "content": "x"}, item, *TOOL_TURN]}).body["messages"]
    assert messages[1]["reasoning_content"] == "summary text"


def test_tools_are_flattened_built_ins_dropped_and_parallel_kept() -> None:
    body = {"model": "m", "input": "x", "tools": CODEX_TOOLS, "tool_choice": "auto", "parallel_tool_calls": True}
    translated = to_chat(body)
    names = [t["function"]["name"] for t in translated.body["tools"]]
    assert names == ["exec_command", "multi_agent_v1__spawn_agent"]
    assert "strict" not in translated.body["tools"][0]["function"]  # Codex's strict:false is not forwarded
    assert translated.body["tools"][1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert translated.body["tools"][1]["function"]["description"] == "Agents\n\nSpawn"
    assert translated.body["parallel_tool_calls"] is True and translated.body["tool_choice"] == "auto"
    assert translated.dropped_tools == ("web_search",)
    assert translated.tools.to_client("multi_agent_v1__spawn_agent") == ("multi_agent_v1", "spawn_agent", "function")


def test_when_only_built_in_tools_remain_no_tool_fields_are_sent() -> None:
    body = to_chat({"model": "m", "input": "x", "tools": CODEX_TOOLS[2:], "parallel_tool_calls": True}).body
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & body.keys()


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "function", "name": "exec_command"}, {"type": "function", "function": {"name": "exec_command"}}),
        ({"type": "web_search_preview"}, "auto"),
        ("required", "required"),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "w"}, {"name": "exec_command"}],
            },
            "required",
        ),
    ],
)
def test_tool_choice_maps_to_chat(choice: object, expected: object) -> None:
    assert to_chat({"model": "m", "input": "x", "tools": CODEX_TOOLS, "tool_choice": choice}).body["tool_choice"] == (
        expected
    )


def test_max_output_tokens_defaults_to_the_host_maximum() -> None:
    assert to_chat({"model": "m", "input": "x"}, max_output_tokens=65536).body["max_tokens"] == 65536
    assert to_chat({"model": "m", "input": "x", "max_output_tokens": 100}).body["max_tokens"] == 100


def test_options_json_schema_effort_stream_and_what_is_not_forwarded() -> None:
    body = to_chat(
        {
            "model": "m",
            "input": "x",
            "stream": True,
            "reasoning": {"effort": "xhigh", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}},
            "metadata": {"a": "b"},
            "prompt_cache_key": "k",
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "temperature": 0.2,
            "safety_identifier": "u1",
        }
    ).body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
    }
    assert body["reasoning_effort"] == "xhigh" and body["temperature"] == 0.2 and body["user"] == "u1"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert not {"metadata", "prompt_cache_key", "store", "include", "input", "text"} & body.keys()


def test_prompt_cache_key_goes_only_to_openai() -> None:
    assert to_chat({"model": "m", "input": "x", "prompt_cache_key": "k"}, provider="openai").body["prompt_cache_key"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": [{"type": "computer_call", "call_id": "x"}]}, "input[0]"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"model": "m", "input": "x", "background": True}, "background"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
    ],
)
def test_it_refuses_what_it_cannot_serve_with_a_request_error_naming_the_param(body: dict, param: str) -> None:
    with pytest.raises(RequestError) as refused:
        to_chat(body)
    assert refused.value.param == param and refused.value.message


def test_web_search_call_items_are_dropped() -> None:
    items = [{"role": "user", "content": "x"}, {"type": "web_search_call", "id": "ws_1", "status": "completed"}]
    assert to_chat({"model": "m", "input": items}).body["messages"] == [{"role": "user", "content": "x"}]


def test_custom_tools_become_functions_with_one_input_parameter_and_replay_as_json() -> None:
    tools = [{"type": "custom", "name": "apply_patch", "description": "Patch"}]
    items = [
        {"role": "user", "content": "x"},
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"},
    ]
    translated = to_chat({"model": "m", "input": items, "tools": tools})
    assert translated.body["tools"][0]["function"]["parameters"]["required"] == ["input"]
    call = translated.body["messages"][1]["tool_calls"][0]["function"]
    assert json.loads(call["arguments"]) == {"input": "*** Begin"}
    assert translated.tools.to_client("apply_patch") == (None, "apply_patch", "custom")


# --- R -> A ---------------------------------------------------------------------------------


def test_anthropic_system_is_hoisted_and_tool_results_lead_the_merged_user_turn() -> None:
    items = [
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "ls"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running."}]},
        *TOOL_TURN,
        {"role": "system", "content": "late system"},
        {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,QUJD"}]},
    ]
    body = to_anthropic({"model": "c", "instructions": "inst", "input": items}).body
    assert body["system"] == [
        {"type": "text", "text": "inst"},
        {"type": "text", "text": "dev"},
        {"type": "text", "text": "late system"},
    ]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Running."},
            {"type": "tool_use", "id": "c1", "name": "exec_command", "input": {"cmd": "ls"}},
        ],
    }
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "a.txt"}]},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}},
    ]
    assert body["max_tokens"] == 32000


def test_sealed_anthropic_thinking_returns_signed_and_chat_reasoning_is_dropped() -> None:
    items = [
        {"role": "user", "content": "ls"},
        reasoning_item({"p": "anthropic", "k": "thinking", "t": "think", "s": "sig"}),
        reasoning_item({"p": "anthropic", "k": "redacted", "d": "opaque"}),
        reasoning_item({"p": "deepseek", "k": "text", "t": "foreign"}),
        *TOOL_TURN,
    ]
    body = to_anthropic({"model": "c", "input": items, "reasoning": {"effort": "medium"}}).body
    assert body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "think", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    assert len(body["messages"][1]["content"]) == 3
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}


def test_thinking_stays_off_when_the_last_tool_turn_lost_its_signed_thinking() -> None:
    items = [{"role": "user", "content": "ls"}, reasoning_item(None), *TOOL_TURN]
    body = to_anthropic({"model": "c", "input": items, "reasoning": {"effort": "high"}}).body
    assert "thinking" not in body


def test_anthropic_thinking_budget_fits_under_max_tokens_and_forced_tools_relax_to_auto() -> None:
    body = to_anthropic(
        {
            "model": "c",
            "input": "x",
            "max_output_tokens": 1000,
            "temperature": 1.7,
            "reasoning": {"effort": "low"},
            "tools": CODEX_TOOLS,
            "tool_choice": "required",
            "parallel_tool_calls": False,
        }
    ).body
    assert body["thinking"]["budget_tokens"] == 1024 and body["max_tokens"] == 2024
    assert "temperature" not in body
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert [t["name"] for t in body["tools"]] == ["exec_command", "multi_agent_v1__spawn_agent"]


def test_anthropic_options_clamp_temperature_and_map_schema_and_user() -> None:
    body = to_anthropic(
        {
            "model": "c",
            "input": "x",
            "temperature": 1.5,
            "user": "u",
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
            "tools": CODEX_TOOLS[:1],
            "tool_choice": {"type": "function", "name": "exec_command"},
        }
    ).body
    assert body["temperature"] == 1.0 and body["metadata"] == {"user_id": "u"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    assert body["tool_choice"] == {"type": "tool", "name": "exec_command"}


def test_an_allowed_tools_choice_keeps_only_the_listed_tools() -> None:
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "exec_command"}]}
    body = to_chat({"model": "m", "input": "x", "tools": CODEX_TOOLS, "tool_choice": choice}).body
    assert [t["function"]["name"] for t in body["tools"]] == ["exec_command"] and body["tool_choice"] == "auto"
