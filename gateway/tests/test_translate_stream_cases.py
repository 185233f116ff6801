"""Stream translator edge cases that recorded fixtures do not reach, and the pass-through usage meters."""

from __future__ import annotations

from typing import Any

from gateway.translate.reasoning import unsealed
from gateway.translate.stream import (
    AnthropicToOpenAI,
    AnthropicUsageMeter,
    OpenAIToAnthropic,
    OpenAIUsageMeter,
    error_type_for,
)
from gateway.usage import Usage

SAID = "The upstream provider reported an error during the stream (type "  # qlaud's words around provider text


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def _call(index: int | None, arguments: str, id: str | None = None, name: str | None = None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"function": {"arguments": arguments}}
    if index is not None:
        fragment["index"] = index
    if id:
        fragment["id"] = id
    if name:
        fragment["function"]["name"] = name
    return fragment


def _run(translator: OpenAIToAnthropic, *chunks: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [event for chunk in chunks for event in translator.feed(chunk)]
    return out + translator.finish()


def _names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in events]


def test_interleaved_parallel_tool_fragments_fall_back_to_buffered_tools() -> None:
    t = OpenAIToAnthropic("m", "msg_1")
    events = _run(
        t,
        _chunk({"tool_calls": [_call(0, '{"a":', "call_A", "f")]}),
        _chunk({"tool_calls": [_call(1, '{"b":', "call_B", "g")]}),
        _chunk({"tool_calls": [_call(0, "1}")]}),  # call_A's block is closed: cannot reopen
        _chunk({"tool_calls": [_call(2, '{"c":3}', "call_C", "h")]}),  # held back until finish
        _chunk({"tool_calls": [_call(1, "2}")]}),
        _chunk(finish="tool_calls"),
    )
    starts = [p["content_block"] for n, p in events if n == "content_block_start"]
    assert [(b["id"], p) for b, p in zip(starts, range(3), strict=True)] == [
        ("call_A", 0),
        ("call_B", 1),
        ("call_C", 2),
    ]
    deltas = [(p["index"], p["delta"]["partial_json"]) for n, p in events if n == "content_block_delta"]
    assert deltas == [(0, '{"a":'), (1, '{"b":'), (1, "2}"), (2, '{"c":3}')]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_a_stream_that_ends_before_any_chunk_is_an_error_that_was_not_delivered() -> None:
    t = OpenAIToAnthropic("m", "msg_1")
    assert _names(t.finish()) == ["error"]
    assert not t.delivered and t.error == ("api_error", "upstream closed the stream before finishing")
    assert t.feed(_chunk({"content": "late"})) == [] and t.finish() == [] and t.fail("x", "y") == []


def test_an_error_in_the_first_chunk_is_reported_before_message_start() -> None:
    t = OpenAIToAnthropic("m", "msg_1")
    events = t.feed({"error": {"code": 429, "message": "slow down"}})
    said = f"{SAID}rate_limit_error, code 429): slow down"
    assert events == [("error", {"type": "error", "error": {"type": "rate_limit_error", "message": said}})]
    assert not t.delivered


def test_a_string_error_and_an_error_without_message_map_to_api_error() -> None:
    assert OpenAIToAnthropic("m", "i").feed({"error": "boom"})[0][1]["error"] == {
        "type": "api_error",
        "message": f"{SAID}api_error): boom",
    }
    event = OpenAIToAnthropic("m", "i").feed({"error": {"status": "overloaded"}})[0][1]["error"]
    assert event == {"type": "api_error", "message": f"{SAID}api_error, code overloaded)."}


def test_provider_error_finish_reasons_become_errors_only_when_nothing_was_produced() -> None:
    empty = OpenAIToAnthropic("m", "i")
    assert (
        _names(_run(empty, _chunk({"role": "assistant"}), _chunk(finish="insufficient_system_resource")))[-1] == "error"
    )
    assert empty.error[0] == "overloaded_error"
    partial = _run(OpenAIToAnthropic("m", "i"), _chunk({"content": "hi"}), _chunk(finish="error"))
    assert partial[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_content_without_a_finish_reason_ends_as_end_turn() -> None:
    events = _run(OpenAIToAnthropic("m", "i"), _chunk({"content": "cut"}))
    assert _names(events)[-2:] == ["message_delta", "message_stop"]
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_an_empty_answer_with_a_finish_reason_is_a_valid_empty_message() -> None:
    events = _run(OpenAIToAnthropic("m", "i"), _chunk({"role": "assistant", "content": ""}, "stop"))
    assert _names(events) == ["message_start", "message_delta", "message_stop"]


def test_the_gateway_estimate_is_reported_only_when_the_upstream_sent_no_usage() -> None:
    t = OpenAIToAnthropic("m", "i")
    t.feed(_chunk({"content": "x"}, "stop"))
    events = t.finish(estimate=Usage(input=12, output=3))
    assert events[-2][1]["usage"]["input_tokens"] == 12 and not t.usage


def test_mistral_thinking_parts_and_refusals_become_blocks() -> None:
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hm"}, "junk"]},
        {"type": "thinking", "thinking": "more"},
        {"type": "text", "text": "yes"},
        {"type": "thinking", "thinking": []},
        "junk",
    ]
    events = _run(
        OpenAIToAnthropic("m", "i", provider="mistral"), _chunk({"content": content}), _chunk({"refusal": "no"})
    )
    deltas = [p["delta"] for n, p in events if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "hm"},
        {"type": "thinking_delta", "thinking": "more"},
        {"type": "signature_delta", "signature": unsealed("mistral")},
        {"type": "text_delta", "text": "yes"},
        {"type": "text_delta", "text": "no"},
    ]


