"""The chaos drills' own arithmetic and their fake upstream (the drills themselves run with `make chaos`)."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.chaos import upstream
from bench.chaos.drills import _summary
from bench.chaos.load import Outcome


def outcome(start: float, result: str = "ok", status: int = 200, **kw) -> Outcome:
    return Outcome(start, start + 0.1, "chat", False, result, status, **kw)


def test_an_error_answer_is_a_violation_only_when_not_json_a_500_or_a_503_without_retry_after():
    assert outcome(1, "http", 502).violation == ""  # an upstream failure, in the surface's JSON shape
    assert outcome(1, "http", 503, retry_after=True).violation == ""
    assert outcome(1, "http", 529, retry_after=False).violation == "529 without Retry-After"
    assert outcome(1, "http", 500).violation == "500"
    assert outcome(1, "http", 403, json=False).violation == "not JSON"
    assert outcome(1, "stream_error").violation == ""  # the stream ended with the surface's error event


def test_seconds_of_refusal_run_from_the_fault_end_to_the_start_of_the_last_request_that_failed():
    outcomes = [outcome(1), outcome(5, "http", 502), outcome(10.5, "http", 502), outcome(11), outcome(12)]
    summary = _summary(outcomes, at=4, heal=10)
    assert summary["refusal_after_recovery_s"] == 0.5
    assert summary["errors"] == {"http 502": 2} and summary["ok"] == 3
    assert summary["requests_during_fault"] == 1 and summary["failed_during_fault"] == 1
    assert _summary([outcome(1), outcome(5, "http", 502)], at=4, heal=10)["refusal_after_recovery_s"] == 0


@pytest.fixture
async def fake():
    upstream.MODES.clear()
    upstream.CALLS.clear()
    transport = httpx.ASGITransport(app=upstream.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        yield client


async def test_the_fake_upstream_streams_real_chat_chunks_with_usage_equal_to_the_chunks_sent(fake):
    await fake.post("/_control/solo?chunks=3&interval_ms=1")
    response = await fake.post("/solo/v1/chat/completions", json={"stream": True, "messages": []})
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[:3]] == [" tok"] * 3
    assert chunks[-1]["usage"]["completion_tokens"] == 3


async def test_the_fake_upstream_switches_each_host_on_its_own_and_counts_calls_by_mode(fake):
    await fake.post("/_control/pa?mode=429")
    refused = await fake.post("/pa/v1/chat/completions", json={"messages": []})
    served = await fake.post("/pb/v1/chat/completions", json={"messages": []})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    assert served.json()["usage"]["completion_tokens"] == 20
    assert (await fake.get("/_stats")).json() == {"pa": {"429": 1}, "pb": {"ok": 1}}
