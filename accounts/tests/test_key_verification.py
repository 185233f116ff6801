from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from accounts import keys
from accounts.keys import (
    KeyRefused,
    KeyVerifier,
    LocalEpochStore,
    flush_usage,
    hash_key,
    mint_key,
    raw_key_from_headers,
    revoke_key,
    verify_key,
)
from accounts.models import ApiKey

verify = async_to_sync(verify_key)


@pytest.fixture
def minted(org_a, alice):
    return mint_key(org_a, alice, "laptop", spend_limit=5_000_000, limit_period="month", allowed_models=["m1"])


def test_a_minted_key_has_the_documented_shape_and_only_its_hash_is_stored(minted):
    key, raw = minted
    assert raw.startswith("ak_") and len(raw) == 43
    assert key.prefix == raw[3:15]
    assert key.hashed == hash_key(raw) and raw not in key.hashed
    assert ApiKey.objects.filter(hashed=raw).count() == 0


def test_it_accepts_a_good_key_and_returns_its_context(minted, org_a, alice):
    key, raw = minted
    context = verify(raw)
    assert (context.key_id, context.org_id, context.user_id) == (key.pk, org_a.pk, alice.pk)
    assert context.spend_limit == 5_000_000 and context.limit_period == "month"
    assert context.allowed_models == ("m1",) and context.prefix == key.prefix


def test_it_refuses_a_wrong_key_with_a_known_prefix(minted):
    _key, raw = minted
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with pytest.raises(KeyRefused, match="Invalid API key"):
        verify(wrong)


def test_it_refuses_an_unknown_prefix_and_malformed_keys(minted):
    for bad in ["ak_" + "x" * 40, "ak_short", "sk-" + "a" * 40, "", "ak_" + "é" * 40]:
        with pytest.raises(KeyRefused):
            verify(bad)


def test_it_refuses_a_revoked_key(minted):
    key, raw = minted
    revoke_key(key)
    with pytest.raises(KeyRefused, match="revoked"):
        verify(raw)


def test_it_refuses_an_expired_key_even_when_it_was_cached(org_a, alice):
    _key, raw = mint_key(org_a, alice, "short-lived", expires_at=timezone.now() + timedelta(hours=1))
    assert verify(raw).expires_at is not None
    with time_machine.travel(timezone.now() + timedelta(hours=2)), pytest.raises(KeyRefused, match="expired"):
        verify(raw)


def test_revocation_takes_effect_on_the_next_request_even_after_the_key_was_cached(minted):
    key, raw = minted
    verify(raw)
    assert key.prefix in keys._get_verifier().entries
    revoke_key(ApiKey.objects.get(pk=key.pk))
    with pytest.raises(KeyRefused, match="revoked"):
        verify(raw)


def test_two_workers_sharing_an_epoch_both_refuse_a_key_revoked_by_a_third(minted):
    key, raw = minted
    shared = LocalEpochStore()
    keys._store = shared
    worker_1, worker_2 = KeyVerifier(shared), KeyVerifier(shared)
    async_to_sync(worker_1.verify)(raw)
    async_to_sync(worker_2.verify)(raw)
    revoke_key(key)
    for worker in (worker_1, worker_2):
        with pytest.raises(KeyRefused, match="revoked"):
            async_to_sync(worker.verify)(raw)


def test_a_cache_hit_makes_no_query(minted, django_assert_num_queries):
    _key, raw = minted
    verify(raw)
    with django_assert_num_queries(0):
        verify(raw)


def test_a_cache_hit_costs_well_under_a_millisecond(minted):
    _key, raw = minted
    verifier = KeyVerifier(LocalEpochStore())

    async def many(n: int) -> float:
        await verifier.verify(raw)
        start = time.perf_counter()
        for _ in range(n):
            await verifier.verify(raw)
        return (time.perf_counter() - start) / n

    assert async_to_sync(many)(500) < 0.0005


def test_last_used_is_recorded_by_a_batched_flush_not_by_verify(minted, django_assert_num_queries):
    key, raw = minted
    verify(raw)
    key.refresh_from_db()
    assert key.last_used_at is None
    assert flush_usage() == 1
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert flush_usage() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "ak_K"},
        {"X-Api-Key": "ak_K"},
        {"Authorization": "Bearer ak_K"},
        {"authorization": "bearer   ak_K "},
        {"AUTHORIZATION": "Bearer ak_K", "Content-Type": "application/json"},
    ],
)
def test_it_reads_the_key_from_either_header_in_any_case(headers):
    assert raw_key_from_headers(headers) == "ak_K"


def test_it_finds_no_key_without_a_usable_header():
    assert raw_key_from_headers({}) is None
    assert raw_key_from_headers({"Authorization": "Basic abc"}) is None
    assert raw_key_from_headers({"x-api-key": "  "}) is None


def test_it_reads_django_request_headers(rf):
    request = rf.get("/", HTTP_X_API_KEY="ak_1")
    assert raw_key_from_headers(request.headers) == "ak_1"
    request = rf.get("/", HTTP_AUTHORIZATION="Bearer ak_2")
    assert raw_key_from_headers(request.headers) == "ak_2"


