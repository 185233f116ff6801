"""Per-worker admission over a real server: a full or late worker refuses new requests early, in the surface's
shape with Retry-After and without calling the upstream, while the streams it already serves keep going."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway import admission, outbound
from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, openai_client

HI = [{"role": "user", "content": "hi"}]


def e2e(test: Any) -> Any:
    for mark in E2E:
        test = mark(test)
    return test


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    ds = catalog.provider("deepseek")
    catalog.model("text", (ds, "fake-text"))
    catalog.model("slow", (ds, "fake-slow"))
    return tenant


@e2e
def test_a_full_worker_refuses_messages_with_529_overloaded_and_retry_after_before_calling_upstream(
    live, world, fake, settings
):
    settings.GATEWAY_MAX_OPEN_STREAMS = 0
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client(live, world.raw).messages.create(model="text", max_tokens=20, messages=HI, stream=True)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert caught.value.response.headers["retry-after"] == "1"
    assert fake.requests == []


@e2e
def test_a_full_worker_refuses_chat_completions_with_503_in_openai_shape_before_calling_upstream(
    live, world, fake, settings
):
    settings.GATEWAY_MAX_OPEN_STREAMS = 0
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(live, world.raw).chat.completions.create(model="text", messages=HI, stream=True)
    assert caught.value.status_code == 503
    assert caught.value.body["code"] == "server_is_overloaded"
    assert caught.value.response.headers["retry-after"] == "1"
    assert fake.requests == []


@e2e
def test_a_late_event_loop_refuses_new_requests_before_calling_upstream(live, world, fake, settings):
    settings.GATEWAY_MAX_LOOP_LAG_MS = -1.0  # any lag at all is too much
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(live, world.raw).chat.completions.create(model="text", messages=HI)
    assert caught.value.status_code == 503 and caught.value.response.headers["retry-after"] == "1"
    assert fake.requests == []


@e2e
def test_a_stream_already_open_keeps_going_while_new_ones_are_refused(live, world, fake, settings, monkeypatch):
    monkeypatch.setattr(fake, "delay", 0.3)  # the first stream stays open for seconds, chunk after chunk
    settings.GATEWAY_MAX_OPEN_STREAMS = 1
    body = {"model": "slow", "max_tokens": 50, "stream": True, "messages": HI}
    with httpx.stream("POST", live.url + "/v1/messages", json=body, headers={"x-api-key": world.raw}) as first:
        chunks = first.iter_bytes()
        assert b"message_start" in next(chunks)
        refused = httpx.post(live.url + "/v1/messages", json=body, headers={"x-api-key": world.raw})
        rest = b"".join(chunks)
    assert refused.status_code == 529 and refused.json()["error"]["type"] == "overloaded_error"
    assert b"message_stop" in rest
    assert len(fake.requests) == 1


@e2e
def test_v1_status_shows_the_workers_open_streams_and_loop_lag(live, world, settings):
    body = httpx.get(live.url + "/v1/status").json()
    worker = body["worker"]
    assert set(worker) == {
        "open_requests",
        "open_streams",
        "max_open_streams",
        "loop_lag_ms",
        "max_loop_lag_ms",
        "refused",
    }
    assert (
        worker["open_streams"] == 0
        and worker["max_open_streams"] == settings.GATEWAY_MAX_OPEN_STREAMS
        and worker["loop_lag_ms"] >= 0
    )


def test_the_upstream_pool_holds_at_least_one_connection_per_admitted_stream(settings):
    assert outbound.LIMITS.max_connections is not None
    assert outbound.LIMITS.max_connections >= settings.GATEWAY_MAX_OPEN_STREAMS


async def test_the_lag_monitor_counts_a_loop_late_twice_in_a_row_and_not_a_single_pause():
    monitor = admission.monitor()
    await asyncio.sleep(admission.LAG_INTERVAL * 2.5)
    assert monitor.lag < 0.05
    time.sleep(0.3)  # noqa: ASYNC251  # the loop is blocked once: the next tick runs ~0.2 s late
    await asyncio.sleep(0.01)
    assert monitor.lag < 0.05
    time.sleep(0.3)  # noqa: ASYNC251  # and again, at once: the tick after runs late too
    await asyncio.sleep(0.01)
    assert monitor.lag > 0.15
    assert admission.monitor() is monitor  # one per loop
