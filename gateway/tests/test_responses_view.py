"""POST /v1/responses through the whole gateway pipeline: qlaud under uvicorn, the fake upstream behind it.

Billing, the request log, errors in the OpenAI shape, reasoning replay across turns, previous_response_id,
item_reference and the websocket probe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django.test import Client

from accounts.keys import mint_key
from gateway.tests.conftest import CREDIT, E2E
from gateway.tests.e2e import billed
from gateway.tests.fake_upstream import FakeUpstream
from gateway.translate.sse import SSEDecoder
from wallet import ledger

pytestmark = E2E
CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "strict": False, "parameters": {"type": "object", "properties": {}}},
    {"type": "web_search", "external_web_access": False},
]


@dataclass
class World:
    url: str
    fake: FakeUpstream
    tenant: Any
    other_key: str

    @property
    def key(self) -> str:
        return self.tenant.raw


@pytest.fixture
def world(catalog: Any, tenant: Any, live: Any, fake: FakeUpstream, org_b: Any, charlie: Any) -> World:
    """Models on the fake upstream (scenario = upstream model id), a second funded org, an alias for Codex's name."""
    deepseek = catalog.provider("deepseek", "openai", "/v1")
    anthropic = catalog.provider("anthropic", "anthropic")
    for name in ("text", "reasoning", "500"):
        catalog.model(f"ds-{name}", (deepseek, f"fake-{name}"))
    catalog.alias(tenant.org, "gpt-5-codex", catalog.model("ds-agent", (deepseek, "fake-agent")))
    catalog.model("claude-agent", (anthropic, "fake-agent"))
    ledger.adjust(org_id=org_b.pk, amount=CREDIT, reason="test credit")
    _, other = mint_key(org_b, charlie, "other")
    return World(live.url, fake, tenant, other)


def post(world: World, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or world.key}"}
    return httpx.post(world.url + "/v1/responses", json=body, headers=headers, timeout=30)


def get(world: World, path: str, key: str | None = None, **headers: str) -> httpx.Response:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.get(world.url + path, headers=headers, timeout=30)


