"""Streams over a real server: client disconnects, count_tokens, and streamed vs non-streamed billing."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from gateway.surfaces import streaming
from gateway.tests.conftest import E2E, settle_background
from gateway.tests.e2e import anthropic_client, billed, openai_client
from gateway.tests.fake_upstream import COUNT_TOKENS_BASE
from gateway.translate import relay
from wallet.models import Hold

pytestmark = E2E

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    ds = catalog.provider("deepseek")
    an = catalog.provider("anthropic", "anthropic")
    catalog.model("text", (ds, "fake-text"))
    catalog.model("slow", (ds, "fake-slow"))
    catalog.model("claude-text", (an, "fake-text"))
    return tenant


def test_a_client_disconnect_cancels_the_upstream_and_still_settles(live, world, fake):
    fake.delay = 0.5
    body = {"model": "slow", "max_tokens": 50, "stream": True, "messages": HI}
    with httpx.stream("POST", live.url + "/v1/messages", json=body, headers={"x-api-key": world.raw}) as response:
        first = next(response.iter_bytes())
        assert b"message_start" in first
    deadline = time.monotonic() + 5
    while fake.aborted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.aborted == 1
    (row,) = billed()
    assert (row.status, row.error_type) == (499, "client_disconnected")
    lease = Hold.objects.get(lease=True)
    assert lease.metered_receipt["requests"] == {}  # nothing of this request is left in flight on the lease


def test_a_stream_notes_what_it_delivered_on_its_hold_while_it_runs(live, world, fake):
    """If this worker died now, the reconciler would charge the checkpoint, not release the hold."""
    fake.delay = 0.5
    body = {"model": "slow", "max_tokens": 50, "stream": True, "messages": HI}
    with httpx.stream("POST", live.url + "/v1/chat/completions", json=body, headers={"x-api-key": world.raw}) as r:
        chunks = r.iter_bytes()
        while b"Slow" not in next(chunks):
            pass
        deadline = time.monotonic() + 5
        lease = Hold.objects.get(lease=True)  # this worker's reservation on the wallet
        while lease.metered_charge == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            lease.refresh_from_db()
        assert lease.status == Hold.Status.OPEN
        (point,) = lease.metered_receipt["requests"].values()
        assert lease.metered_charge == point["charge"] > 0 and point["receipt"]["model"] == "slow"
    (row,) = billed()
    assert row.cost >= lease.metered_charge


def test_what_a_stream_delivered_reaches_its_lease_within_a_flush_or_two_not_at_the_next_5_s_checkpoint(
    live, world, fake
):
    """A hard kill loses at most one flush interval of a stream: the metered point follows the output."""
    fake.delay = 0.8
    body = {"model": "slow", "max_tokens": 50, "stream": True, "messages": HI}

    def metered_output(lease: Hold, above: int) -> int:
        deadline = time.monotonic() + 0.6  # three flush intervals
        while time.monotonic() < deadline:
            lease.refresh_from_db()
            points = list(lease.metered_receipt.get("requests", {}).values())
            if points and points[0]["receipt"]["usage"]["output"] > above:
                break
            time.sleep(0.02)
        return points[0]["receipt"]["usage"]["output"] if points else 0

    with httpx.stream("POST", live.url + "/v1/chat/completions", json=body, headers={"x-api-key": world.raw}) as r:
        chunks = r.iter_bytes()
        while b"Slow" not in next(chunks):
            pass
        lease = Hold.objects.get(lease=True)
        first = metered_output(lease, 0)
        while b"steady" not in next(chunks):
            pass
        later = metered_output(lease, first)
    assert 0 < first < later


def test_a_long_silence_on_the_responses_surface_is_bridged_with_comments(live, world, fake, monkeypatch):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.05)
    fake.delay = 0.3
    body = {"model": "slow", "max_output_tokens": 50, "stream": True, "input": "hi"}
    response = httpx.post(live.url + "/v1/responses", json=body, headers={"x-api-key": world.raw}, timeout=30)
    assert b": keep-alive" in response.content and b"response.completed" in response.content
    (row,) = billed()
    assert row.error_type == "" and row.cost > 0


def test_streamed_and_non_streamed_answers_bill_the_same(live, world):
    client = openai_client(live, world.raw)
    client.chat.completions.create(model="text", messages=HI)
    for _ in client.chat.completions.create(model="text", messages=HI, stream=True):
        pass
    with anthropic_client(live, world.raw).messages.stream(model="claude-text", max_tokens=9, messages=HI) as s:
        s.get_final_message()
    rows = billed(3)
    assert len({r.cost for r in rows}) == 1 and rows[0].cost > 0


def test_count_tokens_asks_an_anthropic_upstream_and_costs_nothing(live, world, fake):
    count = anthropic_client(live, world.raw).messages.count_tokens(model="claude-text", messages=HI)
    (sent,) = fake.bodies("/v1/messages/count_tokens")
    assert count.input_tokens == COUNT_TOKENS_BASE + len(json.dumps(sent["messages"])) // 4
    assert "max_tokens" not in sent and sent["model"] == "fake-text"
    assert world.balance == 10_000_000


def test_count_tokens_estimates_for_openai_compatible_upstreams(live, world, fake):
    client = anthropic_client(live, world.raw)
    short = client.messages.count_tokens(model="text", messages=HI).input_tokens
    long = client.messages.count_tokens(model="text", messages=[{"role": "user", "content": "word " * 400}])
    assert 0 < short < long.input_tokens
    assert fake.requests == []


def test_count_tokens_needs_a_key_and_a_known_model(live, world):
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(live, "ak_nope").messages.count_tokens(model="text", messages=HI)
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client(live, world.raw).messages.count_tokens(model="missing", messages=HI)


@pytest.mark.parametrize(
    ("path", "marker"), [("/v1/messages", b"event: ping"), ("/v1/chat/completions", b": keep-alive")]
)
def test_long_upstream_silences_are_bridged_with_keepalives(live, world, fake, monkeypatch, path, marker):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.05)
    fake.delay = 0.3
    body = {"model": "slow", "max_tokens": 50, "stream": True, "messages": HI}
    response = httpx.post(live.url + path, json=body, headers={"x-api-key": world.raw}, timeout=30)
    assert marker in response.content
    assert b"Slow" in response.content and b"steady" in response.content
    (row,) = billed()
    assert row.error_type == "" and row.cost > 0


@pytest.mark.parametrize("model", ["text", "claude-text"])
def test_streams_under_uvicorns_httptools_are_spliced_to_the_socket_not_iterated(live, world, monkeypatch, model):
    async def iterated(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the stream loop ran")
        yield b""  # an async generator, as the loop is

    monkeypatch.setattr(streaming, "loop", iterated)
    with anthropic_client(live, world.raw).messages.stream(model=model, max_tokens=50, messages=HI) as stream:
        assert stream.get_final_text() == "Hello from the fake upstream."
    chunks = list(openai_client(live, world.raw).chat.completions.create(model=model, messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the fake upstream."
    assert [row.error_type for row in billed(2)] == ["", ""]


def test_an_ended_stream_is_freed_by_reference_counting_not_left_to_the_cycle_collector(live, world):
    """A stream's objects (relay, exchange, upstream response) in a reference cycle would wait for a full collection,
    or stay forever once the worker froze its heap (gateway.asgi.freeze_heap). With the collector off during two
    streams, a collection afterwards must find no relay among what only cycles kept."""
    gc.collect()
    # type(), not isinstance(): a dead weakref.proxy among the objects raises on any attribute, __class__ included.
    before = {id(o) for o in gc.get_objects() if issubclass(type(o), relay.Relay)}  # another test's stream, ending
    gc.disable()
    try:
        body = {"model": "text", "max_tokens": 50, "stream": True, "messages": HI}
        for path, auth in (
            ("/v1/messages", {"x-api-key": world.raw}),
            ("/v1/chat/completions", {"authorization": f"Bearer {world.raw}"}),
        ):
            with httpx.stream("POST", live.url + path, json=body, headers=auth) as response:
                assert b"Hello" in response.read()
        settle_background()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collection finds unreachable is kept in gc.garbage, to look at
        gc.collect()
        cyclic = [type(o).__name__ for o in gc.garbage if issubclass(type(o), relay.Relay) and id(o) not in before]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert cyclic == []
