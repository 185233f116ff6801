from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from catalog import health
from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture(autouse=True)
def _breaker(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.CIRCUIT_COOLDOWN_SECONDS = 30


async def fail(host_id: int, status: int = 502) -> None:
    await health.record_outcome(host_id, ok=False, ttft_ms=None, output_tokens=0, duration_ms=50.0, status=status)


async def succeed(host_id: int, ttft_ms: float = 200.0, tokens: int = 100, duration_ms: float = 1200.0) -> None:
    await health.record_outcome(
        host_id, ok=True, ttft_ms=ttft_ms, output_tokens=tokens, duration_ms=duration_ms, status=200
    )


async def circuit(host_id: int) -> str:
    return (await health.host_health([host_id], with_stats=False))[host_id].circuit


async def test_a_host_with_no_history_is_closed_and_has_no_stats(clock):
    state = (await health.host_health([7]))[7]
    assert state.circuit == CIRCUIT_CLOSED and state.samples == 0
    assert state.p50_ttft_ms is None and state.uptime_5m is None and state.error_rate is None


async def test_the_circuit_opens_after_n_consecutive_failures(clock):
    await fail(1)
    await fail(1)
    assert await circuit(1) == CIRCUIT_CLOSED
    await fail(1)
    assert await circuit(1) == CIRCUIT_OPEN


async def test_a_success_resets_the_consecutive_failure_count(clock):
    await fail(1)
    await fail(1)
    await succeed(1)
    await fail(1)
    await fail(1)
    assert await circuit(1) == CIRCUIT_CLOSED


async def test_after_the_cool_down_exactly_one_caller_gets_the_half_open_probe(clock):
    for _ in range(3):
        await fail(1)
    clock.shift(29)
    assert await circuit(1) == CIRCUIT_OPEN
    clock.shift(2)
    assert await circuit(1) == CIRCUIT_HALF_OPEN
    assert await circuit(1) == CIRCUIT_OPEN  # the probe is taken; other workers keep waiting
    assert health.circuit_state_sync([1]) == {1: CIRCUIT_HALF_OPEN}  # pages see the true state


async def test_a_successful_probe_closes_the_circuit(clock):
    for _ in range(3):
        await fail(1)
    clock.shift(31)
    assert await circuit(1) == CIRCUIT_HALF_OPEN
    await succeed(1)
    assert await circuit(1) == CIRCUIT_CLOSED


async def test_a_failed_probe_reopens_the_circuit_for_another_cool_down(clock):
    for _ in range(3):
        await fail(1)
    clock.shift(31)
    assert await circuit(1) == CIRCUIT_HALF_OPEN
    await fail(1)
    assert await circuit(1) == CIRCUIT_OPEN
    clock.shift(29)
    assert await circuit(1) == CIRCUIT_OPEN
    clock.shift(2)
    assert await circuit(1) == CIRCUIT_HALF_OPEN


async def test_client_errors_do_not_trip_the_breaker_but_rate_limits_do(clock):
    for _ in range(5):
        await fail(1, status=400)
    assert await circuit(1) == CIRCUIT_CLOSED
    for _ in range(3):
        await fail(2, status=429)
    assert await circuit(2) == CIRCUIT_OPEN


async def test_hosts_are_independent(clock):
    for _ in range(3):
        await fail(1)
    states = await health.host_health([1, 2], with_stats=False)
    assert (states[1].circuit, states[2].circuit) == (CIRCUIT_OPEN, CIRCUIT_CLOSED)


async def test_live_stats_give_percentiles_throughput_and_uptime(clock):
    for ttft in (100.0, 200.0, 300.0, 400.0, 1000.0):
        await succeed(5, ttft_ms=ttft, tokens=100, duration_ms=ttft + 1000.0)  # 100 tokens/s
    await fail(5)
    state = (await health.host_health([5]))[5]
    assert state.p50_ttft_ms == 300.0 and state.p90_ttft_ms == 1000.0
    assert state.p50_tokens_per_s == pytest.approx(100.0)
    assert state.uptime_5m == pytest.approx(5 / 6) and state.error_rate == pytest.approx(1 / 6)
    assert state.samples == 6


async def test_uptime_windows_forget_old_traffic(clock):
    await fail(5)
    clock.shift(timedelta(minutes=10))
    await succeed(5)
    health.reset_memo()
    state = health.host_stats_sync([5])[5]
    assert state.uptime_5m == 1.0 and state.uptime_30m == 0.5 and state.uptime_1d == 0.5
    clock.shift(timedelta(minutes=40))
    state = health.host_stats_sync([5])[5]
    assert state.uptime_30m is None and state.uptime_1d == 0.5 and state.p50_ttft_ms is None


def test_percentile_is_nearest_rank():
    assert health.percentile([], 0.5) is None
    assert health.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert health.percentile([1.0, 2.0, 3.0, 4.0], 0.9) == 4.0
    assert health.percentile([5.0], 0.9) == 5.0


@pytest.mark.django_db
def test_host_stats_table_reads_the_request_log(org_a):
    from catalog.tests.conftest import make_host, make_model, make_provider
    from requestlog.models import RequestLog

    host = make_host(make_model("oss"), make_provider("groq", name="Groq"))
    now = datetime.now(UTC)
    rows = [(200, 100.0, 1100.0, 100), (200, 300.0, 1300.0, 200), (502, None, 50.0, 0), (400, None, 10.0, 0)]
    for i, (status, ttft, total, out) in enumerate(rows):
        RequestLog.objects.create(
            request_id=f"r{i}",
            org=org_a,
            requested_model="oss",
            host_id=host.id,
            status=status,
            ttft_ms=ttft,
            total_ms=total,
            output_tokens=out,
            created=now,
        )
    RequestLog.objects.create(
        request_id="old", org=org_a, requested_model="oss", host_id=host.id, status=502, created=now - timedelta(days=2)
    )

    [row] = health.host_stats_table(now=now)

    assert (row.model_id, row.provider, row.requests) == ("oss", "Groq", 4)
    assert row.uptime == 0.75  # the 400 was the client's fault
    assert (row.p50_ttft_ms, row.p90_ttft_ms) == (100.0, 300.0)
    assert row.p50_tokens_per_s == pytest.approx(100.0)


async def test_host_health_and_record_outcome_make_no_thread_hop(clock, monkeypatch):
    import asgiref.sync

    def no_hop(*args, **kwargs):
        raise AssertionError("a thread hop on the gateway hot path")

    monkeypatch.setattr(asgiref.sync, "sync_to_async", no_hop)
    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", no_hop)
    await succeed(1)
    for _ in range(3):
        await fail(1)
    assert await circuit(1) == CIRCUIT_OPEN
    state = (await health.host_health([1, 2]))[1]
    assert state.samples == 4


@pytest.mark.skipif(not __import__("django.conf").conf.settings.REDIS_URL, reason="needs REDIS_URL")
async def test_two_workers_sharing_redis_see_the_same_circuit(clock):
    a, b = health._Worker(health._worker().store), health._Worker(health._worker().store)
    assert (await b.host_health([1], with_stats=False))[1].circuit == CIRCUIT_CLOSED
    for _ in range(3):
        await a.record_outcome(1, ok=False, ttft_ms=None, status=502)
    assert (await a.host_health([1], with_stats=False))[1].circuit == CIRCUIT_OPEN  # its own failures: at once
    assert (await b.host_health([1], with_stats=False))[1].circuit == CIRCUIT_CLOSED  # b's memo, for a moment
    clock.shift(health.CIRCUIT_MEMO_SECONDS + 0.01)
    assert (await b.host_health([1], with_stats=False))[1].circuit == CIRCUIT_CLOSED  # expired: served, renewed
    await asyncio.gather(*health._refreshes)
    assert (await b.host_health([1], with_stats=False))[1].circuit == CIRCUIT_OPEN
    clock.shift(31)
    circuits = [(await w.host_health([1], with_stats=False))[1].circuit for w in (b, a, a, b)]
    assert circuits == [CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, CIRCUIT_OPEN, CIRCUIT_OPEN]  # one probe across workers
    await b.record_outcome(1, ok=True, ttft_ms=100.0, output_tokens=10, duration_ms=200.0)  # the probe succeeds
    clock.shift(health.CIRCUIT_MEMO_SECONDS + 0.01)
    await a.host_health([1], with_stats=False)  # renews a's expired memo in the background
    await asyncio.gather(*health._refreshes)
    assert (await a.host_health([1], with_stats=False))[1].circuit == CIRCUIT_CLOSED


@pytest.mark.skipif(not __import__("django.conf").conf.settings.REDIS_URL, reason="needs REDIS_URL")
async def test_buffered_successes_reach_redis_on_flush(clock):
    a, b = health._Worker(health._worker().store), health._Worker(health._worker().store)
    await a.host_health([5])  # a now knows host 5 is healthy: its successes are buffered
    for _ in range(4):
        await a.record_outcome(5, ok=True, ttft_ms=100.0, output_tokens=10, duration_ms=200.0)
    assert (await b.host_health([5]))[5].samples == 0
    await a.aflush()
    b.stats.clear()
    assert (await b.host_health([5]))[5].samples == 4


@pytest.mark.skipif(not __import__("django.conf").conf.settings.REDIS_URL, reason="needs REDIS_URL")
async def test_expired_memos_are_renewed_by_one_background_read_while_every_request_uses_them(clock):
    worker = health._Worker(health._worker().store)
    await worker.host_health([7])  # memos for host 7
    clock.shift(health.CIRCUIT_MEMO_SECONDS + 0.01)  # expired
    reads: list[int] = []
    real = worker.store.aread

    async def counted(*args):
        reads.append(1)
        return await real(*args)

    worker.store.aread = counted  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(*[worker.host_health([7]) for _ in range(16)])
        assert all(a[7].circuit == CIRCUIT_CLOSED for a in answers)  # none waited for the read
        await asyncio.gather(*health._refreshes)
        assert reads == [1] and worker.circuits[7][0] == time.time()  # renewed, by one read
        clock.shift(health.CIRCUIT_MEMO_SECONDS + 0.01)
        await asyncio.gather(worker.host_health([7]), worker.host_health([8]))
        assert reads == [1, 1, 1]  # a host with no memo yet is read even while another read runs
    finally:
        del worker.store.aread
