"""The real openai SDK's `responses.create` / `responses.stream` against qlaud under uvicorn and the fake upstream."""

from __future__ import annotations

import json
import socket
from typing import Any

import openai
import pytest

from catalog import health
from catalog.models import Host
from gateway.tests.e2e import billed, expected_charge, fake_usage, openai_client

pytestmark = pytest.mark.e2e

UPSTREAMS = {"openai": ("deepseek", "openai", "/v1"), "anthropic": ("anthropic", "anthropic", "")}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(params=list(UPSTREAMS))
def upstream(request: Any, catalog: Any) -> str:
    slug, protocol, path = UPSTREAMS[request.param]
    provider = catalog.provider(slug, protocol, path)
    for scenario in ("text", "parallel", "reasoning"):
        catalog.model(f"m-{scenario}", (provider, f"fake-{scenario}"))
    return request.param


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_the_sdk_gets_text_and_the_bill_matches_the_upstream_usage(upstream, live, tenant, stream) -> None:
    client = openai_client(live, tenant.raw)
    if stream:
        with client.responses.stream(model="m-text", input="hi", instructions="Be brief.") as s:
            deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
            response = s.get_final_response()
        assert "".join(deltas) == "Hello from the fake upstream."
    else:
        response = client.responses.create(model="m-text", input="hi", instructions="Be brief.")
    assert response.status == "completed" and response.model == "m-text"
    assert response.output_text == "Hello from the fake upstream."
    assert response.usage.input_tokens == 120 and response.usage.input_tokens_details.cached_tokens == 20
    (row,) = billed()
    assert row.surface == "responses" and row.stream is stream
    assert row.cost == expected_charge(fake_usage())


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_an_answer_feeds_the_host_health_like_the_other_surfaces(upstream, live, tenant, stream) -> None:
    # /v1/responses once went through the site's sync middleware: the background bookkeeping then inherited the
    # request's thread executor, and after a non-streaming answer the host's outcome was never recorded.
    client = openai_client(live, tenant.raw)
    if stream:
        with client.responses.stream(model="m-text", input="hi") as s:
            s.get_final_response()
    else:
        client.responses.create(model="m-text", input="hi")
    billed()
    host = Host.objects.get(upstream_model="fake-text")
    stats = health.host_stats_sync([host.id])[host.id]
    assert stats.samples == 1 and stats.uptime_5m == 1.0, stats


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_the_sdk_gets_parallel_function_calls_with_their_call_ids(upstream, live, tenant, stream) -> None:
    client = openai_client(live, tenant.raw)
    kwargs: dict[str, Any] = {"model": "m-parallel", "input": "weather in Oslo and Rome?", "tools": [WEATHER]}
    if stream:
        with client.responses.stream(**kwargs) as s:
            for _ in s:
                pass
            response = s.get_final_response()
    else:
        response = client.responses.create(**kwargs)
    calls = [o for o in response.output if o.type == "function_call"]
    assert [(c.call_id, json.loads(c.arguments)["city"]) for c in calls] == [("call_A", "Oslo"), ("call_B", "Rome")]
    assert all(c.status == "completed" and c.name == "get_weather" for c in calls)
    assert response.output_text == "Checking both."
    billed()


def test_the_sdk_streams_reasoning_summaries_with_a_sealed_blob(upstream, live, tenant) -> None:
    client = openai_client(live, tenant.raw)
    with client.responses.stream(
        model="m-reasoning", input="2+2?", include=["reasoning.encrypted_content"], reasoning={"effort": "low"}
    ) as s:
        summary = "".join(e.delta for e in s if e.type == "response.reasoning_summary_text.delta")
        response = s.get_final_response()
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == summary == "2+2: add the numbers."
    assert reasoning.encrypted_content.startswith("qlaud:v1:")
    assert response.output_text == "4"
    billed()


def test_the_sdk_raises_a_bad_request_for_an_unknown_previous_response(upstream, live, tenant) -> None:
    client = openai_client(live, tenant.raw)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="m-text", input="hi", previous_response_id="resp_gone")
    assert refused.value.code == "previous_response_not_found"


def test_the_sdk_retrieves_a_stored_response_and_continues_from_it(upstream, live, tenant) -> None:
    client = openai_client(live, tenant.raw)
    first = client.responses.create(model="m-text", input="first")
    assert client.responses.retrieve(first.id).output_text == "Hello from the fake upstream."
    second = client.responses.create(model="m-text", input="second", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.output_text
    billed(2)


def test_a_websocket_handshake_on_the_live_server_is_refused_at_once(live) -> None:
    # Codex's built-in provider tries a websocket first and falls back to POST on any non-101 answer.
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4") and b" 101 " not in status_line
