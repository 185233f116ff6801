from __future__ import annotations

import time

import pytest

from catalog import snapshot
from catalog.crypto import encrypt
from catalog.models import Host
from catalog.tests.conftest import make_host, make_model, make_provider


@pytest.mark.django_db
def test_the_snapshot_holds_enabled_models_with_hosts_in_priority_order():
    groq, cerebras, off = make_provider("groq"), make_provider("cerebras"), make_provider("off", enabled=False)
    oss = make_model("oss")
    slow = make_host(oss, groq, priority=20)
    fast = make_host(oss, cerebras, priority=10)
    make_host(oss, off, priority=1)
    make_host(make_model("hidden", enabled=False), groq)

    snap = snapshot.get_snapshot_sync()

    assert list(snap.models) == ["oss"]
    assert [h.id for h in snap.models["oss"].hosts] == [fast.id, slow.id]
    info = snap.hosts[fast.id]
    assert info.prices.input == 1_000_000 and info.price_version_id == fast.price_id
    assert info.provider.slug == "cerebras" and info.context_length == 128_000
    assert info.capabilities == frozenset({"tools"})


@pytest.mark.django_db
def test_a_disabled_host_is_not_in_the_snapshot():
    oss = make_model("oss")
    make_host(oss, make_provider("groq"), enabled=False)
    assert snapshot.get_snapshot_sync().models == {}


@pytest.mark.django_db
def test_the_snapshot_is_rebuilt_after_a_catalog_change():
    groq = make_provider("groq")
    host = make_host(make_model("oss"), groq)
    first = snapshot.get_snapshot_sync()
    assert snapshot.get_snapshot_sync() is first  # a hit is the same object

    Host.objects.filter(pk=host.pk).update(priority=5)  # .update() sends no signal ...
    assert snapshot.get_snapshot_sync() is first
    host.priority = 7
    host.save()  # ... a save does

    second = snapshot.get_snapshot_sync()
    assert second is not first and second.version != first.version
    assert second.hosts[host.id].priority == 7


@pytest.mark.django_db
def test_another_workers_change_is_seen_within_a_second(time_machine):
    from catalog import version

    host = make_host(make_model("oss"), make_provider("groq"))
    first = snapshot.get_snapshot_sync()
    Host.objects.filter(pk=host.pk).update(priority=3)
    from django.core.cache import cache

    from lib import shared_state

    # What another process's bump looks like: the shared cache with Redis, the shared file without.
    if shared_state.redis_url():
        cache.set(version.VERSION_KEY, first.version + 1)
    else:
        shared_state.file_value("catalog-version").write(str(first.version + 1))
    snapshot._holder.checked_at -= snapshot.CHECK_EVERY_SECONDS  # a second goes by
    assert snapshot.get_snapshot_sync().hosts[host.id].priority == 3


@pytest.mark.django_db(transaction=True)
async def test_get_snapshot_is_async_and_cached(close_thread_connections):
    from asgiref.sync import sync_to_async

    await sync_to_async(lambda: make_host(make_model("oss"), make_provider("groq")))()
    first = await snapshot.get_snapshot()
    assert "oss" in first.models
    assert await snapshot.get_snapshot() is first


@pytest.mark.django_db
def test_provider_api_key_reads_the_env_var_or_the_stored_key(monkeypatch):
    monkeypatch.setenv("GROQ_TEST_KEY", "gsk_from_env")
    make_host(make_model("a"), make_provider("groq", api_key_env="GROQ_TEST_KEY"))
    make_host(make_model("b"), make_provider("stored", api_key_env="UNSET_VAR", api_key_encrypted=encrypt("sk-stored")))
    make_host(make_model("c"), make_provider("none"))
    providers = snapshot.get_snapshot_sync().providers
    assert snapshot.provider_api_key(providers["groq"]) == "gsk_from_env"
    assert snapshot.provider_api_key(providers["stored"]) == "sk-stored"
    assert snapshot.provider_api_key(providers["none"]) is None
    assert "sk-stored" not in repr(providers["stored"])


def test_base_url_placeholders_come_from_config_or_the_environment(monkeypatch):
    from catalog.snapshot import expand_base_url

    monkeypatch.setenv("CF_ACCOUNT_FOR_TEST", "abc123")
    config = {"region": "eu-west-1", "account_id_env": "CF_ACCOUNT_FOR_TEST"}
    assert expand_base_url("https://bedrock-runtime.{region}.amazonaws.com/", config) == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com"
    )
    assert (
        expand_base_url("https://x.test/accounts/{account_id}/ai/v1", config) == "https://x.test/accounts/abc123/ai/v1"
    )
    assert expand_base_url("https://x.test/{unknown}", config) == "https://x.test/{unknown}"


async def test_the_once_a_second_check_runs_in_the_background_one_at_a_time(monkeypatch):
    import asyncio
    import threading

    held = snapshot.CatalogSnapshot(version=1, models={}, providers={}, hosts={})
    snapshot._holder.snapshot, snapshot._holder.bumped = held, False
    snapshot._holder.checked_at -= snapshot.CHECK_EVERY_SECONDS + 1  # a second went by
    started, release, calls = threading.Event(), threading.Event(), []

    def slow_check():
        calls.append(1)
        started.set()
        release.wait(5)
        snapshot._holder.checked_at = time.monotonic()
        return held

    monkeypatch.setattr(snapshot, "_locked_refresh", slow_check)
    got = await asyncio.wait_for(asyncio.gather(*[snapshot.get_snapshot() for _ in range(16)]), 1)
    assert all(s is held for s in got)  # nobody waited for the check
    await asyncio.to_thread(started.wait, 5)
    assert await snapshot.get_snapshot() is held and calls == [1]  # still one check in flight
    release.set()
    await asyncio.wait_for(asyncio.gather(*snapshot._checks), 5)
    assert calls == [1] and not snapshot._holder.checking and snapshot._holder.fresh() is held
    snapshot.reset()


async def test_after_a_change_in_this_process_the_next_reader_waits_for_the_rebuild(monkeypatch):
    old = snapshot.CatalogSnapshot(version=1, models={}, providers={}, hosts={})
    new = snapshot.CatalogSnapshot(version=2, models={}, providers={}, hosts={})
    snapshot._holder.snapshot = old
    snapshot._holder.expire()  # what version.bump() calls

    def rebuild():
        snapshot._holder.snapshot, snapshot._holder.bumped = new, False
        snapshot._holder.checked_at = time.monotonic()
        return new

    monkeypatch.setattr(snapshot, "_locked_refresh", rebuild)
    assert await snapshot.get_snapshot() is new
    snapshot.reset()