@pytest.mark.skipif(not __import__("django.conf").conf.settings.REDIS_URL, reason="needs REDIS_URL")
def test_two_workers_with_separate_caches_sharing_redis_both_refuse_a_revoked_key(minted):
    from lib.shared_state import redis_url

    key, raw = minted
    name = f"test:key-epoch:{key.prefix}"
    keys._store = keys.RedisEpochStore(redis_url(), name)  # the dashboard process revoking
    worker_1 = KeyVerifier(keys.RedisEpochStore(redis_url(), name))
    worker_2 = KeyVerifier(keys.RedisEpochStore(redis_url(), name))

    async def both() -> list[str]:
        outcomes = []
        for worker in (worker_1, worker_2):
            try:
                await worker.verify(raw)
                outcomes.append("ok")
            except KeyRefused as refused:
                outcomes.append(refused.message)
        return outcomes

    assert async_to_sync(both)() == ["ok", "ok"]
    revoke_key(key)
    time.sleep(settings.KEY_EPOCH_MAX_AGE_MS / 1000)  # the most a worker's copy of the epoch may lag
    assert all("revoked" in outcome for outcome in async_to_sync(both)())


def test_on_the_event_loop_the_usage_flush_runs_as_a_background_task(minted, monkeypatch):
    import asyncio

    key, raw = minted
    monkeypatch.setattr(keys, "_last_flush", time.monotonic() - keys.USAGE_FLUSH_SECONDS - 1)

    async def request_then_wait() -> None:
        await verify_key(raw)
        assert keys._flush_tasks, "verify should not write the database itself"
        await asyncio.gather(*keys._flush_tasks)

    async_to_sync(request_then_wait)()
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_concurrent_requests_read_the_shared_epoch_once_per_max_age(monkeypatch, settings):
    import asyncio

    settings.KEY_EPOCH_MAX_AGE_MS = 10_000
    reads: list[str] = []

    class SlowRedis:
        async def get(self, name: str) -> bytes:
            reads.append(name)
            await asyncio.sleep(0.01)
            return b"epoch-1"

    store = keys.RedisEpochStore("redis://unused", "test:epoch")
    monkeypatch.setattr(store, "_client", lambda: SlowRedis())

    async def many() -> list[str]:
        first = await store.current()  # the first read fills the copy
        rest = await asyncio.gather(*(store.current() for _ in range(50)))
        return [first, *rest]

    assert set(async_to_sync(many)()) == {"epoch-1"}
    assert reads == ["test:epoch"]
    store._read_at -= 20  # the copy is older than the max age: one read for all of them again

    async def again() -> None:
        await asyncio.gather(*(store.current() for _ in range(50)))

    async_to_sync(again)()
    assert reads == ["test:epoch", "test:epoch"]


def test_under_traffic_a_thread_keeps_the_epoch_fresh_so_no_request_waits_for_redis(monkeypatch, settings):
    import asyncio

    # Renewed every 100 ms: wide enough that a loaded machine's scheduling delays don't decide the result.
    settings.KEY_EPOCH_MAX_AGE_MS = 400
    awaited: list[str] = []
    renewals: list[str] = []

    class AsyncRedis:
        async def get(self, name: str) -> bytes:
            awaited.append(name)
            await asyncio.sleep(0)
            return b"epoch-1"

    class SyncRedis:
        def get(self, name: str) -> bytes:
            renewals.append(name)
            return b"epoch-2"

    store = keys.RedisEpochStore("redis://unused", "test:epoch")
    monkeypatch.setattr(store, "_client", lambda: AsyncRedis())
    monkeypatch.setattr(store, "sync_client", lambda: SyncRedis())

    async def traffic() -> list[str]:
        seen = []
        for _ in range(10):  # 1.5 s of requests: almost four times the max age
            seen.append(await store.current())
            await asyncio.sleep(0.15)
        return seen

    seen = async_to_sync(traffic)()
    assert awaited == ["test:epoch"]  # only the first request, with nothing in hand, waited for a read
    assert seen[0] == "epoch-1" and seen[-1] == "epoch-2" and len(renewals) >= 5
    store.RENEWER_IDLE_SECONDS = 0.0  # no more traffic: the thread stops
    assert store._renewer is not None
    store._renewer.join(timeout=1)
    assert not store._renewer.is_alive()


def test_a_renewal_that_may_predate_this_process_own_bump_is_dropped(monkeypatch):
    store = keys.RedisEpochStore("redis://unused", "test:epoch")

    class Redis:
        def get(self, name: str) -> bytes:
            store.bump()  # this process revokes a key while the renewal's read is in flight
            return b"old"

        def set(self, name: str, value: str) -> None:
            pass

        def pipeline(self, transaction: bool = True) -> Redis:
            return self

        def __enter__(self) -> Redis:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def execute(self) -> list[bool]:
            return [True, True]

    monkeypatch.setattr(store, "sync_client", lambda: Redis())
    store._value, store._read_at = "old", time.monotonic()
    store.renew()
    assert store._read_at == -1e9  # still expired: the next request reads the epoch afresh
