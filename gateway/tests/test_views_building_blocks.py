"""The pieces the surfaces are made of: error shapes, rate limits, relays, metering, the log writer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from gateway import errors, pipeline, ratelimit, records
from gateway.errors import GatewayError
from gateway.surfaces.streaming import paced
from gateway.translate import relay
from gateway.usage import Usage
from wallet import money
from wallet.money import Prices, PriceSheet


def test_errors_render_in_the_anthropic_shape_with_529_for_overload():
    response = errors.render(GatewayError("overloaded", "busy", retry_after=2.4), "anthropic", "req_1")
    assert response.status_code == 529
    assert json.loads(response.content) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
        "request_id": "req_1",
    }
    assert response["retry-after"] == "2" and response["x-qlaud-request-id"] == "req_1"


def test_errors_render_in_the_openai_shape_with_all_four_fields():
    response = errors.render(GatewayError("invalid_request", "max_tokens: bad", param="max_tokens"), "openai")
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {"message": "max_tokens: bad", "type": "invalid_request_error", "param": "max_tokens", "code": None}
    }
    assert errors.render(GatewayError("overloaded", "busy"), "openai").status_code == 503


def test_upstream_refusals_map_to_client_errors_without_blaming_the_client_for_our_keys():
    assert errors.from_upstream(401, "authentication_error", "bad key").kind == "upstream"
    assert errors.from_upstream(429, "rate_limit_error", "slow", 3).retry_after == 3
    assert errors.from_upstream(400, "invalid_request_error", "bad field").status == 400


def key(**limits: int | None) -> SimpleNamespace:
    return SimpleNamespace(key_id=41, rpm_limit=limits.get("rpm"), concurrency_limit=limits.get("concurrency"))


@pytest.mark.parametrize("redis", [False, True], ids=["local", "redis"])
async def test_requests_per_minute_are_limited_per_key(settings, redis):
    if redis and not settings.REDIS_URL:
        pytest.skip("REDIS_URL not set")
    settings.REDIS_URL = settings.REDIS_URL if redis else ""
    ratelimit.reset()
    limited = key(rpm=2)
    limited.key_id = id(limited)  # a key no other test run has counted
    await ratelimit.acquire(limited)
    await ratelimit.acquire(limited)
    with pytest.raises(GatewayError) as caught:
        await ratelimit.acquire(limited)
    assert caught.value.kind == "rate_limit" and 0 < caught.value.retry_after <= 60
    assert await ratelimit.acquire(key()) == ratelimit.Lease()  # no limits: nothing counted


async def test_concurrency_slots_are_given_back_on_release(settings):
    settings.REDIS_URL = ""
    ratelimit.reset()
    one = key(concurrency=1)
    lease = await ratelimit.acquire(one)
    with pytest.raises(GatewayError, match="concurrent"):
        await ratelimit.acquire(one)
    await lease.release()
    await lease.release()  # idempotent
    await (await ratelimit.acquire(one)).release()


def test_an_openai_pass_through_hides_the_usage_chunk_the_client_did_not_ask_for():
    r = relay.stream_relay(
        "openai", "openai", requested_model="mine", request_id="1", input_hint=0, provider="x",
        include_usage=False, sealer=pipeline.sealer(),
    )  # fmt: skip
    out = r.feed("", {"model": "up", "choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]})
    assert json.loads(out.removeprefix(b"data: "))["model"] == "mine"
    assert r.feed("", {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}) == b""
    assert r.usage == Usage(input=3, output=1) and r.finish(None) == b"data: [DONE]\n\n"


def test_an_anthropic_pass_through_echoes_the_requested_model_and_ends_cleanly_on_eof():
    r = relay.stream_relay(
        "anthropic", "anthropic", requested_model="mine", request_id="1", input_hint=0, provider="x",
        include_usage=False, sealer=pipeline.sealer(),
    )  # fmt: skip
    start = r.feed("message_start", {"type": "message_start", "message": {"model": "up", "usage": {"input_tokens": 5}}})
    assert b'"model":"mine"' in start and r.delivered
    assert b"event: error" in r.finish(None)
    assert r.error == ("api_error", "upstream closed the stream before finishing")


def test_billable_usage_prefers_the_upstream_and_estimates_only_what_is_missing():
    assert pipeline.billable_usage(Usage(input=9, output=3), 40, 50, True) == (Usage(input=9, output=3), False)
    assert pipeline.billable_usage(Usage(), 41, 50, True) == (Usage(input=50, output=11), True)
    assert pipeline.billable_usage(Usage(input=9), 8, 50, True) == (Usage(input=9, output=2), True)
    assert pipeline.billable_usage(Usage(), 0, 50, False) == (Usage(), False)


def test_the_hold_covers_the_dearest_host_failover_may_reach(settings):
    settings.GATEWAY_MAX_ATTEMPTS = 2
    cheap = SimpleNamespace(sheet=PriceSheet(Prices(input=1, output=1)), max_output_tokens=None)
    dear = SimpleNamespace(sheet=PriceSheet(Prices(input=10**6, output=10**7)), max_output_tokens=100)
    unreachable = SimpleNamespace(sheet=PriceSheet(Prices(input=10**9, output=10**9)), max_output_tokens=1)
    route = SimpleNamespace(hosts=(cheap, dear, unreachable))
    # 1000 input tokens at $1/M plus 100 output (capped by the host) at $10/M, +7%: 2140 micro-dollars.
    assert pipeline.hold_amount(route, 1000, 5000) == 2140


def test_a_metered_stream_that_delivered_nothing_new_is_not_priced_again_at_the_next_sample(monkeypatch):
    from datetime import UTC, datetime

    from wallet import leases

    watched, priced = [], []
    monkeypatch.setattr(leases, "watch", lambda hold, point: watched.append(point))
    real = money.cost
    monkeypatch.setattr(money, "cost", lambda *a, **k: priced.append(a[0]) or real(*a, **k))
    provider = SimpleNamespace(slug="deepseek")
    host = SimpleNamespace(
        sheet=PriceSheet(Prices(input=10**6, output=10**7)),
        model_id="m",
        provider=provider,
        upstream_model="u",
        id=3,
        price_version_id=4,
    )
    delivered = [Usage(input=100, output=10)]
    ticket = leases.Ticket(SimpleNamespace(), "req_1", 1000, None)
    at = datetime(2026, 12, 7, tzinfo=UTC)
    pipeline.watch(ticket, lambda: delivered[0], host, "req_1", "m", at)
    (point,) = watched
    first = point()
    assert point() is first and priced == [Usage(input=100, output=10)]  # a silence: the same point, not priced
    delivered[0] = Usage(input=100, output=30)
    second = point()
    assert second["charge"] > first["charge"] and len(priced) == 2
    # The receipt built from the stream's fixed fields is the one settling would write for the same usage.
    assert second["receipt"] == pipeline.receipt("req_1", host, "m", delivered[0], True, False, at)
    assert second["charge"] == pipeline.charge_for(delivered[0], host, at).total


def test_the_hold_is_the_byok_fee_only_where_the_org_uses_only_its_own_key(settings):
    from catalog.byok import MINE_FIRST, ONLY_MINE, OrgKey

    settings.GATEWAY_MAX_ATTEMPTS, settings.BYOK_FEE_RATE = 2, "0.05"
    sheet = PriceSheet(Prices(input=10**6, output=10**7))
    first = SimpleNamespace(sheet=sheet, max_output_tokens=100, provider=SimpleNamespace(id=1))
    second = SimpleNamespace(sheet=sheet, max_output_tokens=100, provider=SimpleNamespace(id=2))
    only_first = SimpleNamespace(hosts=(first,))
    both = SimpleNamespace(hosts=(first, second))
    only_mine, mine_first = OrgKey(7, ONLY_MINE, "sk-x"), OrgKey(8, MINE_FIRST, "sk-y")
    assert pipeline.hold_amount(only_first, 1000, 5000, {1: only_mine}) == 107  # 5% of 2140
    assert pipeline.hold_amount(only_first, 1000, 5000, {1: mine_first}) == 2140  # may fall back to qlaud's key
    assert pipeline.hold_amount(both, 1000, 5000, {1: only_mine}) == 2140  # failover may reach host 2 on qlaud's key
    assert pipeline.hold_amount(both, 1000, 5000, {1: only_mine, 2: only_mine}) == 107


def test_request_log_rows_are_written_even_without_a_running_loop(db, org_a):
    from requestlog.models import RequestLog

    records.record({"request_id": "req_sync", "org_id": org_a.pk, "surface": "chat", "requested_model": "m"})
    assert RequestLog.objects.get(request_id="req_sync").surface == "chat"


def test_request_ids_are_128_random_bits_and_a_forked_worker_draws_its_own():
    import multiprocessing
    import re

    from gateway.pipeline import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in ids)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply(new_request_id)
    assert child != new_request_id() and child not in ids


async def _drain(stream):
    out = []
    try:
        async for batch in stream:
            out.append(batch)
    except RuntimeError as exc:
        out.append(f"raised {exc}")
    return out


async def test_events_that_arrive_together_are_relayed_together_and_a_lone_one_is_not_held_back():
    import asyncio

    gate = asyncio.Event()

    async def upstream():
        for i in range(3):  # one upstream read carrying three events
            yield i
        await gate.wait()  # then a pause
        yield 3

    stream = paced(upstream(), interval=5)
    assert await anext(stream) == [0, 1, 2]
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # nothing new yet: no empty batch, no waiting for company
    gate.set()
    assert await waiting == [3]
    assert await _drain(stream) == []


async def test_a_silence_yields_none_and_a_broken_stream_delivers_what_came_before_then_raises():
    import asyncio

    async def upstream():
        yield "a"
        await asyncio.sleep(0.05)
        yield "b"
        yield "c"
        raise RuntimeError("upstream broke")

    got = await _drain(paced(upstream(), interval=0.02))
    assert got[0] == ["a"] and got[-2:] == [["b", "c"], "raised upstream broke"]
    assert got[1:-2] and all(item is None for item in got[1:-2])  # one keep-alive per 20 ms of silence


class _Translator:
    """The least a stream translator does: text in, bytes out, the settle it was given remembered."""

    delivered = True

    def __init__(self) -> None:
        self.settled: list[str] = []

    def opening(self) -> bytes:
        return b""

    def feed_all(self, batch: list[str]) -> bytes:
        return "".join(batch).encode()

    def keepalive(self) -> bytes:
        return b""

    def watch(self) -> None:
        pass

    def finish(self) -> bytes:
        return b"[DONE]"

    def fail(self, message: str) -> bytes:
        return message.encode()

    def error_type(self) -> str:
        return ""

    async def settle(self, error_type: str) -> None:
        self.settled.append(error_type)


def _upstream_stream(events: list[str]) -> tuple[SimpleNamespace, object]:
    async def iterate():
        for event in events:
            yield event

    host = SimpleNamespace(id=1, first_byte_timeout=5.0, idle_timeout=5.0)
    return SimpleNamespace(host=host, response=SimpleNamespace(aclose=_noop)), iterate()


async def _noop() -> None:
    pass


@pytest.mark.parametrize("reads_the_end", [True, False])
async def test_a_client_that_leaves_after_the_end_of_the_stream_is_not_logged_as_a_disconnect(reads_the_end):
    import asyncio

    from gateway.surfaces.streaming import loop

    up, events = _upstream_stream(["hel", "lo"])
    t = _Translator()
    stream = loop(up, t, "req_1", events)
    got = [await anext(stream)]
    while reads_the_end and got[-1] != b"[DONE]":
        got.append(await anext(stream))
    with pytest.raises(asyncio.CancelledError):  # the server cancels the response when the client goes away
        await stream.athrow(asyncio.CancelledError())
    assert (got[-1] == b"[DONE]") == reads_the_end
    assert t.settled == ["" if reads_the_end else "client_disconnected"]
