"""Upstream streams (Chat and Anthropic dialects) -> Responses events, from recorded-style .sse fixtures.

Every fixture is replayed whole and split at every byte offset; the output must be identical (ids normalised,
because every run mints fresh ones).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.translate.responses.answer import ResponseMeta, Shaping
from gateway.translate.responses.request import ToolNames
from gateway.translate.responses.stream import AnthropicToResponses, ChatToResponses, encode
from gateway.translate.sse import SSEDecoder

FIXTURES = Path(__file__).parent / "fixtures"
TOOLS = ToolNames({"multi_agent_v1__spawn_agent": ("multi_agent_v1", "spawn_agent", "function")})
REQUEST = {"model": "gpt-5-codex", "input": "hi", "store": False, "include": ["reasoning.encrypted_content"]}


def fake_sealer(payload: dict[str, Any]) -> str:
    return "sealed:" + json.dumps(payload, sort_keys=True)


def machine(dialect: str) -> ChatToResponses | AnthropicToResponses:
    meta = ResponseMeta.from_request(REQUEST, response_id="resp_test", created_at=1700000000)
    shaping = Shaping(TOOLS, "deepseek" if dialect == "chat" else "anthropic", fake_sealer)
    return ChatToResponses(meta, shaping) if dialect == "chat" else AnthropicToResponses(meta, shaping)


def replay(name: str, chunks: list[bytes]) -> list[dict[str, Any]]:
    """What the view does with an upstream body: decode SSE, feed the machine, finish at EOF."""
    dialect = name.split("_")[1]
    m = machine(dialect)
    decoder = SSEDecoder()
    events = m.start()
    for chunk in [*chunks, None]:
        for sse in decoder.feed(chunk) if chunk is not None else decoder.flush():
            if sse.data == "[DONE]":
                continue
            data = json.loads(sse.data)
            events += m.feed(data) if dialect == "chat" else m.feed(sse.event or "", data)
    return events + m.finish()


def normalised(events: list[dict[str, Any]]) -> str:
    """Events with generated ids replaced by their first-seen order (rs_1, msg_2, ...)."""
    text = json.dumps(events)
    seen: dict[str, str] = {}
    for token in json.dumps(events).split('"'):
        if token[:3] in ("rs_", "fc_") or token[:4] in ("msg_", "call"):
            if len(token) > 40 and token not in seen:
                seen[token] = f"{token.split('_')[0]}_{len(seen) + 1}"
    for token, short in seen.items():
        text = text.replace(token, short)
    return text


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.sse").read_bytes()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


ALL = sorted(p.stem for p in FIXTURES.glob("responses_*.sse"))


@pytest.mark.parametrize("name", ALL)
def test_every_byte_split_of_a_fixture_gives_the_same_events(name: str) -> None:
    data = fixture(name)
    whole = normalised(replay(name, [data]))
    for offset in range(1, len(data)):
        assert normalised(replay(name, [data[:offset], data[offset:]])) == whole, f"split at byte {offset}"


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=12))
def test_random_splits_give_the_same_events(name: str, cuts: list[int]) -> None:
    data = fixture(name)
    points = sorted({c % len(data) for c in cuts} - {0})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert normalised(replay(name, pieces)) == normalised(replay(name, [data]))


@pytest.mark.parametrize("name", ALL)
def test_sequence_numbers_count_up_from_zero_without_gaps_and_the_stream_starts_with_created(name: str) -> None:
    events = replay(name, [fixture(name)])
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert types(events)[:2] == ["response.created", "response.in_progress"]
    assert types(events)[-1] in ("response.completed", "response.incomplete", "response.failed")


def test_a_chat_text_stream_becomes_one_message_item_with_usage() -> None:
    events = replay("responses_chat_text", [fixture("responses_chat_text")])
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["model"] == "gpt-5-codex" and final["id"] == "resp_test"
    assert final["output"][0]["content"][0]["text"] == "Hi thére ✓"
    assert final["usage"] == {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 22,
    }


def test_a_chat_tool_call_keeps_the_upstream_call_id_and_counts_deepseek_cache_hits() -> None:
    events = replay("responses_chat_tool_call", [fixture("responses_chat_tool_call")])
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"cmd":"ls"}' and done["name"] == "exec_command"
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["call_id"] == "call_00_k3F" and item["status"] == "completed"
    assert events[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] == 896


def test_parallel_chat_calls_stay_open_together_and_a_namespace_comes_back_unflattened() -> None:
    events = replay("responses_chat_parallel_calls", [fixture("responses_chat_parallel_calls")])
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["message", "function_call", "function_call"]
    assert output[1]["arguments"] == '{"city":"Paris"}'
    assert (output[2]["namespace"], output[2]["name"]) == ("multi_agent_v1", "spawn_agent")
    assert output[2]["arguments"] == '{"task":"review"}'
    deltas = [e["output_index"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == [2, 1, 2]  # interleaved fragments, each on its own item


def test_chat_reasoning_then_text_then_a_call_become_three_items_with_a_sealed_blob() -> None:
    events = replay("responses_chat_reasoning_text_call", [fixture("responses_chat_reasoning_text_call")])
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "message", "function_call"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "2+2: add. It is 4."}]
    assert output[0]["encrypted_content"] == fake_sealer({"p": "deepseek", "k": "text", "t": "2+2: add. It is 4."})
    assert "response.reasoning_summary_text.delta" in types(events)
    assert events[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 7


def test_a_chat_length_finish_is_an_incomplete_response() -> None:
    events = replay("responses_chat_max_tokens", [fixture("responses_chat_max_tokens")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Once upon a time"


@pytest.mark.parametrize("name", ["responses_chat_error", "responses_anthropic_error"])
def test_a_mid_stream_error_sends_error_then_failed_and_nothing_after(name: str) -> None:
    events = replay(name, [fixture(name)])
    assert types(events)[-2:] == ["error", "response.failed"]
    error = events[-2]
    assert error["code"] == error["error"]["code"] == "server_error" and error["message"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"


def test_anthropic_text_counts_cache_reads_and_writes_in_input_tokens() -> None:
    events = replay("responses_anthropic_text", [fixture("responses_anthropic_text")])
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello wörld"
    assert final["usage"]["input_tokens"] == 17
    assert final["usage"]["input_tokens_details"] == {"cached_tokens": 5, "cache_write_tokens": 2}
    assert final["usage"]["output_tokens"] == 3 and final["usage"]["total_tokens"] == 20


def test_anthropic_thinking_signature_and_redacted_data_travel_in_the_sealed_blob() -> None:
    events = replay("responses_anthropic_thinking_tool", [fixture("responses_anthropic_thinking_tool")])
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "reasoning", "message", "function_call"]
    assert output[0]["encrypted_content"] == fake_sealer(
        {"p": "anthropic", "k": "thinking", "t": "Need the file list.", "s": "EqQBCkYIARgCSig"}
    )
    assert output[1] == {
        "id": output[1]["id"],
        "type": "reasoning",
        "summary": [],
        "encrypted_content": fake_sealer({"p": "anthropic", "k": "redacted", "d": "EmwKAhgBEgy3va"}),
    }
    assert output[3]["call_id"] == "toolu_01" and json.loads(output[3]["arguments"]) == {"cmd": "ls"}


def test_anthropic_parallel_tool_uses_become_two_function_calls() -> None:
    events = replay("responses_anthropic_parallel_tools", [fixture("responses_anthropic_parallel_tools")])
    output = events[-1]["response"]["output"]
    assert [(i["call_id"], json.loads(i["arguments"])["city"]) for i in output] == [
        ("toolu_a", "Paris"),
        ("toolu_b", "Oslo"),
    ]


def test_an_anthropic_max_tokens_stop_is_an_incomplete_response() -> None:
    events = replay("responses_anthropic_max_tokens", [fixture("responses_anthropic_max_tokens")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_without_include_the_reasoning_item_has_no_encrypted_content() -> None:
    meta = ResponseMeta.from_request(REQUEST)
    m = ChatToResponses(meta, Shaping(ToolNames(), "deepseek", None))
    m.feed({"choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]})
    m.feed({"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]})
    final = m.finish()[-1]["response"]
    assert "encrypted_content" not in final["output"][0]
    assert final["usage"]["output_tokens"] > 0  # estimated: the upstream sent no usage


def test_a_stream_that_ends_with_nothing_is_failed_not_completed() -> None:
    m = machine("chat")
    events = m.start() + m.finish()
    assert types(events)[-2:] == ["error", "response.failed"]
    assert m.feed({"choices": [{"index": 0, "delta": {"content": "late"}}]}) == []


def test_encode_frames_an_event_with_its_type_as_the_sse_event_name() -> None:
    frame = encode({"type": "response.completed", "sequence_number": 3})
    assert frame == b'event: response.completed\ndata: {"type":"response.completed","sequence_number":3}\n\n'
