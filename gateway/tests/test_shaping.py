"""The per-target rules table, same-dialect shaping and header forwarding."""

from __future__ import annotations

from gateway.translate.reasoning import Sealer
from gateway.translate.request import Target, shape_anthropic, shape_openai
from gateway.translate.shaping import (
    RULES,
    Rules,
    budget_for_effort,
    effort_for_budget,
    forward_headers,
    mistral_tool_id,
    rules_for,
)

HEADERS = {"Anthropic-Beta": "claude-code-20250219,interleaved-thinking-2025-05-14", "anthropic-version": "2023-06-01"}


def test_every_row_of_the_table_is_a_rules_object_keyed_by_dialect_and_provider() -> None:
    assert all(isinstance(rules, Rules) and dialect in ("openai", "anthropic") for (dialect, _), rules in RULES.items())


def test_unknown_providers_fall_back_to_the_dialect_default() -> None:
    assert rules_for(Target("openai", "newcomer", "m")).stream_usage
    assert rules_for(Target("anthropic", "newcomer", "m")).anthropic_headers


def test_anthropic_headers_go_to_the_anthropic_family_only() -> None:
    for provider in ("anthropic", "bedrock", "vertex"):
        assert forward_headers(Target("anthropic", provider, "m"), HEADERS) == {
            "anthropic-beta": HEADERS["Anthropic-Beta"],
            "anthropic-version": "2023-06-01",
        }
    assert forward_headers(Target("anthropic", "deepseek", "m"), HEADERS) == {}
    assert forward_headers(Target("openai", "groq", "m"), HEADERS) == {}
    assert forward_headers(Target("anthropic", "anthropic", "m"), {"anthropic-beta": ""}) == {}


def test_effort_and_budget_convention() -> None:
    assert [effort_for_budget(b) for b in (1024, 1025, 8192, 8193)] == ["low", "medium", "medium", "high"]
    assert [budget_for_effort(e) for e in ("low", "medium", "high", "xhigh")] == [1024, 8192, 24576, 24576]


def test_mistral_tool_ids_are_nine_alphanumerics_and_deterministic() -> None:
    ids = {mistral_tool_id(f"toolu_{n}") for n in range(200)}
    assert len(ids) == 200 and all(len(i) == 9 and i.isalnum() for i in ids)
    assert mistral_tool_id("call_x") == mistral_tool_id("call_x")


def test_openai_pass_through_renames_the_model_and_drops_what_the_target_rejects() -> None:
    body = {
        "model": "my-alias",
        "messages": [
            {"role": "developer", "content": "D", "name": "n"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "r",
                "reasoning": "r",
                "tool_calls": [{"id": "call_a"}],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "x"},
        ],
        "max_completion_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": False},
        "seed": 7,
        "user": "u",
        "store": True,
        "logit_bias": {},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"$schema": "s", "type": "object"}}}],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "reasoning_effort": "medium",
    }
    mistral = shape_openai(body, Target("openai", "mistral", "mistral-large-latest"))
    assert mistral["model"] == "mistral-large-latest" and mistral["max_tokens"] == 50 and mistral["random_seed"] == 7
    assert not {"stream_options", "user", "store", "logit_bias", "seed", "max_completion_tokens"} & set(mistral)
    assert mistral["messages"][0] == {"role": "system", "content": "D"}
    assert "reasoning_content" not in mistral["messages"][1]
    assert (
        mistral["messages"][1]["tool_calls"][0]["id"]
        == mistral["messages"][2]["tool_call_id"]
        == mistral_tool_id("call_a")
    )
    assert mistral["tools"][0]["function"]["parameters"] == {"type": "object"}
    assert "reasoning_effort" not in mistral  # not a reasoning target

    cerebras = shape_openai(body, Target("openai", "cerebras", "gpt-oss-120b", supports_reasoning=True))
    assert cerebras["tool_choice"] == "auto" and "parallel_tool_calls" not in cerebras
    assert cerebras["stream_options"] == {"include_usage": True} and cerebras["reasoning_effort"] == "medium"

    openai = shape_openai(body, Target("openai", "openai", "gpt-5", supports_reasoning=True))
    assert openai["messages"][0]["role"] == "developer" and openai["max_completion_tokens"] == 50
    assert openai["store"] is True and openai["tool_choice"] == "required"

    deepseek = shape_openai(body, Target("openai", "deepseek", "deepseek-v4-pro", supports_reasoning=True))
    assert deepseek["messages"][1]["reasoning_content"] == "r" and "reasoning" not in deepseek["messages"][1]
    assert deepseek["reasoning_effort"] == "high"


