"""Stream translation replayed from recorded-shape fixtures, split at every byte, read back by the real SDKs."""

from __future__ import annotations

import anthropic
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.tests.translation_helpers import (
    SEALER,
    anthropic_final_message,
    as_events,
    expected,
    fixture_names,
    openai_final_completion,
    read,
    translate,
    two_piece_splits,
)
from gateway.translate.reasoning import Sealer
from gateway.translate.request import Target, anthropic_to_openai

O2A = fixture_names(["openai", "deepseek", "groq", "openrouter", "workers-ai"])
A2O = fixture_names(["anthropic"])
ALL = O2A + A2O


@pytest.mark.parametrize("name", ALL)
def test_it_translates_each_fixture_to_its_expected_events(name: str) -> None:
    assert as_events(translate(name, [read(name)])) == expected(name)


@pytest.mark.parametrize("name", ALL)
def test_it_gives_identical_output_when_the_upstream_bytes_are_split_at_any_offset(name: str) -> None:
    data = read(name)
    whole = translate(name, [data])
    for head, tail in two_piece_splits(data):
        assert translate(name, [head, tail]) == whole, f"split at {len(head)}"


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=25))
def test_it_gives_identical_output_for_random_multi_piece_splits(name: str, cuts: list[int]) -> None:
    data = read(name)
    bounds = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    assert translate(name, pieces) == translate(name, [data])


def _blocks(message: anthropic.types.Message) -> list[dict]:
    return [block.model_dump(exclude_none=True) for block in message.content]


def _thinking(text: str, provider: str, details: list | None = None) -> dict:
    return {"type": "thinking", "thinking": text, "signature": SEALER.seal(provider, text, details)}


ROUTER_SIGNED = [
    {
        "type": "reasoning.text",
        "text": "Let me think more.",
        "format": "anthropic-claude-v1",
        "index": 0,
        "signature": "ErUBsignature",
    }
]
ROUTER_ENCRYPTED = [
    {"type": "reasoning.encrypted", "data": "gAAAABXyZ==", "id": "rs_1", "format": "openai-responses-v1", "index": 0}
]


ANTHROPIC_FINALS = {
    "openai_text": ([{"type": "text", "text": "Hello, world."}], "end_turn", (20, 0, 0, 5)),
    "openai_tool_call": (
        [{"type": "tool_use", "id": "call_W1", "name": "get_weather", "input": {"city": "Paris"}}],
        "tool_use",
        (16, 64, 0, 17),
    ),
    "openai_parallel_tools": (
        [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "call_A", "name": "weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_B", "name": "weather", "input": {"city": "Rome"}},
        ],
        "tool_use",
        (16, 64, 0, 40),
    ),
    "openai_max_tokens": ([{"type": "text", "text": "Once upon a time"}], "max_tokens", (9, 0, 0, 4)),
    "openai_usage_missing": ([{"type": "text", "text": "No usage here."}], "end_turn", (7, 0, 0, 0)),
    "openai_empty_tool_args": (
        [{"type": "tool_use", "id": "call_E", "name": "list_files", "input": {}}],
        "tool_use",
        (30, 0, 0, 7),
    ),
    "openai_unicode": (
        [
            {"type": "text", "text": "Grüße 👋🏽 世界, ça va? ∑"},
            {"type": "tool_use", "id": "call_U", "name": "translate", "input": {"text": "日本語 🎌"}},
        ],
        "tool_use",
        (12, 0, 0, 11),
    ),
    "deepseek_reasoning_tool": (
        [
            _thinking("The user wants the weather; call the tool.", "deepseek"),
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_00_ds", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "tool_use",
        (56, 64, 0, 40),
    ),
    "groq_reasoning": (
        [_thinking("Two plus two is four.", "groq"), {"type": "text", "text": "4"}],
        "end_turn",
        (15, 0, 0, 12),
    ),
    "workers-ai_inline_think": (
        [
            _thinking("\nSeven is prime because <b> is not a tag.\n", "workers-ai"),
            {"type": "text", "text": "Yes, 7 is prime."},
        ],
        "end_turn",
        (11, 0, 0, 25),
    ),
    "openrouter_reasoning_details": (
        [_thinking("Let me think more.", "openrouter", ROUTER_SIGNED), {"type": "text", "text": "Answer."}],
        "end_turn",
        (30, 0, 0, 12),
    ),
    "openrouter_encrypted_reasoning": (
        [_thinking("", "openrouter", ROUTER_ENCRYPTED), {"type": "text", "text": "Done."}],
        "end_turn",
        (20, 0, 0, 50),
    ),
    "openrouter_gemini_tools": (
        [
            _thinking("Listing two dirs.", "openrouter"),
            {"type": "tool_use", "id": "function-call-1", "name": "ls", "input": {"path": "/"}},
            {"type": "tool_use", "id": "function-call-2", "name": "ls", "input": {"path": "/tmp"}},
        ],
        "tool_use",
        (50, 0, 0, 20),
    ),
}


@pytest.mark.parametrize("name", sorted(ANTHROPIC_FINALS))
def test_the_anthropic_sdk_rebuilds_the_exact_final_message(name: str) -> None:
    blocks, stop_reason, (uncached, cache_read, cache_write, output) = ANTHROPIC_FINALS[name]
    message = anthropic_final_message(translate(name, [read(name)]))
    assert _blocks(message) == blocks
    assert message.stop_reason == stop_reason
    assert message.model == "claude-test"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (
        uncached,
        cache_read,
        cache_write,
    )
    assert usage.output_tokens == output


