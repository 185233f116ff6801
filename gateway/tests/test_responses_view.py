"""POST /v1/responses through the whole gateway pipeline, against the fake upstream (a real local HTTP server).

Billing, the request log, errors in the OpenAI shape, reasoning replay across turns and previous_response_id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from accounts.keys import mint_key
from catalog.models import Host, Model, ModelAlias, PriceVersion, Provider
from gateway import http, records
from gateway.models import RequestLog
from gateway.sse import SSEDecoder
from gateway.tests.fake_upstream import FakeUpstream
from wallet import ledger
from wallet.models import Wallet

pytestmark = pytest.mark.django_db(transaction=True)
CREDIT = 10_000_000  # $10
CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "strict": False, "parameters": {"type": "object", "properties": {}}},
    {"type": "web_search", "external_web_access": False},
]


@dataclass
class World:
    fake: FakeUpstream
    key: str
    other_key: str
    org_id: int


def _model(public_id: str, provider: Provider, upstream: str) -> Model:
    caps = ["tools", "reasoning", "vision"]
    model = Model.objects.create(
        public_id=public_id, name=public_id, context_length=128000, capabilities=caps, created=date(2025, 1, 1)
    )
    host = Host.objects.create(model=model, provider=provider, upstream_model=upstream, max_output_tokens=8000)
    host.price = PriceVersion.objects.create(host=host, input=1_000_000, output=2_000_000, cache_read=100_000)
    host.save()
    return model


@pytest.fixture
def world(fake: FakeUpstream, org_a, org_b, alice, charlie) -> Iterator[World]:
    """Models on the fake upstream (scenario = upstream model id), two funded orgs, an alias for Codex's name."""
    deepseek = Provider.objects.create(slug="deepseek", name="DeepSeek", protocol="openai", base_url=fake.url + "/v1")
    anthropic = Provider.objects.create(slug="anthropic", name="Anthropic", protocol="anthropic", base_url=fake.url)
    _model("ds-text", deepseek, "fake-text")
    _model("ds-reasoning", deepseek, "fake-reasoning")
    agent = _model("ds-agent", deepseek, "fake-agent")
    _model("ds-broken", deepseek, "fake-500")
    _model("claude-agent", anthropic, "fake-agent")
    ModelAlias.objects.create(org=org_a, alias="gpt-5-codex", model=agent)
    for org in (org_a, org_b):
        ledger.adjust(org_id=org.id, amount=CREDIT, reason="test credit")
    _, key = mint_key(org_a, alice, "test")
    _, other = mint_key(org_b, charlie, "other")
    yield World(fake, key, other, org_a.id)


def auth(key: str) -> dict[str, dict[str, str]]:
    return {"headers": {"Authorization": f"Bearer {key}"}}


async def post(world: World, body: dict[str, Any], key: str | None = None) -> Any:
    return await AsyncClient().post(
        "/v1/responses", json.dumps(body), content_type="application/json", **auth(key or world.key)
    )


async def stream_events(world: World, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = await post(world, {**body, "stream": True})
    assert response.status_code == 200, response.content
    assert response["content-type"].startswith("text/event-stream")
    decoder = SSEDecoder()
    events = []
    async for chunk in response.streaming_content:
        events += [json.loads(e.data) for e in decoder.feed(chunk)]
    await http.aclose()
    return events


async def finished() -> None:
    await http.aclose()
    await records.aflush()


def balance(org_id: int) -> int:
    return Wallet.objects.get(org_id=org_id).balance


async def test_a_non_streaming_turn_is_answered_billed_and_logged(world: World) -> None:
    response = await post(world, {"model": "ds-text", "input": "hi", "instructions": "Be brief."})
    await finished()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "response" and body["status"] == "completed" and body["model"] == "ds-text"
    assert body["output"][0]["content"][0]["text"] == "Hello from the fake upstream."
    assert body["usage"]["input_tokens"] == 120 and body["usage"]["input_tokens_details"]["cached_tokens"] == 20
    assert response["x-qlaud-request-id"].startswith("req_")
    sent = world.fake.bodies("/chat/completions")[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."} and sent["max_tokens"] == 8000
    log = await sync_to_async(RequestLog.objects.get)()
    assert (log.surface, log.status, log.input_tokens, log.cache_read_tokens) == ("responses", 200, 100, 20)
    assert log.cost > 0 and await sync_to_async(balance)(world.org_id) == CREDIT - log.cost
    await sync_to_async(ledger.assert_ledger_invariant)()


async def test_a_streamed_turn_ends_with_completed_and_is_billed(world: World) -> None:
    events = await stream_events(world, {"model": "ds-reasoning", "input": "2+2?"})
    await records.aflush()
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "message"]
    assert output[0]["summary"][0]["text"] == "2+2: add the numbers." and "encrypted_content" not in output[0]
    log = await sync_to_async(RequestLog.objects.get)()
    assert log.surface == "responses" and log.stream and log.reasoning_tokens == 12 and log.cost > 0
    await sync_to_async(ledger.assert_ledger_invariant)()


async def test_a_codex_style_tool_turn_carries_deepseek_reasoning_to_the_next_turn(world: World) -> None:
    world.fake.agent_tool = ("exec_command", {"cmd": "echo hello-from-qlaud"})
    history = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hello"}]},
    ]
    first = {
        "model": "gpt-5-codex",
        "input": history,
        "tools": CODEX_TOOLS,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"summary": "auto"},
        "parallel_tool_calls": True,
    }
    events = await stream_events(world, first)
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "function_call"]
    assert output[0]["encrypted_content"].startswith("qlaud:v1:")
    assert "I should use a tool." not in output[0]["encrypted_content"]
    call = output[1]
    assert (call["name"], json.loads(call["arguments"])) == ("exec_command", {"cmd": "echo hello-from-qlaud"})
    call_id = call["call_id"]  # the upstream's own tool-call id, kept as is
    result = {"type": "function_call_output", "call_id": call_id, "output": "hello-from-qlaud"}
    second = {**first, "input": [*history, *output, result]}
    events = await stream_events(world, second)
    assert events[-1]["response"]["output"][-1]["content"][0]["text"] == "Done: the tool said hello-from-qlaud."
    sent = world.fake.bodies("/chat/completions")
    assert [t["function"]["name"] for t in sent[0]["tools"]] == ["exec_command"]  # web_search dropped
    assistant = sent[1]["messages"][2]
    assert assistant["reasoning_content"] == "I should use a tool."
    assert assistant["tool_calls"][0]["id"] == call_id
    assert sent[1]["messages"][3] == {"role": "tool", "tool_call_id": call_id, "content": "hello-from-qlaud"}


