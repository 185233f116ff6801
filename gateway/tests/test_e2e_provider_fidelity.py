"""Real providers' quirks reach real clients as canonical answers, billed as the providers bill.

openai-py over uvicorn against the fake upstream speaking Mistral (thinking parts, index-less tool calls), xAI
(reasoning outside completion_tokens) and DeepSeek thinking mode (a 400 when reasoning_content does not come back).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache

from gateway import reasoning_memory
from gateway.tests import fake_upstream as fu
from gateway.tests.conftest import E2E, settle_background
from gateway.tests.e2e import WEATHER_FUNCTION, anthropic_client, billed, expected_charge, openai_client
from gateway.usage import Usage

pytestmark = E2E

STEP_TOOL = {"type": "function", "function": {"name": "step", "parameters": {"type": "object"}}}


def _model(catalog: Any, slug: str, upstream: str) -> str:
    catalog.model(f"m-{slug}", (catalog.provider(slug), upstream))
    return f"m-{slug}"


def _chat(client: Any, stream: bool, **kwargs: Any) -> Any:
    """The parsed completion; streams go through the SDK's own accumulator, which checks every delta."""
    if not stream:
        return client.chat.completions.create(**kwargs)
    with client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
        for _ in s:
            pass
        return s.get_final_completion()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_magistral_answer_reaches_openai_py_as_string_content_with_reasoning(live, tenant, catalog, stream):
    model = _model(catalog, "mistral", "mistral/fake-reasoning")
    completion = _chat(
        openai_client(live, tenant.raw), stream, model=model, messages=[{"role": "user", "content": "hi"}]
    )

    message = completion.choices[0].message
    assert message.content == "4"
    assert (message.model_extra or {}).get("reasoning_content") == "2+2: add the numbers."
    assert completion.choices[0].finish_reason == "stop"
    (row,) = billed()
    assert row.cost == expected_charge(Usage(input=120, output=30))  # Mistral reports no cache


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_mistral_parallel_tool_calls_parse_in_openai_py(live, tenant, catalog, stream):
    model = _model(catalog, "mistral", "mistral/fake-parallel")
    client = openai_client(live, tenant.raw)
    completion = _chat(
        client, stream, model=model, messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_FUNCTION]
    )

    calls = completion.choices[0].message.tool_calls
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Oslo"}),
        ("function", "get_weather", {"city": "Rome"}),
    ]
    assert completion.choices[0].message.content == "Checking both."
    assert completion.choices[0].finish_reason == "tool_calls"


XAI_BILLED = Usage(input=100, cache_read=20, output=fu.COMPLETION_TOKENS + fu.REASONING_TOKENS, reasoning=12)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_xai_reasoning_outside_completion_tokens_is_charged_and_reported_as_output(live, tenant, catalog, stream):
    model = _model(catalog, "xai", "xai/fake-reasoning")
    completion = _chat(
        openai_client(live, tenant.raw), stream, model=model, messages=[{"role": "user", "content": "hi"}]
    )

    assert completion.usage.completion_tokens == 42  # OpenAI semantics: reasoning inside
    assert completion.usage.completion_tokens_details.reasoning_tokens == 12
    assert completion.usage.total_tokens == 162
    (row,) = billed()
    assert row.cost == expected_charge(XAI_BILLED)
    assert tenant.balance == 10_000_000 - row.cost


def test_xai_reasoning_counts_in_output_tokens_on_the_messages_surface(live, tenant, catalog):
    model = _model(catalog, "xai", "xai/fake-reasoning")
    message = anthropic_client(live, tenant.raw).messages.create(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.usage.output_tokens == 42
    (row,) = billed()
    assert row.cost == expected_charge(XAI_BILLED)


# --- DeepSeek thinking mode with tools: the client drops reasoning_content ------------------------------------------


def _dropping_loop(client: Any, model: str, stream: bool, forget_org: int | None = None) -> Any:
    """An agent loop as openai-py users write it: the assistant turn goes back WITHOUT reasoning_content.
    With `forget_org`, that org's memory of each turn's reasoning expires before the next turn."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "run the steps"}]
    for _ in range(fu.LOOP_TURNS + 1):
        completion = _chat(client, stream, model=model, messages=messages, tools=[STEP_TOOL])
        message = completion.choices[0].message
        if not message.tool_calls:
            return completion
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
        ]
        messages.append({"role": "assistant", "content": message.content, "tool_calls": calls})
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": "done"} for c in calls]
        if forget_org is not None:
            settle_background()
            cache.delete_many([reasoning_memory._key(forget_org, c["id"]) for c in calls])
    raise AssertionError("the loop never finished")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_deepseek_tool_loop_survives_a_client_that_drops_reasoning_content(live, tenant, catalog, fake, stream):
    model = _model(catalog, "deepseek", "deepseek/fake-loop")
    final = _dropping_loop(openai_client(live, tenant.raw), model, stream)

    assert final.choices[0].message.content == f"Finished {fu.LOOP_TURNS} steps."
    sent = fake.bodies("/chat/completions")
    assert len(sent) == fu.LOOP_TURNS + 1
    for n, body in enumerate(sent):
        assert body.get("thinking", {}).get("type", "enabled") == "enabled"  # thinking stayed on all along
        turns = [m for m in body["messages"] if m["role"] == "assistant"]
        assert [m["reasoning_content"] for m in turns] == [f"Step {i + 1} needs the tool." for i in range(n)]
    billed(count=fu.LOOP_TURNS + 1)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_deepseek_tool_loop_whose_memory_expired_goes_on_without_thinking(live, tenant, catalog, fake, stream):
    model = _model(catalog, "deepseek", "deepseek/fake-loop")
    final = _dropping_loop(openai_client(live, tenant.raw), model, stream, forget_org=tenant.org.pk)

    assert final.choices[0].message.content == f"Finished {fu.LOOP_TURNS} steps."
    sent = fake.bodies("/chat/completions")
    assert "thinking" not in sent[0]
    assert all(body["thinking"] == {"type": "disabled"} for body in sent[1:])


def test_the_fake_deepseek_refuses_a_tool_turn_without_reasoning_content_as_deepseek_does(live, fake):
    import httpx

    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "step", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    answer = httpx.post(fake.url + "/chat/completions", json={"model": "deepseek/fake-loop", "messages": messages})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Missing reasoning_content field in the assistant message at message index 1"
    )


def test_an_org_never_recalls_another_orgs_reasoning(live, tenant, catalog, fake, charlie, org_b):
    from accounts.keys import mint_key
    from wallet.ledger import adjust

    model = _model(catalog, "deepseek", "deepseek/fake-loop")
    first = openai_client(live, tenant.raw).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "go"}], tools=[STEP_TOOL]
    )
    call = first.choices[0].message.tool_calls[0]
    adjust(org_id=org_b.pk, amount=1_000_000, reason="test credit", idempotency_key="charlie-credit")
    _, raw = mint_key(org_b, charlie, "charlie key")
    replay = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "done"},
    ]
    openai_client(live, raw).chat.completions.create(model=model, messages=replay, tools=[STEP_TOOL])

    sent = fake.bodies("/chat/completions")[-1]
    assert sent["thinking"] == {"type": "disabled"}
    assert "reasoning_content" not in sent["messages"][1]