def test_every_o2a_fixture_has_a_final_message_expectation_or_is_an_error_case() -> None:
    assert set(O2A) - set(ANTHROPIC_FINALS) == {"openrouter_error"}


def test_the_anthropic_sdk_raises_the_mid_stream_error_after_the_partial_text() -> None:
    body = translate("openrouter_error", [read("openrouter_error")])
    with pytest.raises(anthropic.APIStatusError, match="Provider disconnected"):
        anthropic_final_message(body)


def test_thinking_signatures_verify_for_the_provider_and_text_they_were_made_for() -> None:
    message = anthropic_final_message(translate("deepseek_reasoning_tool", [read("deepseek_reasoning_tool")]))
    block = message.content[0]
    assert SEALER.open(block.signature, block.thinking) == "deepseek"
    assert SEALER.open(block.signature, block.thinking + " tampered") is None
    assert Sealer(b"another key").open(block.signature, block.thinking) is None


OPENAI_FINALS = {
    "anthropic_text": ({"content": "Hello there."}, "stop", (25, 0, 6)),
    "anthropic_thinking_tool": (
        {
            "content": "One sec.",
            "reasoning_content": "Need weather.",
            "tool_calls": [("toolu_9", "weather", '{"city":"Oslo"}')],
        },
        "tool_calls",
        (170, 100, 31),
    ),
    "anthropic_parallel_tools": (
        {
            "content": None,
            "tool_calls": [
                ("toolu_A", "weather", '{"city": "Oslo"}'),
                ("toolu_B", "weather", '{"city": "Rome"}'),
                ("toolu_C", "time", ""),
            ],
        },
        "tool_calls",
        (40, 0, 44),
    ),
    "anthropic_unicode": (
        {"content": "Ünïcödé 🧪 漢字 — ok", "tool_calls": [("toolu_U", "say", '{"words": "こんにちは 🌸"}')]},
        "tool_calls",
        (12, 0, 20),
    ),
}


@pytest.mark.parametrize("name", sorted(OPENAI_FINALS))
def test_the_openai_sdk_rebuilds_the_exact_final_message(name: str) -> None:
    want, finish_reason, (prompt, cached, completion) = OPENAI_FINALS[name]
    completion_obj = openai_final_completion(translate(name, [read(name)]))
    choice = completion_obj.choices[0]
    assert choice.finish_reason == finish_reason
    assert (choice.message.content or None) == want["content"]
    assert getattr(choice.message, "reasoning_content", None) == want.get("reasoning_content")
    calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()]
    assert calls == want.get("tool_calls", [])
    assert completion_obj.model == "gpt-test"
    usage = completion_obj.usage
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens, usage.completion_tokens) == (
        prompt,
        cached,
        completion,
    )


def test_the_openai_sdk_sees_a_length_finish_with_the_partial_text() -> None:
    body = translate("anthropic_max_tokens", [read("anthropic_max_tokens")])
    with pytest.raises(openai.LengthFinishReasonError) as caught:
        openai_final_completion(body)
    assert caught.value.completion.choices[0].message.content == "Once upon a"


@pytest.mark.parametrize("name", ["anthropic_error", "anthropic_usage_missing"])
def test_the_openai_sdk_raises_when_the_upstream_failed_mid_stream(name: str) -> None:
    body = translate(name, [read(name)])
    assert not body.endswith(b"data: [DONE]\n\n")
    with pytest.raises(openai.APIError):
        openai_final_completion(body)


def _replayed(name: str, target: Target) -> dict:
    """The client's next request, with the answer it got from ``name`` in its history, as sent upstream."""
    message = anthropic_final_message(translate(name, [read(name)]))
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": _blocks(message)},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": "ok"}
                for b in message.content
                if b.type == "tool_use"
            ]
            or "go on",
        },
    ]
    return anthropic_to_openai({"max_tokens": 100, "messages": history}, target, sealer=SEALER)


def test_deepseek_thinking_round_trips_through_an_anthropic_client_as_reasoning_content() -> None:
    out = _replayed("deepseek_reasoning_tool", Target("openai", "deepseek", "deepseek-v4-pro", supports_reasoning=True))
    assert out["messages"][1]["reasoning_content"] == "The user wants the weather; call the tool."
    assert out["messages"][1]["tool_calls"][0]["id"] == "call_00_ds"


@pytest.mark.parametrize(
    ("name", "details"),
    [("openrouter_reasoning_details", ROUTER_SIGNED), ("openrouter_encrypted_reasoning", ROUTER_ENCRYPTED)],
)
def test_openrouter_reasoning_details_round_trip_verbatim(name: str, details: list) -> None:
    out = _replayed(name, Target("openai", "openrouter", "anthropic/claude-sonnet-4.5", supports_reasoning=True))
    assert out["messages"][1]["reasoning_details"] == details


def test_reasoning_from_one_provider_is_not_replayed_to_another() -> None:
    out = _replayed("openrouter_reasoning_details", Target("openai", "deepseek", "deepseek-v4-pro"))
    assert "reasoning_content" not in out["messages"][1] and "reasoning_details" not in out["messages"][1]