async def test_an_anthropic_upstream_gets_its_signed_thinking_back_on_the_tool_turn(world: World) -> None:
    world.fake.agent_tool = ("exec_command", {"cmd": "ls"})
    first = {
        "model": "claude-agent",
        "input": "list files",
        "tools": CODEX_TOOLS,
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    response = await post(world, first)
    output = response.json()["output"]
    assert [i["type"] for i in output] == ["reasoning", "function_call"]
    result = {"type": "function_call_output", "call_id": output[1]["call_id"], "output": "a.txt"}
    turn = [{"role": "user", "content": "list files"}, *output, result]
    response = await post(world, {**first, "input": turn})
    await finished()
    assert response.status_code == 200, response.content
    sent = world.fake.bodies("/v1/messages")[-1]
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "I should use a tool.",
        "signature": "sig-fake-anthropic",
    }
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"


async def test_previous_response_id_continues_a_stored_conversation_and_get_returns_it(world: World) -> None:
    first = await post(world, {"model": "ds-text", "input": "first question"})
    response_id = first.json()["id"]
    second = await post(world, {"model": "ds-text", "input": "second question", "previous_response_id": response_id})
    assert second.status_code == 200, second.content
    assert second.json()["previous_response_id"] == response_id
    messages = world.fake.bodies("/chat/completions")[-1]["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "first question"),
        ("assistant", "Hello from the fake upstream."),
        ("user", "second question"),
    ]
    got = await AsyncClient().get(f"/v1/responses/{response_id}", **auth(world.key))
    assert got.status_code == 200 and got.json()["id"] == response_id
    theirs = await AsyncClient().get(f"/v1/responses/{response_id}", **auth(world.other_key))
    await finished()
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "invalid_request_error"


async def test_an_unknown_or_foreign_previous_response_id_is_a_clear_400(world: World) -> None:
    mine = await post(world, {"model": "ds-text", "input": "x"})
    for key, previous in ((world.key, "resp_nope"), (world.other_key, mine.json()["id"])):
        response = await post(world, {"model": "ds-text", "input": "y", "previous_response_id": previous}, key)
        assert response.status_code == 400
        assert response.json()["error"] == {
            "message": f"Previous response with id '{previous}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    await finished()
    await sync_to_async(ledger.assert_ledger_invariant)()


async def test_store_false_keeps_nothing(world: World) -> None:
    response = await post(world, {"model": "ds-text", "input": "x", "store": False})
    got = await AsyncClient().get(f"/v1/responses/{response.json()['id']}", **auth(world.key))
    await finished()
    assert got.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ({"model": "ds-text"}, 400, "invalid_request_error"),
        ({"model": "no-such-model", "input": "x"}, 404, "not_found_error"),
        ({"model": "ds-text", "input": [{"type": "computer_call", "call_id": "c"}]}, 400, "invalid_request_error"),
        ({"model": "ds-broken", "input": "x"}, 502, "upstream_error"),
    ],
)
async def test_refusals_are_in_the_openai_error_shape_and_charge_nothing(
    world: World, body: dict, status: int, error_type: str
) -> None:
    response = await post(world, body)
    await finished()
    assert response.status_code == status, response.content
    assert response.json()["error"]["type"] == error_type and response.json()["error"]["message"]
    assert await sync_to_async(balance)(world.org_id) == CREDIT
    log = await sync_to_async(RequestLog.objects.get)()
    assert log.surface == "responses" and log.status == status and log.cost == 0


async def test_a_missing_key_is_a_401_in_the_openai_shape(world: World) -> None:
    response = await AsyncClient().post("/v1/responses", "{}", content_type="application/json")
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"


async def test_a_websocket_upgrade_gets_an_immediate_non_101_answer(world: World) -> None:
    response = await AsyncClient().get("/v1/responses", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert response.status_code == 426 and response.json()["error"]["message"]
    assert (await AsyncClient().get("/v1/responses")).status_code == 405


async def test_an_item_reference_is_resolved_from_the_stored_output_items(world: World) -> None:
    first = (await post(world, {"model": "ds-text", "input": "hi"})).json()
    message_id = first["output"][0]["id"]
    reference = {"type": "item_reference", "id": message_id}
    items = [{"role": "user", "content": "hi"}, reference, {"role": "user", "content": "and?"}]
    response = await post(world, {"model": "ds-text", "input": items})
    assert response.status_code == 200, response.content
    sent = world.fake.bodies("/chat/completions")[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "Hello from the fake upstream."}
    missing = await post(world, {"model": "ds-text", "input": [{"type": "item_reference", "id": "msg_gone"}]})
    await finished()
    assert missing.status_code == 400 and "msg_gone" in missing.json()["error"]["message"]
