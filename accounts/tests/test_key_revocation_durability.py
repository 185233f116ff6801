"""Revocation is durable: the database is the truth, a lost epoch bump is retried until it lands, a
worker that cannot read the epoch checks keys against the database, and in embedded mode a key
revoked by another process (a `manage.py` command) is refused by the server within the window."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from accounts import keys
from accounts.keys import FileEpochStore, KeyRefused, KeyVerifier, RedisEpochStore, mint_key, revoke_key
from catalog import version
from lib import shared_state
from lib.shared_state import FileValue


class FlakyRedis:
    """A Redis that can be switched off: one dict shared by every "worker" store."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Redis is unreachable")

    # the sync client (renewals, bumps)
    def get(self, name: str) -> bytes | None:
        self._check()
        return self.data.get(name)

    def set(self, name: str, value: Any, nx: bool = False) -> bool:
        self._check()
        if nx and name in self.data:
            return False
        self.data[name] = str(value).encode()
        return True

    def pipeline(self, transaction: bool = True) -> FlakyPipeline:
        return FlakyPipeline(self)


class FlakyPipeline:
    def __init__(self, redis: FlakyRedis) -> None:
        self.redis = redis
        self.ops: list[tuple[str, Any]] = []

    def __enter__(self) -> FlakyPipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def set(self, name: str, value: Any) -> None:
        self.ops.append((name, value))

    def execute(self) -> list[bool]:
        self.redis._check()
        return [self.redis.set(name, value) for name, value in self.ops]


class AsyncFlakyRedis:
    def __init__(self, redis: FlakyRedis) -> None:
        self.redis = redis

    async def get(self, name: str) -> bytes | None:
        return self.redis.get(name)

    async def set(self, name: str, value: Any, nx: bool = False) -> bool:
        return self.redis.set(name, value, nx=nx)


def worker_store(redis: FlakyRedis, monkeypatch: Any) -> RedisEpochStore:
    store = RedisEpochStore("redis://flaky", "test:key-epoch")
    store.RETRY_SECONDS = 0.02
    monkeypatch.setattr(store, "_client", lambda: AsyncFlakyRedis(redis))
    monkeypatch.setattr(store, "sync_client", lambda: redis)
    return store


def outcome(verifier: KeyVerifier, raw: str) -> str:
    try:
        async_to_sync(verifier.verify)(raw)
    except KeyRefused as refused:
        return refused.message
    return "ok"


@pytest.fixture
def minted(org_a: Any, alice: Any) -> tuple[Any, str]:
    return mint_key(org_a, alice, "laptop")


def test_a_key_revoked_while_redis_is_unreachable_is_refused_on_every_worker_once_redis_is_back(minted, monkeypatch):
    key, raw = minted
    redis = FlakyRedis()
    busy = KeyVerifier(worker_store(redis, monkeypatch))  # serves requests through the outage
    idle = KeyVerifier(worker_store(redis, monkeypatch))  # gets no request until Redis is back
    monkeypatch.setattr(keys, "_store", worker_store(redis, monkeypatch))  # the dashboard process
    assert (outcome(busy, raw), outcome(idle, raw)) == ("ok", "ok")  # both have the key cached

    redis.down = True
    revoke_key(key)  # the row is marked; the epoch bump cannot land
    assert keys._store.pending_bump
    time.sleep(settings.KEY_EPOCH_MAX_AGE_MS / 1000)
    assert "revoked" in outcome(busy, raw)  # no epoch: the worker checks the database, fails closed

    redis.down = False
    deadline = time.monotonic() + 2
    while keys._store.pending_bump and time.monotonic() < deadline:
        time.sleep(0.01)  # the retry thread lands the bump
    assert not keys._store.pending_bump
    time.sleep(settings.KEY_EPOCH_MAX_AGE_MS / 1000)
    assert "revoked" in outcome(busy, raw) and "revoked" in outcome(idle, raw)


def test_a_worker_that_cannot_read_the_epoch_trusts_no_cached_key_until_it_can(minted, monkeypatch):
    key, raw = minted
    redis = FlakyRedis()
    worker = KeyVerifier(worker_store(redis, monkeypatch))
    assert outcome(worker, raw) == "ok"
    redis.down = True
    time.sleep(settings.KEY_EPOCH_MAX_AGE_MS / 1000)
    key.__class__.objects.filter(pk=key.pk).update(revoked_at=key.created)  # marked behind everyone's back
    assert "revoked" in outcome(worker, raw)
    assert worker.entries == {}  # nothing cached while the epoch is unknown


def test_the_celery_task_lands_a_revocation_whose_bump_was_lost_with_its_process(minted, monkeypatch):
    key, _raw = minted
    redis = FlakyRedis()
    monkeypatch.setattr(keys, "_store", worker_store(redis, monkeypatch))
    keys._store.bump()
    before = redis.data["test:key-epoch"]
    assert keys.land_key_changes() is False  # nothing revoked since the last bump
    time.sleep(0.01)
    key.__class__.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert keys.land_key_changes() is True  # a revocation newer than the last bump: bump now
    assert redis.data["test:key-epoch"] != before
    assert keys.land_key_changes() is False


# --- embedded mode: the server and manage.py share the epoch and the catalog version through files ---


def test_in_embedded_mode_a_key_revoked_by_another_process_is_refused_within_the_window(minted, tmp_path):
    key, raw = minted
    path = tmp_path / "qlaud.key-epoch"
    server = KeyVerifier(FileEpochStore(FileValue(path)))  # the `make run` process's own file handle
    command = FileEpochStore(FileValue(path))  # a `manage.py` process's
    assert outcome(server, raw) == "ok"
    key.__class__.objects.filter(pk=key.pk).update(revoked_at=key.created)  # what revoke_key writes...
    command.bump()  # ...and the bump it makes, from the other process
    started = time.monotonic()
    while outcome(server, raw) == "ok":
        assert time.monotonic() - started < 1, "the revocation never reached the server"
        time.sleep(0.005)
    assert time.monotonic() - started <= settings.KEY_EPOCH_MAX_AGE_MS / 1000 + 0.05


def test_without_redis_the_key_epoch_lives_in_a_shared_file(settings, tmp_path):
    settings.REDIS_URL = ""  # embedded mode
    settings.SHARED_STATE_DIR = str(tmp_path)
    keys._store = None
    store = keys._epoch_store()
    assert isinstance(store, FileEpochStore)
    store.bump()
    assert list(Path(tmp_path).iterdir())


def test_a_catalog_change_made_by_a_manage_py_process_reaches_the_server_within_a_second(settings, tmp_path):
    settings.REDIS_URL = ""  # embedded mode
    settings.SHARED_STATE_DIR = str(tmp_path)
    before = version.current()
    env = {**os.environ, "SHARED_STATE_DIR": str(tmp_path), "REDIS_URL": ""}
    code = "from catalog import version; print(version.bump())"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    bumped = int(done.stdout.strip().splitlines()[-1])
    assert bumped != before
    assert version.current() == bumped  # read at once here; the snapshot checks it once a second
    assert shared_state.file_value("catalog-version").read() == str(bumped)