def test_tool_fragments_without_index_or_id_continue_the_open_call_and_object_arguments_are_serialised() -> None:
    t = OpenAIToAnthropic("m", "msg_x")
    events = _run(
        t,
        _chunk({"tool_calls": [{"function": {"name": "f", "arguments": {"k": 1}}}]}),
        _chunk({"tool_calls": [{"function": {"arguments": ""}}, {"function": {}}]}),
        _chunk({"tool_calls": []}, "tool_calls"),
    )
    start = events[1][1]["content_block"]
    assert start == {"type": "tool_use", "id": "toolu_x_0", "name": "f", "input": {}}
    assert [p["delta"]["partial_json"] for n, p in events if n == "content_block_delta"] == ['{"k":1}']


def test_a_text_chunk_between_fragments_of_one_call_switches_to_buffered_mode() -> None:
    t = OpenAIToAnthropic("m", "i")
    events = _run(
        t,
        _chunk({"tool_calls": [_call(0, "{", "c0", "f")]}),
        _chunk({"content": "note"}),
        _chunk({"tool_calls": [_call(0, "}")]}),
        _chunk({"tool_calls": [_call(1, "", "c1", "g")]}),
        _chunk(finish="tool_calls"),
    )
    tool_starts = [p for n, p in events if n == "content_block_start" and p["content_block"]["type"] == "tool_use"]
    assert [p["index"] for p in tool_starts] == [0, 2]


def test_anthropic_to_openai_tolerates_events_before_message_start_and_unknown_events() -> None:
    t = AnthropicToOpenAI("m", "c", 1, include_usage=False)
    first = t.feed(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "pre"}},
    )
    assert [c["choices"][0]["delta"] for c in first] == [{"role": "assistant", "content": ""}, {"content": "pre"}]
    assert "usage" not in first[0]
    assert t.feed("whatever", {}) == [] and t.feed("ping", {"type": "ping"}) == []
    thinking = {"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": "t"}}
    assert t.feed(None, thinking)[0]["choices"][0]["delta"] == {"reasoning_content": "t"}
    skipped = [
        {"type": "content_block_start", "index": 2, "content_block": {"type": "redacted_thinking", "data": "x"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "signature_delta", "signature": "s"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": ""}},
        {"type": "content_block_stop", "index": 1},
    ]
    assert [t.feed(None, event) for event in skipped] == [[], [], [], []]


def test_anthropic_to_openai_finish_after_message_delta_completes_and_errors_are_chunks() -> None:
    t = AnthropicToOpenAI("m", "c", 1, include_usage=True)
    t.feed("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 3}}})
    t.feed(
        "message_delta", {"type": "message_delta", "delta": {"stop_reason": "refusal"}, "usage": {"output_tokens": 2}}
    )
    out = t.finish()
    assert out[0]["choices"][0]["finish_reason"] == "content_filter" and out[1]["usage"]["total_tokens"] == 5
    assert t.completed and t.finish() == [] and t.feed("ping", {}) == [] and t.fail("a", "b") == []
    failed = AnthropicToOpenAI("m", "c", 1, include_usage=True)
    assert failed.feed("error", {"type": "error", "error": "bad"}) == [
        {"error": {"message": f"{SAID}api_error): bad", "type": "api_error", "param": None, "code": None}}
    ]
    assert not failed.delivered and not failed.completed


def test_error_types_follow_the_upstream_status() -> None:
    assert [error_type_for(c) for c in (400, "401", 529, 502, None, "x")] == [
        "invalid_request_error",
        "authentication_error",
        "overloaded_error",
        "api_error",
        "api_error",
        "api_error",
    ]


def test_the_openai_meter_reads_usage_finish_and_errors_from_any_chunk() -> None:
    meter = OpenAIUsageMeter()
    meter.feed(_chunk({"content": "x"}, usage=None))
    meter.feed(_chunk(finish="stop", x_groq={"usage": {"prompt_tokens": 5, "completion_tokens": 2}}))
    assert meter.usage == Usage(input=5, output=2) and meter.finish_reason == "stop"
    meter.feed({"choices": [], "usage": {"prompt_tokens": 6, "completion_tokens": 2}})
    meter.feed({"error": {"code": 503, "message": "down"}})
    assert meter.usage.input == 6 and meter.error == ("overloaded_error", f"{SAID}overloaded_error, code 503): down")


def test_the_anthropic_meter_reads_cumulative_usage_and_stop_reason() -> None:
    meter = AnthropicUsageMeter()
    meter.feed(
        "message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}}
    )
    meter.feed(None, {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 30}})
    meter.feed("ping", {"type": "ping"})
    meter.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "o"}})
    assert meter.usage == Usage(input=9, output=30)
    assert meter.finish_reason == "end_turn" and meter.error == ("overloaded_error", f"{SAID}overloaded_error): o")