def stream_events(world: World, body: dict[str, Any]) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {world.key}"}
    decoder, events = SSEDecoder(), []
    with httpx.stream("POST", world.url + "/v1/responses", json={**body, "stream": True}, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_bytes():
            events += [json.loads(e.data) for e in decoder.feed(chunk)]
    return events


def test_a_non_streaming_turn_is_answered_billed_and_logged(world: World) -> None:
    response = post(world, {"model": "ds-text", "input": "hi", "instructions": "Be brief."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "response" and body["status"] == "completed" and body["model"] == "ds-text"
    assert body["output"][0]["content"][0]["text"] == "Hello from the fake upstream."
    assert body["usage"]["input_tokens"] == 120 and body["usage"]["input_tokens_details"]["cached_tokens"] == 20
    assert response.headers["x-qlaud-request-id"].startswith("req_")
    sent = world.fake.bodies("/chat/completions")[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    (row,) = billed()
    assert (row.surface, row.status, row.input_tokens, row.cache_read_tokens) == ("responses", 200, 100, 20)
    assert row.cost > 0 and world.tenant.balance == CREDIT - row.cost


def test_a_streamed_turn_ends_with_completed_and_is_billed(world: World) -> None:
    events = stream_events(world, {"model": "ds-reasoning", "input": "2+2?"})
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "message"]
    assert output[0]["summary"][0]["text"] == "2+2: add the numbers." and "encrypted_content" not in output[0]
    (row,) = billed()
    assert row.surface == "responses" and row.stream and row.reasoning_tokens == 12 and row.cost > 0


def test_a_codex_style_tool_turn_carries_deepseek_reasoning_to_the_next_turn(world: World) -> None:
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
    output = stream_events(world, first)[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "function_call"]
    assert output[0]["encrypted_content"].startswith("qlaud:v1:")
    assert "I should use a tool." not in output[0]["encrypted_content"]
    call = output[1]
    assert (call["name"], json.loads(call["arguments"])) == ("exec_command", {"cmd": "echo hello-from-qlaud"})
    call_id = call["call_id"]  # the upstream's own tool-call id, kept as is
    result = {"type": "function_call_output", "call_id": call_id, "output": "hello-from-qlaud"}
    events = stream_events(world, {**first, "input": [*history, *output, result]})
    assert events[-1]["response"]["output"][-1]["content"][0]["text"] == "Done: the tool said hello-from-qlaud."
    sent = world.fake.bodies("/chat/completions")
    assert [t["function"]["name"] for t in sent[0]["tools"]] == ["exec_command"]  # web_search dropped
    assistant = sent[1]["messages"][2]
    assert assistant["reasoning_content"] == "I should use a tool."
    assert assistant["tool_calls"][0]["id"] == call_id
    assert sent[1]["messages"][3] == {"role": "tool", "tool_call_id": call_id, "content": "hello-from-qlaud"}
    billed(2)


def test_an_anthropic_upstream_gets_its_signed_thinking_back_on_the_tool_turn(world: World) -> None:
    world.fake.agent_tool = ("exec_command", {"cmd": "ls"})
    first = {
        "model": "claude-agent",
        "input": "list files",
        "tools": CODEX_TOOLS,
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    output = post(world, first).json()["output"]
    assert [i["type"] for i in output] == ["reasoning", "function_call"]
    result = {"type": "function_call_output", "call_id": output[1]["call_id"], "output": "a.txt"}
    response = post(world, {**first, "input": [{"role": "user", "content": "list files"}, *output, result]})
    assert response.status_code == 200, response.content
    sent = world.fake.bodies("/v1/messages")[-1]
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "I should use a tool.",
        "signature": "sig-fake-anthropic",
    }
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    billed(2)


def test_previous_response_id_continues_a_stored_conversation_and_get_returns_it(world: World) -> None:
    response_id = post(world, {"model": "ds-text", "input": "first question"}).json()["id"]
    second = post(world, {"model": "ds-text", "input": "second question", "previous_response_id": response_id})
    assert second.status_code == 200, second.content
    assert second.json()["previous_response_id"] == response_id
    messages = world.fake.bodies("/chat/completions")[-1]["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "first question"),
        ("assistant", "Hello from the fake upstream."),
        ("user", "second question"),
    ]
    got = get(world, f"/v1/responses/{response_id}", world.key)
    assert got.status_code == 200 and got.json()["id"] == response_id
    theirs = get(world, f"/v1/responses/{response_id}", world.other_key)
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "invalid_request_error"
    billed(2)


def test_an_unknown_or_foreign_previous_response_id_is_a_clear_400(world: World) -> None:
    mine = post(world, {"model": "ds-text", "input": "x"}).json()["id"]
    for key, previous in ((world.key, "resp_nope"), (world.other_key, mine)):
        response = post(world, {"model": "ds-text", "input": "y", "previous_response_id": previous}, key)
        assert response.status_code == 400
        assert response.json()["error"] == {
            "message": f"Previous response with id '{previous}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    rows = billed(3)
    assert [r.cost > 0 for r in rows] == [True, False, False]


def test_store_false_keeps_nothing(world: World) -> None:
    response_id = post(world, {"model": "ds-text", "input": "x", "store": False}).json()["id"]
    assert get(world, f"/v1/responses/{response_id}", world.key).status_code == 404
    billed()


def test_an_item_reference_is_resolved_from_the_stored_output_items(world: World) -> None:
    message_id = post(world, {"model": "ds-text", "input": "hi"}).json()["output"][0]["id"]
    reference = {"type": "item_reference", "id": message_id}
    items = [{"role": "user", "content": "hi"}, reference, {"role": "user", "content": "and?"}]
    response = post(world, {"model": "ds-text", "input": items})
    assert response.status_code == 200, response.content
    sent = world.fake.bodies("/chat/completions")[-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": "Hello from the fake upstream."}
    missing = post(world, {"model": "ds-text", "input": [{"type": "item_reference", "id": "msg_gone"}]})
    assert missing.status_code == 400 and "msg_gone" in missing.json()["error"]["message"]
    billed(3)


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ({"model": "ds-text"}, 400, "invalid_request_error"),
        ({"model": "no-such-model", "input": "x"}, 404, "not_found_error"),
        ({"model": "ds-text", "input": [{"type": "computer_call", "call_id": "c"}]}, 400, "invalid_request_error"),
        ({"model": "ds-500", "input": "x"}, 502, "upstream_error"),
    ],
)
def test_refusals_are_in_the_openai_error_shape_and_charge_nothing(
    world: World, body: dict, status: int, error_type: str
) -> None:
    response = post(world, body)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == error_type and error["message"]
    (row,) = billed()
    assert row.surface == "responses" and row.status == status and row.cost == 0
    assert world.tenant.balance == CREDIT


def test_a_missing_key_is_a_401_in_the_openai_shape(world: World) -> None:
    response = httpx.post(world.url + "/v1/responses", json={"model": "ds-text", "input": "x"})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"


def test_a_plain_get_is_405_and_an_http_upgrade_request_is_426(world: World) -> None:
    assert get(world, "/v1/responses").status_code == 405
    # Behind a proxy that does not speak websockets the upgrade arrives as plain HTTP: still a fast non-101.
    response = Client().get("/v1/responses", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert response.status_code == 426 and json.loads(response.content)["error"]["message"]
