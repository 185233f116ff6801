"""Every answer says what it cost: `usage.cost` (USD) and `usage.cost_micros` (the integer micro-dollars charged to
the wallet) in the final usage of every surface, streamed and not, read through the real SDKs. The amount is the
settlement's: upstream cost plus markup (wallet.money), equal to the request's ledger entry."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, billed, openai_client

pytestmark = E2E

HI = [{"role": "user", "content": "hi"}]
# OpenAI as is (pass-through), DeepSeek (its chunks normalised, usage re-emitted), Anthropic (translated)
UPSTREAMS = ["openai", "deepseek", "anthropic"]


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    catalog.model("on-openai", (catalog.provider("openai", "openai", "/v1"), "fake-text"))
    catalog.model("on-deepseek", (catalog.provider("deepseek", "openai", "/v1"), "fake-text"))
    catalog.model("on-anthropic", (catalog.provider("anthropic", "anthropic"), "fake-text"))
    return tenant


def charged() -> int:
    """The one request's charge, checked against its ledger entry."""
    (row,) = billed()
    assert row.cost > 0
    return int(row.cost)


def assert_cost(usage: Any, micros: int) -> None:
    extra = usage.model_extra or {}
    assert extra["cost_micros"] == micros
    assert extra["cost"] == pytest.approx(micros / 1_000_000)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_whole_chat_completion_carries_its_cost(live, world, upstream):
    completion = openai_client(live, world.raw).chat.completions.create(model=f"on-{upstream}", messages=HI)
    assert_cost(completion.usage, charged())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_the_final_usage_chunk_of_a_chat_stream_carries_its_cost(live, world, upstream):
    client = openai_client(live, world.raw)
    chunks = list(
        client.chat.completions.create(
            model=f"on-{upstream}", messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    assert_cost(chunks[-1].usage, charged())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_whole_message_carries_its_cost(live, world, upstream):
    message = anthropic_client(live, world.raw).messages.create(model=f"on-{upstream}", max_tokens=50, messages=HI)
    assert_cost(message.usage, charged())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_the_message_delta_of_a_messages_stream_carries_its_cost(live, world, upstream):
    client = anthropic_client(live, world.raw)
    events = list(client.messages.create(model=f"on-{upstream}", max_tokens=50, messages=HI, stream=True))
    (delta,) = [e for e in events if e.type == "message_delta"]
    assert_cost(delta.usage, charged())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_whole_response_carries_its_cost(live, world, upstream):
    response = openai_client(live, world.raw).responses.create(model=f"on-{upstream}", input="hi")
    assert_cost(response.usage, charged())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_completed_of_a_responses_stream_carries_its_cost(live, world, upstream):
    with openai_client(live, world.raw).responses.stream(model=f"on-{upstream}", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    (completed,) = [e for e in events if e.type == "response.completed"]
    micros = charged()
    assert_cost(completed.response.usage, micros)
    assert_cost(final.usage, micros)
