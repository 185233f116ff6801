"""The openai SDK's own Responses stream accumulator rebuilds the response qlaud's translators produce.

The translated event stream is served to a real `openai.OpenAI` client through `httpx.MockTransport`, so the SDK's
SSE parsing, event models and `ResponseStreamState` all run unmodified.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from gateway.tests.test_responses_stream import ALL, replay
from gateway.tests.test_responses_stream import fixture as sse_fixture
from gateway.translate.responses.answer import ResponseMeta, Shaping, anthropic_to_response, chat_to_response
from gateway.translate.responses.request import ToolNames
from gateway.translate.responses.stream import ChatToResponses, encode


def client_serving(body: bytes, content_type: str) -> openai.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/responses"
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return openai.OpenAI(api_key="ak_test", base_url="http://qlaud.test/v1", http_client=http, max_retries=0)


def sdk_view(item: Any) -> dict[str, Any]:
    return {k: v for k, v in item.model_dump(exclude_none=True).items() if k != "parsed_arguments"}


def ours(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


SUCCESSFUL = [n for n in ALL if not n.endswith("_error")]


@pytest.mark.parametrize("name", SUCCESSFUL)
def test_the_sdk_stream_accumulator_rebuilds_the_same_final_response(name: str) -> None:
    events = replay(name, [sse_fixture(name)])
    client = client_serving(b"".join(encode(e) for e in events), "text/event-stream")
    with client.responses.stream(model="gpt-5-codex", input="hi") as stream:
        seen = list(stream)
        # The SDK only builds a final response for response.completed; incomplete carries its own.
        final = stream.get_final_response() if seen[-1].type == "response.completed" else seen[-1].response
    expected = events[-1]["response"]
    assert [event.type for event in seen] == [e["type"] for e in events]
    assert final.id == expected["id"] and final.status == expected["status"]
    assert [sdk_view(item) for item in final.output] == [ours(item) for item in expected["output"]]
    assert final.usage is not None and final.usage.total_tokens == expected["usage"]["total_tokens"]


def test_the_sdk_text_helper_reads_the_streamed_text() -> None:
    events = replay("responses_chat_text", [sse_fixture("responses_chat_text")])
    client = client_serving(b"".join(encode(e) for e in events), "text/event-stream")
    with client.responses.stream(model="gpt-5-codex", input="hi") as stream:
        assert stream.get_final_response().output_text == "Hi thére ✓"


@pytest.mark.parametrize("name", ["responses_chat_error", "responses_anthropic_error"])
def test_the_sdk_raises_on_a_mid_stream_error(name: str) -> None:
    events = replay(name, [sse_fixture(name)])
    client = client_serving(b"".join(encode(e) for e in events), "text/event-stream")
    with pytest.raises(openai.APIError), client.responses.stream(model="gpt-5-codex", input="hi") as stream:
        for _ in stream:
            pass


def test_the_sdk_parses_a_non_streaming_chat_translation() -> None:
    completion = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "reasoning_content": "Use ls.",
                    "content": "Listing.",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "ns__run", "arguments": '{"a":1}'}}
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 4},
    }
    tools = ToolNames({"ns__run": ("ns", "run", "function")})
    meta = ResponseMeta.from_request({"model": "gpt-5-codex", "input": "x", "metadata": {"k": "v"}})
    body = chat_to_response(completion, meta, Shaping(tools, "deepseek", lambda p: "sealed"))
    response = client_serving(json.dumps(body).encode(), "application/json").responses.create(
        model="gpt-5-codex", input="x"
    )
    assert [o.type for o in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[0].encrypted_content == "sealed"
    assert (response.output[2].namespace, response.output[2].name) == ("ns", "run")
    assert response.output_text == "Listing."
    assert response.usage.input_tokens_details.cached_tokens == 4
    assert response.metadata == {"k": "v"}


def test_the_sdk_parses_a_non_streaming_anthropic_translation_with_a_max_tokens_stop() -> None:
    message = {
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Cut"},
        ],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "output_tokens": 7},
    }
    meta = ResponseMeta.from_request({"model": "claude-x", "input": "x"})
    body = anthropic_to_response(message, meta, Shaping(ToolNames(), "anthropic"))
    response = client_serving(json.dumps(body).encode(), "application/json").responses.create(
        model="claude-x", input="x"
    )
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].summary[0].text == "hmm" and response.output[0].encrypted_content is None
    assert response.usage.total_tokens == 10


def test_the_sdk_accepts_a_streamed_custom_tool_call_delivered_whole() -> None:
    tools = ToolNames({"apply_patch": (None, "apply_patch", "custom")})
    meta = ResponseMeta.from_request({"model": "gpt-5-codex", "input": "x"})
    machine = ChatToResponses(meta, Shaping(tools, "deepseek"))
    head = {"index": 0, "id": "call_p", "function": {"name": "apply_patch", "arguments": '{"input": "*** Be'}}
    events = machine.start() + machine.feed({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
    tail = {"index": 0, "function": {"arguments": 'gin Patch"}'}}
    events += machine.feed({"choices": [{"index": 0, "delta": {"tool_calls": [tail]}, "finish_reason": "tool_calls"}]})
    events += machine.finish()
    client = client_serving(b"".join(encode(e) for e in events), "text/event-stream")
    with client.responses.stream(model="gpt-5-codex", input="x") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    call = final.output[0]
    assert (call.type, call.call_id, call.name, call.input) == (
        "custom_tool_call",
        "call_p",
        "apply_patch",
        "*** Begin Patch",
    )
