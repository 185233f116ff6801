"""Request translation, Anthropic Messages <-> OpenAI Chat Completions, per target."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.translate.reasoning import Sealer, unsealed
from gateway.translate.reasoning import unsealed as marker
from gateway.translate.request import (
    Target,
    TranslationError,
    anthropic_to_openai,
    openai_to_anthropic,
    shape_anthropic,
    shape_openai,
)

OPENAI = Target("openai", "openai", "gpt-5-mini", supports_reasoning=True)
DEEPSEEK = Target("openai", "deepseek", "deepseek-v4-pro", supports_reasoning=True)
MISTRAL = Target("openai", "mistral", "mistral-large-latest")
GROQ = Target("openai", "groq", "llama-3.3-70b-versatile")
CLAUDE = Target("anthropic", "anthropic", "claude-sonnet-4-5", max_output_tokens=64000, supports_reasoning=True)
SEALER = Sealer(b"k")


def _a(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-opus-4-8", "max_tokens": 1024, "messages": messages, **extra}


def _o(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-x", "messages": messages, **extra}


# -- Anthropic -> OpenAI ---------------------------------------------------------------------------------------------


def test_system_blocks_and_system_messages_inside_messages_become_one_leading_system_message() -> None:
    body = _a(
        [{"role": "user", "content": "hi"}, {"role": "system", "content": [{"type": "text", "text": "reminder"}]}],
        system=[
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": ""},
        ],
    )
    out = anthropic_to_openai(body, OPENAI)
    assert out["messages"] == [
        {"role": "system", "content": "Be brief.\n\nreminder"},
        {"role": "user", "content": "hi"},
    ]
    assert out["model"] == "gpt-5-mini"


def test_a_string_system_prompt_is_kept_as_is() -> None:
    assert anthropic_to_openai(_a([], system="S"), GROQ)["messages"] == [{"role": "system", "content": "S"}]


def test_spec_example_6_tool_result_with_an_image() -> None:
    messages = [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "captured"}]},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "text", "text": "What do you see?"},
            ],
        },
    ]
    assert anthropic_to_openai(_a(messages), OPENAI)["messages"] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "screenshot", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "captured"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "text", "text": "What do you see?"},
            ],
        },
    ]


def test_several_results_error_results_and_images_inside_results() -> None:
    content = [
        {"type": "tool_result", "tool_use_id": "a", "content": "ok"},
        {"type": "tool_result", "tool_use_id": "b", "content": "boom", "is_error": True},
        {
            "type": "tool_result",
            "tool_use_id": "c",
            "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}],
        },
    ]
    out = anthropic_to_openai(_a([{"role": "user", "content": content}]), OPENAI)["messages"]
    assert out == [
        {"role": "tool", "tool_call_id": "a", "content": "ok"},
        {"role": "tool", "tool_call_id": "b", "content": "[tool error] boom"},
        {"role": "tool", "tool_call_id": "c", "content": ""},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
    ]


def test_consecutive_same_role_turns_are_merged() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"q": 1}}]},
    ]
    out = anthropic_to_openai(_a(messages), GROQ)["messages"]
    assert out[0] == {"role": "user", "content": "a\n\nb"}
    assert out[1]["content"] == "x" and out[1]["tool_calls"][0]["function"]["arguments"] == '{"q":1}'


def test_documents_become_text_or_pdf_files_where_the_target_reads_pdfs() -> None:
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
    text_doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}}
    content_doc = {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}}
    out = anthropic_to_openai(_a([{"role": "user", "content": [pdf, text_doc, content_doc]}]), OPENAI)
    assert out["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"}},
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "inner"},
    ]
    with pytest.raises(TranslationError):
        anthropic_to_openai(_a([{"role": "user", "content": [pdf]}]), GROQ)


def test_tools_tool_choice_and_parallel_tool_use() -> None:
    tools = [{"name": "f", "description": "d", "input_schema": {"type": "object"}, "strict": True}]
    out = anthropic_to_openai(
        _a([], tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True}), OPENAI
    )
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d", "strict": True},
        }
    ]
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    named = anthropic_to_openai(_a([], tools=tools, tool_choice={"type": "tool", "name": "f"}), OPENAI)
    assert named["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    for kind, want in (("auto", "auto"), ("none", "none")):
        assert anthropic_to_openai(_a([], tools=tools, tool_choice={"type": kind}), OPENAI)["tool_choice"] == want
    assert "tool_choice" not in anthropic_to_openai(_a([], tool_choice={"type": "auto"}), OPENAI)


def test_server_tools_cannot_be_translated() -> None:
    with pytest.raises(TranslationError) as caught:
        anthropic_to_openai(_a([], tools=[{"type": "web_search_20250305", "name": "web_search"}]), OPENAI)
    assert caught.value.param == "tools"


def test_sampling_stop_user_and_max_tokens_per_target() -> None:
    body = _a([], temperature=0.2, top_p=0.9, top_k=5, stop_sequences=["END"], metadata={"user_id": "u1"})
    out = anthropic_to_openai(body, Target("openai", "openai", "gpt-4o"))
    assert (out["temperature"], out["top_p"], out["stop"], out["user"]) == (0.2, 0.9, ["END"], "u1")
    assert "top_k" not in out and out["max_completion_tokens"] == 1024 and "max_tokens" not in out
    mistral = anthropic_to_openai(body, MISTRAL)
    assert mistral["max_tokens"] == 1024 and "user" not in mistral and "max_completion_tokens" not in mistral


def test_max_tokens_is_capped_at_the_target_limit() -> None:
    small = Target("openai", "groq", "m", max_output_tokens=100)
    assert anthropic_to_openai(_a([]), small)["max_tokens"] == 100


def test_streaming_requests_ask_for_usage_except_where_the_target_rejects_it() -> None:
    assert anthropic_to_openai(_a([], stream=True), GROQ)["stream_options"] == {"include_usage": True}
    mistral = anthropic_to_openai(_a([], stream=True), MISTRAL)
    assert mistral["stream"] is True and "stream_options" not in mistral
    assert "stream_options" not in anthropic_to_openai(_a([]), GROQ)


def test_output_config_format_becomes_a_json_schema_response_format() -> None:
    body = _a([], output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": "high"})
    assert anthropic_to_openai(body, OPENAI)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": True},
    }


def test_thinking_budget_becomes_reasoning_effort_or_the_providers_own_switch() -> None:
    enabled = _a([], thinking={"type": "enabled", "budget_tokens": 2048})
    assert anthropic_to_openai(enabled, OPENAI)["reasoning_effort"] == "medium"
    assert anthropic_to_openai(enabled, DEEPSEEK)["thinking"] == {"type": "enabled"}
    assert "reasoning_effort" not in anthropic_to_openai(enabled, DEEPSEEK)
    disabled = _a([], thinking={"type": "disabled"})
    assert anthropic_to_openai(disabled, DEEPSEEK)["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in anthropic_to_openai(disabled, OPENAI)
    assert "reasoning_effort" not in anthropic_to_openai(enabled, GROQ)  # not a reasoning model


def test_openrouter_groq_and_xai_reasoning_knobs() -> None:
    router = Target("openai", "openrouter", "deepseek/deepseek-r1", supports_reasoning=True)
    assert anthropic_to_openai(_a([], thinking={"type": "enabled", "budget_tokens": 3000}), router)["reasoning"] == {
        "max_tokens": 3000
    }
    adaptive = _a([], thinking={"type": "adaptive"}, output_config={"effort": "low"})
    assert anthropic_to_openai(adaptive, router)["reasoning"] == {"effort": "low"}
    assert anthropic_to_openai(_a([], thinking={"type": "adaptive"}), router)["reasoning"] == {"enabled": True}
    assert anthropic_to_openai(_a([], thinking={"type": "disabled"}), router)["reasoning"] == {"enabled": False}
    qwen = Target("openai", "groq", "qwen/qwen3-32b", supports_reasoning=True)
    assert anthropic_to_openai(adaptive, qwen)["reasoning_format"] == "parsed"
    assert anthropic_to_openai(_a([], thinking={"type": "disabled"}), qwen)["reasoning_format"] == "hidden"
    oss = Target("openai", "groq", "openai/gpt-oss-120b", supports_reasoning=True)
    out = anthropic_to_openai(adaptive, oss)
    assert (out["include_reasoning"], out["reasoning_effort"]) == (True, "low")
    grok4 = Target("openai", "xai", "grok-4", supports_reasoning=True)
    mini = Target("openai", "xai", "grok-3-mini", supports_reasoning=True)
    body = _a([], thinking={"type": "enabled", "budget_tokens": 9000}, stop_sequences=["x"])
    assert "reasoning_effort" not in anthropic_to_openai(body, grok4) and "stop" not in anthropic_to_openai(body, grok4)
    assert anthropic_to_openai(body, mini)["reasoning_effort"] == "high"


def test_claude_codes_real_request_shape_translates_cleanly() -> None:
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 32000,
        "stream": True,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": json.dumps({"device_id": "d", "session_id": "s"})},
        "system": [
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {"command": {"type": "string"}, "opts": {"$schema": "x", "type": "object"}},
                    "required": ["command"],
                    "additionalProperties": False,
                },
            }
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "system", "content": "<system-reminder>todo list is empty</system-reminder>"},
        ],
    }
    out = anthropic_to_openai(body, DEEPSEEK)
    assert set(out) == {"model", "messages", "stream", "stream_options", "max_tokens", "user", "tools", "thinking"}
    assert out["messages"][0]["content"].endswith("todo list is empty</system-reminder>")
    assert out["messages"][1] == {"role": "user", "content": "list files"}
    parameters = out["tools"][0]["function"]["parameters"]
    assert "$schema" not in parameters and "$schema" not in parameters["properties"]["opts"]
    assert parameters["additionalProperties"] is False
    assert "cache_control" not in json.dumps(out)


def test_mistral_gets_nine_character_tool_ids_consistently_and_nothing_it_rejects() -> None:
    messages = [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01AbC", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01AbC", "content": "r"}]},
    ]
    out = anthropic_to_openai(_a(messages, stream=True, top_k=3, metadata={"user_id": "u"}), MISTRAL)
    call_id = out["messages"][0]["tool_calls"][0]["id"]
    assert len(call_id) == 9 and call_id.isalnum() and out["messages"][1]["tool_call_id"] == call_id
    assert set(out) <= {"model", "messages", "max_tokens", "stream"}


def _turn_with_thinking(signature: str, text: str = "I should list files.") -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "list"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": text, "signature": signature},
                {"type": "tool_use", "id": "call_1", "name": "ls", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "a b"}]},
    ]


def test_sealed_deepseek_thinking_is_replayed_as_reasoning_content() -> None:
    signature = SEALER.seal("deepseek", "I should list files.")
    out = anthropic_to_openai(_a(_turn_with_thinking(signature)), DEEPSEEK, sealer=SEALER)
    assert out["messages"][1]["reasoning_content"] == "I should list files."


def test_thinking_that_fails_verification_is_not_replayed_but_the_tool_turn_keeps_the_field() -> None:
    forged = SEALER.seal("deepseek", "something else")
    out = anthropic_to_openai(_a(_turn_with_thinking(forged)), DEEPSEEK, sealer=SEALER)
    assert out["messages"][1]["reasoning_content"] == ""
    other = SEALER.seal("groq", "I should list files.")
    assert (
        anthropic_to_openai(_a(_turn_with_thinking(other)), DEEPSEEK, sealer=SEALER)["messages"][1]["reasoning_content"]
        == ""
    )


def test_without_a_sealing_secret_the_qlaud_marker_names_the_provider() -> None:
    out = anthropic_to_openai(_a(_turn_with_thinking(unsealed("deepseek"))), DEEPSEEK)
    assert out["messages"][1]["reasoning_content"] == "I should list files."


def test_thinking_is_dropped_for_providers_without_replay() -> None:
    out = anthropic_to_openai(_a(_turn_with_thinking(SEALER.seal("groq", "x"))), GROQ, sealer=SEALER)
    assert "reasoning_content" not in out["messages"][1]


def test_an_assistant_turn_with_nothing_left_has_empty_content() -> None:
    messages = [{"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]}]
    assert anthropic_to_openai(_a(messages), GROQ)["messages"] == [{"role": "assistant", "content": ""}]


# -- OpenAI -> Anthropic ---------------------------------------------------------------------------------------------


def test_system_and_developer_messages_anywhere_are_hoisted_including_aiders_trailing_one() -> None:
    body = _o(
        [
            {"role": "system", "content": "S1"},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "D"}]},
            {"role": "system", "content": "reply in SEARCH/REPLACE blocks"},
        ]
    )
    out = openai_to_anthropic(body, CLAUDE)
    assert out["system"] == [
        {"type": "text", "text": "S1"},
        {"type": "text", "text": "D"},
        {"type": "text", "text": "reply in SEARCH/REPLACE blocks"},
    ]
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert out["max_tokens"] == 64000 and out["model"] == "claude-sonnet-4-5"


def test_tool_calls_and_several_tool_messages_merge_into_one_user_turn_results_first() -> None:
    body = _o(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "Running.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
                    {"id": "c3", "type": "function", "function": {"name": "h", "arguments": "[1]"}},
                    {"id": "c4", "type": "function", "function": {"name": "i", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "and?"},
        ]
    )
    messages = openai_to_anthropic(body, CLAUDE)["messages"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Running."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
        {"type": "tool_use", "id": "c2", "name": "g", "input": {"_raw": "not json"}},
        {"type": "tool_use", "id": "c3", "name": "h", "input": {"_raw": "[1]"}},
        {"type": "tool_use", "id": "c4", "name": "i", "input": {}},
    ]
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "one"},
            {"type": "tool_result", "tool_use_id": "c2", "content": "two"},
            {"type": "text", "text": "and?"},
        ],
    }


def test_images_and_pdfs_become_anthropic_blocks() -> None:
    parts = [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG", "detail": "high"}},
        {"type": "image_url", "image_url": "https://x/y.jpg"},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "text", "text": ""},
    ]
    content = openai_to_anthropic(_o([{"role": "user", "content": parts}]), CLAUDE)["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklG"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0"}},
        {"type": "file", "file": {"file_id": "file-1"}},
        {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}},
    ],
)
def test_content_anthropic_cannot_take_is_a_translation_error(part: dict[str, Any]) -> None:
    with pytest.raises(TranslationError):
        openai_to_anthropic(_o([{"role": "user", "content": [part]}]), CLAUDE)


def test_unknown_roles_and_n_above_one_are_translation_errors() -> None:
    with pytest.raises(TranslationError):
        openai_to_anthropic(_o([{"role": "function", "name": "f", "content": "x"}]), CLAUDE)
    with pytest.raises(TranslationError):
        openai_to_anthropic(_o([], n=2), CLAUDE)


def test_a_conversation_starting_with_the_assistant_gets_a_user_turn_and_prefill_is_rstripped() -> None:
    body = _o(
        [
            {"role": "assistant", "content": "Hello "},
            {"role": "user", "content": ""},
            {"role": "assistant", "content": "Sure:  "},
        ]
    )
    messages = openai_to_anthropic(body, CLAUDE)["messages"]
    assert messages[0]["role"] == "user" and messages[-1]["content"] == [
        {"type": "text", "text": "Hello "},
        {"type": "text", "text": "Sure:"},
    ]
    only_space = openai_to_anthropic(
        _o([{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]), CLAUDE
    )
    assert only_space["messages"] == [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
    tool_last = _o(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
        ]
    )
    assert openai_to_anthropic(tool_last, CLAUDE)["messages"][-1]["content"][-1]["type"] == "tool_use"


def test_sampling_stop_user_and_limits() -> None:
    body = _o([], temperature=1.6, top_p=0.5, stop="END", user="u", max_completion_tokens=500, seed=1, logprobs=True)
    out = openai_to_anthropic(body, CLAUDE)
    assert (out["temperature"], out["stop_sequences"], out["metadata"], out["max_tokens"]) == (
        1.0,
        ["END"],
        {"user_id": "u"},
        500,
    )
    assert "top_p" not in out and "seed" not in out and "logprobs" not in out
    only_top_p = openai_to_anthropic(_o([], top_p=0.5, stop=["a", "b"], safety_identifier="s", max_tokens=10), CLAUDE)
    assert (only_top_p["top_p"], only_top_p["stop_sequences"], only_top_p["metadata"]["user_id"]) == (
        0.5,
        ["a", "b"],
        "s",
    )
    assert openai_to_anthropic(_o([]), Target("anthropic", "anthropic", "c"))["max_tokens"] == 4096


def test_tools_choices_and_parallel_calls() -> None:
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}]
    out = openai_to_anthropic(_o([], tools=tools, tool_choice="required", parallel_tool_calls=False), CLAUDE)
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object"}, "description": "d"}]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    named = openai_to_anthropic(
        _o([], tools=tools, tool_choice={"type": "function", "function": {"name": "f"}}), CLAUDE
    )
    assert named["tool_choice"] == {"type": "tool", "name": "f"}
    assert openai_to_anthropic(_o([], tools=tools, parallel_tool_calls=False), CLAUDE)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    legacy = openai_to_anthropic(_o([], functions=[{"name": "g"}], function_call={"name": "g"}), CLAUDE)
    assert legacy["tools"] == [{"name": "g", "input_schema": {"type": "object", "properties": {}}}]
    assert legacy["tool_choice"] == {"type": "tool", "name": "g"}
    assert openai_to_anthropic(_o([], tools=tools, tool_choice="none"), CLAUDE)["tool_choice"] == {"type": "none"}
    with pytest.raises(TranslationError):
        openai_to_anthropic(_o([], tools=[{"type": "custom", "custom": {"name": "x"}}]), CLAUDE)


def test_response_formats() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object", "properties": {}}}}
    out = openai_to_anthropic(_o([], response_format=schema), CLAUDE)
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}}
    json_mode = openai_to_anthropic(
        _o([{"role": "system", "content": "S"}], response_format={"type": "json_object"}), CLAUDE
    )
    assert json_mode["system"][-1]["text"].startswith("Answer with a single valid JSON object")
    assert "output_config" not in openai_to_anthropic(_o([], response_format={"type": "text"}), CLAUDE)


def test_reasoning_effort_becomes_a_thinking_budget_that_fits_max_tokens() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = _o([], reasoning_effort="high", max_tokens=1000, temperature=0.3, tools=tools, tool_choice="required")
    out = openai_to_anthropic(body, CLAUDE)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 24576} and out["max_tokens"] == 25576
    assert "temperature" not in out and out["tool_choice"] == {"type": "auto"}
    tight = Target("anthropic", "anthropic", "c", max_output_tokens=8000, supports_reasoning=True)
    capped = openai_to_anthropic(_o([], reasoning_effort="medium", max_tokens=4000), tight)
    assert capped["thinking"]["budget_tokens"] == 4000 and capped["max_tokens"] == 8000
    for effort in ("none", "minimal"):
        assert "thinking" not in openai_to_anthropic(_o([], reasoning_effort=effort), CLAUDE)
    assert "thinking" not in openai_to_anthropic(_o([], reasoning_effort="high"), Target("anthropic", "anthropic", "c"))


def test_stream_is_preserved() -> None:
    assert openai_to_anthropic(_o([], stream=True, stream_options={"include_usage": True}), CLAUDE)["stream"] is True
    assert "stream" not in openai_to_anthropic(_o([]), CLAUDE)


def test_deepseek_turns_without_tools_or_own_thinking_get_no_reasoning_field_and_merge_cleanly() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]},
        {"role": "assistant", "content": "plain"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "r"}]},
        {"role": "assistant", "content": "done"},
    ]
    out = anthropic_to_openai({"messages": messages, "tools": [{"name": "f", "input_schema": {}}]}, DEEPSEEK)
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "plain",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        "reasoning_content": "",
    }
    assert out["messages"][-1] == {"role": "assistant", "content": "done"}
    assert "max_tokens" not in out and out["tools"][0]["function"] == {"name": "f", "parameters": {}}


def test_an_unknown_tool_choice_type_is_left_to_the_upstream_default() -> None:
    out = anthropic_to_openai(_a([], tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "new"}), OPENAI)
    assert "tool_choice" not in out and "parallel_tool_calls" not in out


def test_a_trailing_whitespace_prefill_after_a_tool_call_keeps_the_call() -> None:
    body = _o(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "assistant", "content": "   "},
        ]
    )
    assert openai_to_anthropic(body, CLAUDE)["messages"][-1]["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {}}
    ]


def test_consecutive_deepseek_turns_with_their_own_thinking_merge_the_reasoning() -> None:
    def turn(text: str) -> dict[str, Any]:
        block = {"type": "thinking", "thinking": text, "signature": SEALER.seal("deepseek", text)}
        return {"role": "assistant", "content": [block, {"type": "text", "text": text.upper()}]}

    out = anthropic_to_openai(_a([{"role": "user", "content": "q"}, turn("a"), turn("b")]), DEEPSEEK, sealer=SEALER)
    assert out["messages"][1] == {"role": "assistant", "content": "AB", "reasoning_content": "ab"}


def test_reasoning_content_from_an_openai_client_is_not_sent_to_anthropic() -> None:
    body = _o(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning_content": "r"},
            {"role": "user", "content": "q2"},
        ]
    )
    assert "reasoning_content" not in json.dumps(openai_to_anthropic(body, CLAUDE))


def test_claude_codes_request_passes_through_to_anthropic_with_its_anthropic_only_fields() -> None:
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 32000,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": []},
        "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]}
        ],
        "unknown_future_field": 1,
    }
    out = shape_anthropic(body, CLAUDE)
    assert out["thinking"] == {"type": "adaptive"} and out["output_config"] == {"effort": "high"}
    assert out["context_management"] == {"edits": []} and out["system"] == body["system"]
    assert out["messages"] == body["messages"] and "unknown_future_field" not in out


# -- replay hooks: Gemini thought signatures, Anthropic signed thinking for OpenAI clients ----------------------------

GEMINI = Target("openai", "google-ai-studio", "gemini-3-pro", supports_reasoning=True)


def _tool_turns(*ids: str) -> list[dict[str, Any]]:
    calls = [{"type": "tool_use", "id": i, "name": "ls", "input": {}} for i in ids]
    results = [{"type": "tool_result", "tool_use_id": i, "content": "ok"} for i in ids]
    return [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": results},
    ]


def test_stored_gemini_thought_signatures_go_back_on_their_tool_calls() -> None:
    out = anthropic_to_openai(_a(_tool_turns("fc-1", "fc-2")), GEMINI, thought_signatures={"fc-2": "CsY"})
    calls = out["messages"][1]["tool_calls"]
    assert "extra_content" not in calls[0]
    assert calls[1]["extra_content"] == {"google": {"thought_signature": "CsY"}}


def test_gemini_tool_calls_without_a_known_signature_get_the_documented_placeholder() -> None:
    calls = anthropic_to_openai(_a(_tool_turns("toolu_a", "toolu_b")), GEMINI)["messages"][1]["tool_calls"]
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "skip_thought_signature_validator"}}
    assert "extra_content" not in calls[1]
    other = anthropic_to_openai(_a(_tool_turns("x")), OPENAI, thought_signatures={"x": "CsY"})
    assert "extra_content" not in other["messages"][1]["tool_calls"][0]


def _openai_tool_loop() -> dict[str, Any]:
    call = {"id": "toolu_9", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    return _o(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "toolu_9", "content": "sunny"},
        ],
        reasoning_effort="low",
        tools=[{"type": "function", "function": {"name": "weather"}}],
    )


def test_stored_signed_thinking_is_restored_for_an_anthropic_tool_loop() -> None:
    blocks = {"toolu_9": [{"type": "thinking", "thinking": "Need weather.", "signature": "EqQB"}]}
    out = openai_to_anthropic(_openai_tool_loop(), CLAUDE, thinking_blocks=blocks)
    assert out["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Need weather.", "signature": "EqQB"}
    assert out["thinking"]["type"] == "enabled"


def test_without_the_stored_thinking_the_tool_loop_continues_without_thinking() -> None:
    out = openai_to_anthropic(_openai_tool_loop(), CLAUDE, thinking_blocks={"other": []})
    assert "thinking" not in out and out["messages"][1]["content"][0]["type"] == "tool_use"
    plain = openai_to_anthropic(_o([{"role": "user", "content": "hi"}], reasoning_effort="low"), CLAUDE)
    assert plain["thinking"]["type"] == "enabled"
    already = _openai_tool_loop()
    blocks = {"toolu_9": [{"type": "redacted_thinking", "data": "x"}]}
    out = openai_to_anthropic(already, CLAUDE, thinking_blocks=blocks)
    assert out["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": "x"}


def test_openrouter_replay_without_a_secret_reads_the_marker_and_skips_blocks_without_items() -> None:
    router = Target("openai", "openrouter", "anthropic/claude-sonnet-4.5", supports_reasoning=True)
    items = [{"type": "reasoning.text", "text": "t", "signature": "Er", "index": 0}]
    with_items = anthropic_to_openai(_a(_turn_with_thinking(marker("openrouter", items), "t")), router)
    assert with_items["messages"][1]["reasoning_details"] == items
    without = anthropic_to_openai(_a(_turn_with_thinking(marker("openrouter"), "t")), router)
    assert "reasoning_details" not in without["messages"][1]


def test_reasoning_models_lose_the_sampling_fields_they_reject_and_openai_takes_four_stops() -> None:
    body = _a([], temperature=0.2, top_p=0.9, stop_sequences=["a", "b", "c", "d", "e"], presence_penalty=1)
    reasoning = anthropic_to_openai(body, OPENAI)
    assert not {"temperature", "top_p", "stop"} & set(reasoning)
    assert anthropic_to_openai(body, Target("openai", "openai", "gpt-4o"))["stop"] == ["a", "b", "c", "d"]
    assert len(anthropic_to_openai(body, GROQ)["stop"]) == 5


def test_an_allowed_tools_choice_becomes_auto_for_anthropic() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    assert openai_to_anthropic(_o([], tools=tools, tool_choice=choice), CLAUDE)["tool_choice"] == {"type": "auto"}


# -- DeepSeek reasoning the client dropped ---------------------------------------------------------------------------

_DROPPED = {
    "model": "m",
    "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ],
    "reasoning_effort": "high",
}


def test_remembered_deepseek_reasoning_is_restored_on_the_tool_call_turn():
    out = shape_openai(_DROPPED, DEEPSEEK, reasoning={"c1": ("deepseek", "Use the tool.")})
    assert out["messages"][1]["reasoning_content"] == "Use the tool."
    assert "thinking" not in out


@pytest.mark.parametrize("remembered", [{}, {"c1": ("openrouter", "Someone else's.")}], ids=["expired", "elsewhere"])
def test_deepseek_reasoning_that_cannot_be_restored_turns_thinking_off(remembered):
    out = shape_openai(_DROPPED, DEEPSEEK, reasoning=remembered)
    assert out["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in out and "reasoning_content" not in out["messages"][1]


def test_other_targets_never_get_reasoning_restored_or_thinking_switched():
    out = shape_openai(_DROPPED, OPENAI, reasoning={"c1": ("deepseek", "x")})
    assert "reasoning_content" not in out["messages"][1] and "thinking" not in out