def test_gemini_reusing_index_zero_with_a_new_id_starts_a_new_call() -> None:
    events = _run(
        OpenAIToAnthropic("m", "i"),
        _chunk({"tool_calls": [_call(0, "{}", "fc-1", "ls")]}),
        _chunk({"tool_calls": [_call(0, '{"p":1}', "fc-2", "ls")]}),
        _chunk({"tool_calls": [_call(0, "", "fc-2")]}),
        _chunk(finish="stop"),
    )
    assert [p["content_block"]["id"] for n, p in events if n == "content_block_start"] == ["fc-1", "fc-2"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_fragments_of_a_held_back_call_accumulate_until_finish() -> None:
    events = _run(
        OpenAIToAnthropic("m", "i"),
        _chunk({"tool_calls": [_call(0, "{", "a", "f")]}),
        _chunk({"tool_calls": [_call(1, "{", "b", "g")]}),
        _chunk({"tool_calls": [_call(0, "}")]}),
        _chunk({"tool_calls": [_call(2, '{"x"', "c", "h")]}),
        _chunk({"content": "between"}),
        _chunk({"tool_calls": [_call(2, ":1}")]}),
        _chunk({"tool_calls": [_call(0, "")]}),
        _chunk(finish="tool_calls"),
    )
    held = [p for n, p in events if n == "content_block_delta" and p["index"] == 3]
    assert [p["delta"]["partial_json"] for p in held] == ['{"x":1}']


def test_text_parts_that_are_empty_or_unknown_are_skipped() -> None:
    parts = [{"type": "text", "text": ""}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "ok"}]
    events = _run(OpenAIToAnthropic("m", "i"), _chunk({"content": parts}, "stop"))
    assert [p["delta"] for n, p in events if n == "content_block_delta"] == [{"type": "text_delta", "text": "ok"}]


def test_without_include_usage_no_usage_chunk_or_field_is_sent() -> None:
    t = AnthropicToOpenAI("m", "c", 1, include_usage=False)
    t.feed("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 3}}})
    t.feed(
        "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}
    )
    out = t.feed("message_stop", {"type": "message_stop"})
    assert len(out) == 1 and "usage" not in out[0] and t.completed and t.usage.total == 5


def test_malformed_tool_fragments_are_ignored() -> None:
    events = _run(OpenAIToAnthropic("m", "i"), _chunk({"tool_calls": [None, "x"], "content": "ok"}, "stop"))
    assert [n for n, _ in events].count("content_block_start") == 1


def test_a_held_back_partial_think_tag_is_released_as_text_at_the_end() -> None:
    events = _run(OpenAIToAnthropic("m", "i", inline_think=True), _chunk({"content": "a <thi"}), _chunk(finish="stop"))
    assert [p["delta"]["text"] for n, p in events if n == "content_block_delta"] == ["a ", "<thi"]
    literal = _run(
        OpenAIToAnthropic("m", "i", provider="workers-ai", inline_think=False), _chunk({"content": "<think>x"})
    )
    assert [p["delta"] for n, p in literal if n == "content_block_delta"] == [
        {"type": "text_delta", "text": "<think>x"}
    ]


def test_streams_expose_gemini_signatures_and_anthropic_signed_thinking_for_the_next_turn() -> None:
    t = OpenAIToAnthropic("m", "i")
    call = {
        "id": "fc-1",
        "function": {"name": "ls", "arguments": "{}"},
        "extra_content": {"google": {"thought_signature": "CsY"}},
    }
    _run(t, _chunk({"tool_calls": [call]}), _chunk(finish="stop"))
    assert t.thought_signatures == {"fc-1": "CsY"}

    a = AnthropicToOpenAI("m", "c", 1, include_usage=False)
    for event in (
        {"type": "message_start", "message": {"usage": {}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Need "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "weather."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB"}},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "w"},
        },
    ):
        a.feed(None, event)
    assert a.thinking_blocks == {"toolu_9": [{"type": "thinking", "thinking": "Need weather.", "signature": "EqQB"}]}


def test_a_tool_input_given_whole_in_content_block_start_is_not_lost() -> None:
    t = AnthropicToOpenAI("m", "c", 1, include_usage=False)
    start = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    }
    call = t.feed(None, start)[-1]["choices"][0]["delta"]["tool_calls"][0]
    assert call == {"index": 0, "id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
