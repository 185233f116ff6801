"""LangChain's ChatOpenAI (langchain-openai) against qlaud under uvicorn and the fake upstream.

`use_responses_api=True` posts to /v1/responses (input messages with `content` as a plain string); the default
posts to /v1/chat/completions. Both must give LangChain the fake's text and tool calls, and bill the request.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.tests.e2e import billed, expected_charge, fake_usage, record_client_bodies

langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai not installed (requirements-dev)")
ToolMessage = pytest.importorskip("langchain_core.messages").ToolMessage

pytestmark = pytest.mark.e2e

UPSTREAMS = {"openai": ("deepseek", "openai", "/v1"), "anthropic": ("anthropic", "anthropic", "")}
TEXT = "Hello from the fake upstream."


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


@pytest.fixture(params=list(UPSTREAMS))
def upstream(request: Any, catalog: Any) -> str:
    slug, protocol, path = UPSTREAMS[request.param]
    provider = catalog.provider(slug, protocol, path)
    for scenario in ("text", "tool"):
        catalog.model(f"m-{scenario}", (provider, f"fake-{scenario}"))
    return request.param


def chat(live: Any, key: str, model: str, **kw: Any) -> Any:
    return langchain_openai.ChatOpenAI(model=model, base_url=live.url + "/v1", api_key=key, max_retries=0, **kw)


def ask(llm: Any, prompt: Any, stream: bool) -> Any:
    """The AIMessage of `invoke`, or the chunks of `stream` added up (as LangChain users do)."""
    if not stream:
        return llm.invoke(prompt)
    chunks = list(llm.stream(prompt))
    assert len(chunks) > 1
    message = chunks[0]
    for chunk in chunks[1:]:
        message += chunk
    return message


def upstream_calls(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith(("/chat/completions", "/messages"))]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_langchain_responses_api_gets_the_text_and_is_billed(upstream, live, tenant, fake, monkeypatch, stream) -> None:
    sent = record_client_bodies(monkeypatch)
    llm = chat(live, tenant.raw, "m-text", use_responses_api=True)
    message = ask(llm, "hi", stream)
    assert message.text == TEXT
    assert message.usage_metadata["input_tokens"] == 120 and message.usage_metadata["output_tokens"] == 30
    assert message.usage_metadata["input_token_details"]["cache_read"] == 20
    assert len(upstream_calls(fake)) == 1
    (body,) = sent["responses"]
    assert body["input"] == [{"type": "message", "role": "user", "content": "hi"}]  # content: a plain string
    assert body.get("stream", False) is stream
    (row,) = billed()
    assert row.surface == "responses" and row.stream is stream and row.model == "m-text"
    assert row.cost == expected_charge(fake_usage())


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_langchain_responses_api_gets_a_bound_tool_call(upstream, live, tenant, stream) -> None:
    llm = chat(live, tenant.raw, "m-tool", use_responses_api=True).bind_tools([get_weather])
    message = ask(llm, "What is the weather in Paris?", stream)
    calls = [(c["name"], c["args"], c["id"]) for c in message.tool_calls]
    assert calls == [("get_weather", {"city": "Paris"}, "call_w1")]
    (row,) = billed()
    assert row.surface == "responses" and row.cost == expected_charge(fake_usage())


def test_langchain_sends_the_tool_result_back_through_the_responses_api(
    live, tenant, catalog, fake, monkeypatch
) -> None:
    # A full tool round trip: the second turn carries LangChain's function_call + function_call_output items.
    sent = record_client_bodies(monkeypatch)
    provider = catalog.provider("deepseek", "openai", "/v1")
    catalog.model("m-agent", (provider, "fake-agent"))
    fake.agent_tool = ("get_weather", {"city": "Paris"})
    llm = chat(live, tenant.raw, "m-agent", use_responses_api=True).bind_tools([get_weather])
    history: list[Any] = [("user", "What is the weather in Paris?")]
    first = llm.invoke(history)
    (call,) = first.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    history += [first, ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])]
    second = llm.invoke(history)
    assert second.text == "Done: the tool said hello-from-qlaud."
    # LangChain resends its history as items: the message (content a plain string), the reasoning and the call.
    kinds = [item["type"] for item in sent["responses"][1]["input"]]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    upstream_second = fake.bodies("/chat/completions")[1]
    assistant = next(m for m in upstream_second["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_content"] == "I should use a tool."  # DeepSeek's reasoning came back
    tool = next(m for m in upstream_second["messages"] if m["role"] == "tool")
    assert tool["tool_call_id"] == call["id"] and tool["content"] == "Sunny in Paris."
    rows = billed(2)
    assert [r.surface for r in rows] == ["responses", "responses"]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_langchain_chat_completions_gets_the_text_and_is_billed(live, tenant, catalog, fake, stream) -> None:
    provider = catalog.provider("deepseek", "openai", "/v1")
    catalog.model("m-text", (provider, "fake-text"))
    llm = chat(live, tenant.raw, "m-text", use_responses_api=False, stream_usage=True)
    message = ask(llm, "hi", stream)
    assert message.text == TEXT
    assert message.usage_metadata["input_tokens"] == 120 and message.usage_metadata["output_tokens"] == 30
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]
    (row,) = billed()
    assert row.surface == "chat" and row.stream is stream
    assert row.cost == expected_charge(fake_usage())
