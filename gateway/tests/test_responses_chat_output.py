"""Responses output presented as Chat Completions (gateway.translate.responses.chat_output), the pure core behind
Cursor's Responses bodies on /v1/chat/completions: Responses events from the real stream machines, Chat chunks out."""

from __future__ import annotations

import json
from typing import Any

from gateway.translate.responses.answer import ResponseMeta, Shaping, chat_to_response
from gateway.translate.responses.chat_output import DONE, ResponsesToChat, response_to_completion
from gateway.translate.responses.request import collect_tools
from gateway.translate.responses.stream import ChatToResponses

TOOLS = [
    {"type": "function", "name": "read_file", "parameters": {"type": "object", "properties": {}}},
    {"type": "custom", "name": "ApplyPatch", "format": {"type": "grammar", "syntax": "lark", "definition": "x"}},
]
BODY = {"model": "gpt-5-high", "input": "hi", "tools": TOOLS}


def shaping() -> Shaping:
    return Shaping(collect_tools(BODY)[1], "openai")


def upstream_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
    }
    if usage:
        chunk["usage"] = usage
    return chunk


def tool_fragment(index: int, call_id: str | None, name: str | None, args: str) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": args}
    if name:
        function["name"] = name
    fragment: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        fragment.update({"id": call_id, "type": "function"})
    return {"tool_calls": [fragment]}


def chat_chunks(upstream: list[dict[str, Any]], include_usage: bool = True) -> list[Any]:
    machine = ChatToResponses(ResponseMeta.from_request(BODY, response_id="resp_abc"), shaping())
    out = ResponsesToChat(include_usage)
    events = machine.start()
    for chunk in upstream:
        events += machine.feed(chunk)
    events += machine.finish()
    return [c for event in events for c in out.feed(event)]


def merged_tool_calls(chunks: list[Any]) -> dict[int, dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices", []) if isinstance(chunk, dict) else []:
            for call in choice["delta"].get("tool_calls", []):
                merged = calls.setdefault(call["index"], {"arguments": ""})
                merged.update({k: v for k, v in call.items() if k not in ("index", "function")})
                merged["arguments"] += (call.get("function") or {}).get("arguments", "")
                merged.setdefault("name", (call.get("function") or {}).get("name"))
    return calls


def test_a_function_call_streams_as_chat_tool_call_deltas_and_a_custom_call_arrives_whole():
    patch = "*** Begin Patch\n*** End Patch\n"
    chunks = chat_chunks(
        [
            upstream_chunk(tool_fragment(0, "call_r", "read_file", '{"pa')),
            upstream_chunk(tool_fragment(0, None, None, 'th":"a.py"}')),
            upstream_chunk(tool_fragment(1, "call_p", "ApplyPatch", json.dumps({"input": patch}))),
            upstream_chunk({}, "tool_calls"),
            upstream_chunk({}, usage={"prompt_tokens": 10, "completion_tokens": 5}),
        ]
    )
    calls = merged_tool_calls(chunks)
    assert calls[0] == {"id": "call_r", "type": "function", "name": "read_file", "arguments": '{"path":"a.py"}'}
    assert calls[1]["type"] == "custom" and calls[1]["custom"] == {"name": "ApplyPatch", "input": patch}
    assert chunks[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-2]["usage"]["prompt_tokens"] == 10 and chunks[-2]["choices"] == []
    assert chunks[-1] == DONE
    assert {c["id"] for c in chunks[:-1]} == {"chatcmpl-abc"} and chunks[0]["model"] == "gpt-5-high"


def test_text_and_reasoning_stream_as_content_and_reasoning_content_and_no_usage_chunk_unless_asked():
    chunks = chat_chunks(
        [
            upstream_chunk({"reasoning_content": "Think."}),
            upstream_chunk({"content": "Hello"}),
            upstream_chunk({}, "stop"),
        ],
        include_usage=False,
    )
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert {"reasoning_content": "Think."} in deltas and {"content": "Hello"} in deltas
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-1] == DONE


def test_a_truncated_answer_finishes_with_length():
    chunks = chat_chunks([upstream_chunk({"content": "Hel"}), upstream_chunk({}, "length")], include_usage=False)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_a_failed_stream_ends_with_an_openai_error_chunk_and_nothing_after_it():
    machine = ChatToResponses(ResponseMeta.from_request(BODY, response_id="resp_abc"), shaping())
    out = ResponsesToChat(True)
    events = machine.start() + machine.fail("server_error", "The upstream connection broke mid-stream.")
    chunks = [c for event in events for c in out.feed(event)]
    assert chunks[-1] == {
        "error": {
            "message": "The upstream connection broke mid-stream.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert out.feed({"type": "response.completed", "response": {}}) == []


def test_a_whole_response_becomes_a_chat_completion_with_text_reasoning_and_both_kinds_of_tool_call():
    completion = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "On it.",
                    "reasoning_content": "Patch it.",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}},
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "ApplyPatch", "arguments": '{"input":"P"}'},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}},
    }
    response = chat_to_response(completion, ResponseMeta.from_request(BODY, response_id="resp_x"), shaping())
    response["usage"].update({"cost": 0.000012, "cost_micros": 12})
    chat = response_to_completion(response)
    message = chat["choices"][0]["message"]
    assert (chat["id"], chat["object"], chat["model"]) == ("chatcmpl-x", "chat.completion", "gpt-5-high")
    assert (message["content"], message["reasoning_content"]) == ("On it.", "Patch it.")
    assert message["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}},
        {"id": "c2", "type": "custom", "custom": {"name": "ApplyPatch", "input": "P"}},
    ]
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert chat["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 0},
        "cost": 0.000012,
        "cost_micros": 12,
    }