def test_openai_pass_through_without_tools_drops_tool_choice() -> None:
    out = shape_openai(
        {"model": "a", "messages": [], "tool_choice": "auto", "parallel_tool_calls": True, "tools": []},
        Target("openai", "groq", "m"),
    )
    assert set(out) == {"model", "messages"}
    odd = {"model": "a", "messages": [], "tools": [{"type": "function", "function": {"name": "f"}}, {"type": "custom"}]}
    assert shape_openai(odd, Target("openai", "groq", "m"))["tools"] == odd["tools"]


def _history(signature: str, text: str = "t") -> list[dict]:
    return [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": text, "signature": signature}]},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "", "signature": ""}, {"type": "text", "text": "a"}],
        },
    ]


def test_anthropic_pass_through_keeps_real_signatures_and_strips_qlaud_ones() -> None:
    target = Target("anthropic", "anthropic", "claude-sonnet-4-5", max_output_tokens=100, supports_reasoning=True)
    signed = shape_anthropic({"model": "x", "max_tokens": 500, "messages": _history("EqQBreal"), "junk": 1}, target)
    assert signed["messages"][1]["content"][0]["signature"] == "EqQBreal"
    assert signed["messages"][2]["content"] == [{"type": "text", "text": "a"}]
    assert signed["max_tokens"] == 100 and signed["model"] == "claude-sonnet-4-5" and "junk" not in signed
    ours = shape_anthropic({"model": "x", "messages": _history(Sealer(b"k").seal("deepseek", "t"))}, target)
    assert [m["role"] for m in ours["messages"]] == ["user", "assistant"]


def test_anthropic_pass_through_signature_only_blocks_with_empty_text_survive() -> None:
    target = Target("anthropic", "bedrock", "anthropic.claude", supports_reasoning=True)
    out = shape_anthropic({"model": "x", "messages": _history("EqQBsig", text="")}, target)
    assert out["messages"][1]["content"] == [{"type": "thinking", "thinking": "", "signature": "EqQBsig"}]


def test_system_messages_inside_messages_are_hoisted_except_for_anthropic_itself() -> None:
    body = {
        "model": "x",
        "system": "S",
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "top_k": 3,
        "messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "mid"}],
    }
    native = shape_anthropic(body, Target("anthropic", "anthropic", "c"))
    assert native["messages"][1]["role"] == "system" and "thinking" not in native and native["top_k"] == 3
    bedrock = shape_anthropic(body, Target("anthropic", "bedrock", "c", supports_reasoning=True))
    assert bedrock["system"] == [{"type": "text", "text": "S"}, {"type": "text", "text": "mid"}]
    assert [m["role"] for m in bedrock["messages"]] == ["user"] and bedrock["thinking"]["budget_tokens"] == 2000
    plain = shape_anthropic(
        {"model": "x", "messages": [{"role": "user", "content": "q"}]}, Target("anthropic", "vertex", "c")
    )
    assert "system" not in plain


def test_deepseeks_anthropic_endpoint_keeps_foreign_thinking_and_top_k() -> None:
    target = Target("anthropic", "deepseek", "deepseek-v4-pro", supports_reasoning=True)
    out = shape_anthropic({"model": "x", "top_k": 2, "messages": _history("qlaud.v1.x.y")}, target)
    assert out["messages"][1]["content"][0]["signature"] == "qlaud.v1.x.y"
    assert out["top_k"] == 2


def test_vertex_does_not_get_image_detail() -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": "gs://b/x.png", "detail": "high"}},
        {"type": "image_url", "image_url": "https://x/y.png"},
        {"type": "image_url", "image_url": {"url": "https://x/z.png"}},
        {"type": "text", "text": "?"},
    ]
    body = {"model": "a", "messages": [{"role": "user", "content": parts}, {"role": "user", "content": "plain"}]}
    vertex = shape_openai(body, Target("openai", "vertex", "google/gemini-2.5-flash"))
    assert vertex["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "gs://b/x.png"}},
        *parts[1:],
    ]
    assert shape_openai(body, Target("openai", "openai", "gpt-4o"))["messages"][0]["content"] == parts
