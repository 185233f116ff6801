"""qlaud/demo, the built-in model: a newcomer's first request through the whole product with no key and no network.

The real SDKs talk to qlaud under uvicorn; the demo's catalog rows come from the seed file itself
(catalog/data/catalog.yaml), and the answer comes from gateway/providers/demo.py in-process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from catalog import loader
from gateway.providers import demo
from gateway.tests.conftest import E2E
from gateway.tests.e2e import WEATHER_FUNCTION, WEATHER_TOOL, anthropic_client, billed, openai_client
from wallet.models import LedgerEntry

pytestmark = E2E
SEED = loader.read()


@pytest.fixture
def demo_catalog(transactional_db: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The seed's demo provider and model, loaded as `make run` loads them; QLAUD_DEMO on; the live feed recorded."""
    settings.QLAUD_DEMO = True
    loader.load(
        {
            "providers": [p for p in SEED["providers"] if p["slug"] == "demo"],
            "models": [m for m in SEED["models"] if m["id"] == "qlaud/demo"],
        }
    )
    published: list[dict[str, Any]] = []

    async def publish(org_id: int, rows: Any) -> None:
        published.extend(rows)

    monkeypatch.setattr("gateway.records.publish_requests", publish)
    return published


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real upstream connection fails the test: the demo must answer from inside the process."""

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("qlaud/demo opened a network connection")

    monkeypatch.setattr("gateway.outbound.Transport.handle_async_request", refuse)
    monkeypatch.setattr("httpx.AsyncHTTPTransport.handle_async_request", refuse)


def _one_charged_request(tenant: Any, surface: str, stream: bool) -> Any:
    (row,) = billed()
    assert (row.status, row.surface, row.stream) == (200, surface, stream)
    assert (row.model, row.provider) == ("qlaud/demo", "demo")
    assert row.input_tokens > 0 and row.output_tokens > 0 and not row.usage_estimated
    assert row.cost > 0
    (entry,) = LedgerEntry.objects.filter(reference=row.request_id, kind=LedgerEntry.Kind.USAGE)
    assert entry.receipt["model"] == "qlaud/demo" and entry.receipt["provider"] == "demo"
    assert entry.receipt["usage"]["output"] == row.output_tokens
    return row


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_first_chat_completion_with_qlaud_demo_answers_bills_and_reaches_the_live_feed(
    live, tenant, demo_catalog, no_network, stream
):
    client = openai_client(live, tenant.raw)
    messages = [{"role": "user", "content": "Hello, qlaud"}]
    if stream:
        events = list(
            client.chat.completions.create(
                model="qlaud/demo", messages=messages, stream=True, stream_options={"include_usage": True}
            )
        )
        pieces = [e.choices[0].delta.content for e in events if e.choices and e.choices[0].delta.content]
        assert len(pieces) >= 3  # streamed in several chunks, not one burst
        text = "".join(pieces)
        assert events[-1].usage is not None and events[-1].usage.completion_tokens > 0
    else:
        answer = client.chat.completions.create(model="qlaud/demo", messages=messages)
        text = answer.choices[0].message.content or ""
        assert answer.choices[0].finish_reason == "stop" and answer.usage.prompt_tokens > 0
    assert 'You said: "Hello, qlaud"' in text
    row = _one_charged_request(tenant, "chat", stream)
    assert [r["request_id"] for r in demo_catalog] == [row.request_id]
    assert tenant.balance < 10_000_000


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_first_message_with_qlaud_demo_answers_on_the_anthropic_surface_and_bills(
    live, tenant, demo_catalog, no_network, stream
):
    client = anthropic_client(live, tenant.raw)
    kwargs: dict[str, Any] = {"model": "qlaud/demo", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**kwargs) as events:
            texts = [e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"]
            message = events.get_final_message()
        assert len(texts) >= 3
    else:
        message = client.messages.create(**kwargs)
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text.startswith("Hello from qlaud/demo.")
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    _one_charged_request(tenant, "messages", stream)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_qlaud_demo_calls_the_offered_tool_with_arguments_from_its_schema(
    live, tenant, demo_catalog, no_network, stream
):
    kwargs: dict[str, Any] = {
        "model": "qlaud/demo",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
    }
    client = anthropic_client(live, tenant.raw)
    if stream:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)
    assert [(b.type, b.name, b.input) for b in message.content] == [("tool_use", "get_weather", {"city": "Paris"})]
    assert message.stop_reason == "tool_use"
    _one_charged_request(tenant, "messages", stream)


def test_qlaud_demo_answers_a_tool_result_in_text_on_the_openai_surface(live, tenant, demo_catalog, no_network):
    client = openai_client(live, tenant.raw)
    first = client.chat.completions.create(
        model="qlaud/demo", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_FUNCTION]
    )
    (call,) = first.choices[0].message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    second = client.chat.completions.create(
        model="qlaud/demo",
        tools=[WEATHER_FUNCTION],
        messages=[
            {"role": "user", "content": "Weather?"},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
    )
    assert second.choices[0].message.content == "The tool answered: sunny, 21 C. That is all the demo knows."
    assert len(billed(2)) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_qlaud_demo_reasons_when_asked_and_bills_the_reasoning(live, tenant, demo_catalog, no_network, stream):
    kwargs: dict[str, Any] = {
        "model": "qlaud/demo",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "2+2?"}],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
    }
    client = anthropic_client(live, tenant.raw)
    if stream:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == demo.REASONING
    row = _one_charged_request(tenant, "messages", stream)
    assert row.reasoning_tokens == demo.tokens(demo.REASONING)


def test_qlaud_demo_reasons_for_an_openai_client_that_sets_reasoning_effort(live, tenant, demo_catalog, no_network):
    answer = openai_client(live, tenant.raw).chat.completions.create(
        model="qlaud/demo", reasoning_effort="low", messages=[{"role": "user", "content": "2+2?"}]
    )
    message = answer.choices[0].message.model_dump()
    assert message.get("reasoning_content") == demo.REASONING
    assert answer.usage.completion_tokens_details.reasoning_tokens == demo.tokens(demo.REASONING)


def test_with_qlaud_demo_off_the_model_answers_a_clear_not_configured_error(live, tenant, demo_catalog, settings):
    settings.QLAUD_DEMO = False
    with pytest.raises(openai.APIStatusError) as refused:
        openai_client(live, tenant.raw).chat.completions.create(
            model="qlaud/demo", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert refused.value.body["code"] == "provider_not_configured"
    assert refused.value.body["message"] == (
        "demo is not configured: set QLAUD_DEMO=1 (the built-in demo is off when DEBUG is off)."
    )
    assert tenant.balance == 10_000_000


def test_with_qlaud_demo_off_the_in_process_upstream_refuses_too(settings):
    settings.QLAUD_DEMO = False
    request = httpx.Request("POST", demo.URL, content=b"{}")
    response = asyncio.run(demo.answer(request))
    assert response.status_code == 503 and b"QLAUD_DEMO" in response.content


def test_curl_style_requests_with_no_sdk_answer_200_on_both_surfaces(live, tenant, demo_catalog, no_network):
    headers = {"authorization": f"Bearer {tenant.raw}", "content-type": "application/json"}
    chat = httpx.post(
        f"{live.url}/v1/chat/completions",
        headers=headers,
        json={"model": "qlaud/demo", "messages": [{"role": "user", "content": "Hello"}]},
    )
    messages = httpx.post(
        f"{live.url}/v1/messages",
        headers={"x-api-key": tenant.raw, "anthropic-version": "2023-06-01"},
        json={"model": "qlaud/demo", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]},
    )
    with httpx.stream(
        "POST",
        f"{live.url}/v1/chat/completions",
        headers=headers,
        json={"model": "qlaud/demo", "stream": True, "messages": [{"role": "user", "content": "Hello"}]},
    ) as streamed:
        body = b"".join(streamed.iter_bytes())
    assert (chat.status_code, messages.status_code, streamed.status_code) == (200, 200, 200)
    assert body.rstrip().endswith(b"data: [DONE]") and body.count(b"data: ") >= 5
    assert all(row.cost > 0 for row in billed(3))


def test_the_anthropic_sdks_retry_policy_is_told_not_to_retry_a_not_configured_provider(
    live, tenant, demo_catalog, settings
):
    settings.QLAUD_DEMO = False
    client = anthropic.Anthropic(base_url=live.url, api_key=tenant.raw, max_retries=2)
    with pytest.raises(anthropic.APIStatusError) as refused:
        client.messages.create(model="qlaud/demo", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 503
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert refused.value.body["error"]["type"] == "api_error"
    assert "QLAUD_DEMO" in refused.value.body["error"]["message"]


def test_qlaud_demo_answers_on_the_responses_surface_too(live, tenant, demo_catalog, no_network):
    response = openai_client(live, tenant.raw).responses.create(model="qlaud/demo", input="Hello from Responses")
    assert 'You said: "Hello from Responses"' in response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    _one_charged_request(tenant, "responses", False)
