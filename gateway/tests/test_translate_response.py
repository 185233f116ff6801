"""Non-streaming responses both ways; the model field echoes the requested model."""

from __future__ import annotations

from gateway.translate.answer import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    anthropic_to_openai_response,
    merge_details,
    openai_to_anthropic_response,
    stop_reason_for,
    thinking_blocks_of,
    thought_signatures_of,
    tool_input,
)
from gateway.translate.reasoning import Sealer, unsealed
from gateway.translate.stream import AnthropicToOpenAI, OpenAIToAnthropic
from gateway.usage import from_anthropic, from_openai

SEALER = Sealer(b"k")

DEEPSEEK_RESPONSE = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "model": "deepseek-v4-pro",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking.",
                "reasoning_content": "Need the weather.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    },
                    {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}},
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 120, "completion_tokens": 40, "prompt_cache_hit_tokens": 100},
}


def test_an_openai_answer_becomes_thinking_text_and_tool_use_blocks() -> None:
    out = openai_to_anthropic_response(DEEPSEEK_RESPONSE, "claude-opus-4-8", provider="deepseek", sealer=SEALER)
    assert out["id"] == "msg_abc" and out["model"] == "claude-opus-4-8" and out["type"] == "message"
    assert out["content"] == [
        {
            "type": "thinking",
            "thinking": "Need the weather.",
            "signature": SEALER.seal("deepseek", "Need the weather."),
        },
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
    ]
    assert (out["stop_reason"], out["stop_sequence"]) == ("tool_use", None)
    assert out["usage"] == {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "output_tokens": 40,
    }


def test_an_empty_openai_answer_has_no_content_and_unsealed_thinking_without_a_secret() -> None:
    out = openai_to_anthropic_response({"choices": [{"message": {"content": None}, "finish_reason": "length"}]}, "m")
    assert (out["content"], out["stop_reason"], out["id"]) == ([], "max_tokens", "msg_qlaud")
    reasoning = {"choices": [{"message": {"reasoning": "r"}, "finish_reason": "stop"}]}
    assert openai_to_anthropic_response(reasoning, "m", provider="groq")["content"][0]["signature"] == unsealed("groq")
    assert openai_to_anthropic_response({}, "m")["content"] == []


def test_streamed_and_non_streamed_answers_bill_the_same_usage() -> None:
    translator = OpenAIToAnthropic("m", "msg_1")
    translator.feed(
        {"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}], "usage": DEEPSEEK_RESPONSE["usage"]}
    )
    translator.finish()
    assert translator.usage == from_openai(DEEPSEEK_RESPONSE["usage"])
    assert from_anthropic(openai_to_anthropic_response(DEEPSEEK_RESPONSE, "m")["usage"]) == translator.usage


CLAUDE_RESPONSE = {
    "id": "msg_01X",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Plan.", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "xx"},
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"é": 1}},
        "junk",
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 2, "output_tokens": 7},
}


def test_an_anthropic_answer_becomes_a_chat_completion() -> None:
    out = anthropic_to_openai_response(CLAUDE_RESPONSE, "gpt-x", created=123)
    assert (out["id"], out["model"], out["created"], out["object"]) == ("chatcmpl-01X", "gpt-x", 123, "chat.completion")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Sure.",
        "refusal": None,
        "reasoning_content": "Plan.",
        "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"é":1}'}}],
    }
    assert out["usage"]["prompt_tokens"] == 17 and out["usage"]["prompt_tokens_details"]["cached_tokens"] == 10


def test_an_empty_anthropic_answer_has_null_content_and_a_current_timestamp() -> None:
    out = anthropic_to_openai_response({"content": [], "stop_reason": "max_tokens"}, "gpt-x")
    assert out["choices"][0]["message"]["content"] is None and out["choices"][0]["finish_reason"] == "length"
    assert out["created"] > 1_700_000_000 and out["id"] == "chatcmpl-qlaud"


def test_anthropic_streamed_and_non_streamed_usage_agree() -> None:
    translator = AnthropicToOpenAI("m", "c", 1, include_usage=True)
    usage = CLAUDE_RESPONSE["usage"]
    translator.feed("message_start", {"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}})
    translator.feed(
        "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}
    )
    assert translator.usage == from_anthropic(usage)


def test_stop_reason_maps_cover_both_directions() -> None:
    assert STOP_TO_FINISH["max_tokens"] == "length" and FINISH_TO_STOP["model_length"] == "max_tokens"
    assert stop_reason_for("stop", saw_tool=True) == "tool_use"
    assert stop_reason_for(None, saw_tool=False) == "end_turn"
    assert stop_reason_for("content_filter", saw_tool=True) == "refusal"
    assert stop_reason_for("weird", saw_tool=False) == "end_turn"


def test_tool_input_is_always_an_object() -> None:
    assert tool_input({"a": 1}) == {"a": 1}
    assert tool_input("") == {} and tool_input("nope") == {} and tool_input(None) == {}
    assert tool_input("[1, 2]") == {"value": [1, 2]}


def test_inline_think_in_a_whole_answer_becomes_a_thinking_block() -> None:
    resp = {"choices": [{"message": {"content": "<think>hm</think>\n\nYes."}, "finish_reason": "stop"}]}
    out = openai_to_anthropic_response(resp, "m", provider="workers-ai", sealer=SEALER)
    assert out["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": SEALER.seal("workers-ai", "hm")},
        {"type": "text", "text": "Yes."},
    ]
    assert openai_to_anthropic_response(resp, "m", provider="groq")["content"][0]["type"] == "text"
    assert (
        openai_to_anthropic_response(resp, "m", provider="groq", inline_think=True)["content"][0]["type"] == "thinking"
    )


def test_replay_hooks_collect_gemini_signatures_and_signed_anthropic_thinking() -> None:
    gemini = {
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {
                            "id": "fc-1",
                            "function": {"name": "ls"},
                            "extra_content": {"google": {"thought_signature": "CsY"}},
                        },
                        {"id": "fc-2", "function": {"name": "ls"}, "extra_content": {"google": "odd"}},
                        "junk",
                    ]
                }
            }
        ]
    }
    assert thought_signatures_of(gemini) == {"fc-1": "CsY"}
    assert thinking_blocks_of(CLAUDE_RESPONSE) == {
        "toolu_1": [
            {"type": "thinking", "thinking": "Plan.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "xx"},
        ]
    }
    unsigned = {
        "content": [{"type": "thinking", "thinking": "t", "signature": "qlaud.v1.x."}, {"type": "tool_use", "id": "t"}]
    }
    assert thinking_blocks_of(unsigned) == {}


def test_streamed_reasoning_detail_fragments_fold_into_whole_items() -> None:
    items: list = []
    merge_details(
        items,
        [{"type": "reasoning.text", "text": "a", "index": 0}, "junk", {"type": "reasoning.summary", "summary": "s"}],
    )
    merge_details(items, [{"text": "b", "signature": "S", "index": 0}])
    merge_details(items, "not a list")
    assert items == [
        {"type": "reasoning.text", "text": "ab", "index": 0, "signature": "S"},
        {"type": "reasoning.summary", "summary": "s"},
    ]
    resp = {
        "choices": [
            {"message": {"content": "x", "reasoning_details": [{"type": "reasoning.summary", "summary": "sum"}]}}
        ]
    }
    assert openai_to_anthropic_response(resp, "m", provider="openrouter")["content"][0]["thinking"] == "sum"
