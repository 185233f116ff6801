"""Live host health from real gateway traffic, cheap enough for every gateway request.

The gateway calls `host_health(ids)` before routing and `record_outcome()` after every upstream
attempt. Neither goes through Django's cache API (whose Redis backend is sync: a thread hop, and
under ASGI a new connection, per call). Storage sits behind a small `_Store` interface:

- With `settings.REDIS_URL`: `_RedisStore`, native `redis.asyncio` (`lib.redis_client`, one
  client per event loop) on cache database 2, keys under `<KEY_PREFIX>:health:`, atomic commands
  only (HINCRBY, LPUSH+LTRIM, INCR in a Lua script, SET NX PX), so workers never race on a
  read-modify-write. Pages read the same keys with a sync `redis.Redis` client.
- Without Redis: `_LocalStore`, a dict in the process (which is then the whole deployment).

Stats: each outcome lands in a per-minute bucket (count, served, the last 50 TTFT and tokens/s
samples; kept 35 minutes) and a per-hour bucket (count, served; kept 25 hours). With Redis a
worker buffers outcomes and writes them in one pipeline at most ~1 s later (`FLUSH_SECONDS`, an
asyncio task) or with its next round trip, whichever comes first; `aflush()` / `flush()` force
it. Up to a second of stats is lost if a worker dies. Computed stats are memoised for 15 s.

Circuit breaker per host: `CIRCUIT_FAILURE_THRESHOLD` consecutive host failures open it; after
`CIRCUIT_COOLDOWN_SECONDS` it is half-open and exactly one caller (across all workers, claimed with
SET NX) sees it as half-open and may probe; everyone else still sees it open. A success closes it;
a failed probe re-opens it for another cool-down. Failures reach the store at once. A worker
memoises circuit states for `CIRCUIT_MEMO_SECONDS` (0.3 s): a circuit opened by another worker may
take that long to be seen here; its own outcomes update its memo at once. So `host_health` costs
no round trip on most requests and one (an MGET, plus any buffered writes) otherwise, plus a SET NX
when a cool-down has just ended. A success resets the count at once when this worker knows of
failures, otherwise with the next flush (unless the circuit is open meanwhile).

Client faults (4xx other than 408/429, and any answer whose provider error type says the request
itself was at fault: invalid request, context too long) say nothing about the host: they count as
served. A failure carries the request's fingerprint (the tenant and the body); the same tenant's
same request failing again while the host's count is running does not add a strike, so one tenant
polling a poison request cannot open the circuit for everyone.

The circuit only orders hosts (catalog.routing puts open ones last and still routes to them when
no other is left), and a host is judged at its first byte: `answered()` closes its circuit as soon
as an upstream answers with headers, so a long stream as the half-open probe keeps nobody waiting.

For pages there is also `host_stats_table()`, computed from `requestlog.models.RequestLog` rows.
Tests: `reset()` forgets everything (in-process state and this prefix's Redis keys).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, HostHealth
from lib import shared_state
from lib.redis_client import async_redis
from requestlog.models import RequestLog

__all__ = [
    "HostHealth",
    "aflush",
    "answered",
    "circuit_state_sync",
    "flush",
    "host_health",
    "host_stats_sync",
    "host_stats_table",
    "record_outcome",
    "record_probe",
    "reset",
    "reset_memo",
]

log = logging.getLogger(__name__)

MAX_SAMPLES = 50
MINUTE_TTL = 35 * 60
HOUR_TTL = 25 * 3600
BREAKER_TTL = 3600  # a failure count or open state nobody touched for an hour is forgotten
STATS_TTL = 15.0  # seconds a process reuses computed stats
CIRCUIT_MEMO_SECONDS = 0.3  # seconds a worker reuses circuit states read from Redis
FLUSH_SECONDS = 1.0  # buffered outcomes reach Redis at most this late
HOST_FAULT_4XX = {408, 429}
# Provider error types that say the request itself was at fault, whatever the status.
REQUEST_FAULT_TYPES = frozenset({"invalid_request_error", "request_too_large", "context_length_exceeded"})


def failure_threshold() -> int:
    return getattr(settings, "CIRCUIT_FAILURE_THRESHOLD", 5)


def cooldown_seconds() -> float:
    return getattr(settings, "CIRCUIT_COOLDOWN_SECONDS", 3.0)


def _minute_key(host_id: int, minute: int) -> str:
    return f"hm:{host_id}:{minute}"


def _probe_key(host_id: int, minute: int) -> str:
    """Probe samples (gateway/probes.py), kept apart from customer ones: same bucket shape, own keys."""
    return f"pm:{host_id}:{minute}"


def _hour_key(host_id: int, hour: int) -> str:
    return f"hh:{host_id}:{hour}"


def is_host_fault(ok: bool, status: int, error_type: str = "") -> bool:
    if ok or error_type in REQUEST_FAULT_TYPES:
        return False
    return not (400 <= status < 500 and status not in HOST_FAULT_4XX)


def tokens_per_second(output_tokens: int, duration_ms: float, ttft_ms: float | None) -> float | None:
    """Output tokens per second of generation (after the first token, when we know when that was)."""
    generating_ms = duration_ms - (ttft_ms or 0.0)
    if output_tokens <= 0 or generating_ms <= 0:
        return None
    return output_tokens * 1000.0 / generating_ms


# --- outcomes not yet stored -------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """Outcomes to add: minute buckets {key: [n, ok, ttft, tps]}, hour buckets {key: [n, ok]}."""

    minutes: dict[str, list[Any]] = field(default_factory=dict)
    hours: dict[str, list[int]] = field(default_factory=dict)
    succeeded: set[int] = field(default_factory=set)  # hosts whose failure count a success resets

    def add(self, host_id: int, now: float, *, served: bool, ttft_ms: float | None, tps: float | None) -> None:
        minute = self.minutes.setdefault(_minute_key(host_id, int(now // 60)), [0, 0, [], []])
        hour = self.hours.setdefault(_hour_key(host_id, int(now // 3600)), [0, 0])
        minute[0] += 1
        hour[0] += 1
        if served:
            minute[1] += 1
            hour[1] += 1
            for samples, value in ((minute[2], ttft_ms), (minute[3], tps)):
                if value is not None:
                    samples.append(float(value))
                    if len(samples) > 2 * MAX_SAMPLES:  # only the last MAX_SAMPLES are ever kept
                        del samples[:-MAX_SAMPLES]

    def add_probe(self, host_id: int, now: float, *, ok: bool, ttft_ms: float | None, tps: float | None) -> None:
        """A probe's sample: its own minute bucket, no hour bucket (probes are not customers' uptime)."""
        minute = self.minutes.setdefault(_probe_key(host_id, int(now // 60)), [0, 0, [], []])
        minute[0] += 1
        if ok:
            minute[1] += 1
            minute[2] += [float(ttft_ms)] if ttft_ms is not None else []
            minute[3] += [float(tps)] if tps is not None else []

    def __bool__(self) -> bool:
        return bool(self.minutes or self.hours or self.succeeded)

    def merged_into(self, found: dict[str, Any]) -> dict[str, Any]:
        """`found` (buckets as read from the store) plus these outcomes."""
        for key, (n, ok, ttft, tps) in self.minutes.items():
            bucket = found.get(key) or {"n": 0, "ok": 0, "ttft": [], "tps": []}
            found[key] = {
                "n": bucket["n"] + n,
                "ok": bucket["ok"] + ok,
                "ttft": [*bucket["ttft"], *ttft][-MAX_SAMPLES:],
                "tps": [*bucket["tps"], *tps][-MAX_SAMPLES:],
            }
        for key, (n, ok) in self.hours.items():
            bucket = found.get(key) or {"n": 0, "ok": 0}
            found[key] = {"n": bucket["n"] + n, "ok": bucket["ok"] + ok}
        return found


# --- storage ------------------------------------------------------------------------------------

# A breaker state as stored: (consecutive failures, opened_at or None).
_Breaker = tuple[int, float | None]


class _LocalStore:
    """Everything in this process, behind a lock (pages read it from other threads)."""

    shared = False

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, dict[str, Any]]] = {}  # key -> (expires_at, bucket)
        self.breakers: dict[int, tuple[float, int, float | None]] = {}  # host -> (expires_at, failures, opened_at)
        self.probes: dict[int, float] = {}  # host -> claim expires_at
        self.seen: dict[int, set[str]] = {}  # host -> fingerprints of the failures counted since the last success
        self.pruned_at = 0.0

    def write(self, batch: _Batch, now: float) -> None:
        with self.lock:
            if now - self.pruned_at > 60:
                self.pruned_at = now
                self.buckets = {k: v for k, v in self.buckets.items() if v[0] > now}
            for key, (n, ok, ttft, tps) in batch.minutes.items():
                found = self._get(key, now) or {"n": 0, "ok": 0, "ttft": [], "tps": []}
                found["n"] += n
                found["ok"] += ok
                found["ttft"] = [*found["ttft"], *ttft][-MAX_SAMPLES:]
                found["tps"] = [*found["tps"], *tps][-MAX_SAMPLES:]
                self.buckets[key] = (now + MINUTE_TTL, found)
            for key, (n, ok) in batch.hours.items():
                found = self._get(key, now) or {"n": 0, "ok": 0}
                found["n"] += n
                found["ok"] += ok
                self.buckets[key] = (now + HOUR_TTL, found)
            for host_id in batch.succeeded:
                if self._breaker(host_id, now)[1] is None:
                    self.breakers.pop(host_id, None)
                    self.seen.pop(host_id, None)

    def _get(self, key: str, now: float) -> dict[str, Any] | None:
        entry = self.buckets.get(key)
        return entry[1] if entry is not None and entry[0] > now else None

    def _breaker(self, host_id: int, now: float) -> _Breaker:
        entry = self.breakers.get(host_id)
        return (entry[1], entry[2]) if entry is not None and entry[0] > now else (0, None)

    def read(self, circuit_ids: list[int], stat_keys: list[str], now: float) -> tuple[dict[int, _Breaker], dict]:
        with self.lock:
            breakers = {h: self._breaker(h, now) for h in circuit_ids}
            found = {}
            for key in stat_keys:
                bucket = self._get(key, now)
                if bucket is not None:
                    found[key] = {k: list(v) if isinstance(v, list) else v for k, v in bucket.items()}
            return breakers, found

    def fail(self, host_id: int, now: float, fingerprint: str = "") -> _Breaker:
        with self.lock:
            failures, opened_at = self._breaker(host_id, now)
            seen = self.seen.setdefault(host_id, set())
            if fingerprint and fingerprint in seen:
                return failures, opened_at  # the same request failing again: no new strike
            if fingerprint and len(seen) < 1000:
                seen.add(fingerprint)
            failures += 1
            # A failure while open/half-open is a failed probe: start a new cool-down.
            if opened_at is not None or failures >= failure_threshold():
                opened_at = now
                self.probes.pop(host_id, None)
            self.breakers[host_id] = (now + BREAKER_TTL, failures, opened_at)
            return failures, opened_at

    def close(self, host_id: int) -> None:
        with self.lock:
            self.breakers.pop(host_id, None)
            self.probes.pop(host_id, None)
            self.seen.pop(host_id, None)

    def claim_probe(self, host_id: int, now: float) -> bool:
        with self.lock:
            if self.probes.get(host_id, 0.0) > now:
                return False
            self.probes[host_id] = now + max(1.0, cooldown_seconds())
            return True


# Atomic failure: count it (unless this request's fingerprint was counted already); open (or
# re-open, for a failed probe) the circuit; free the probe.
_FAIL_LUA = """
if ARGV[4] ~= '' then
  if redis.call('SADD', KEYS[4], ARGV[4]) == 0 then
    return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('GET', KEYS[2])}
  end
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local opened = redis.call('GET', KEYS[2])
if opened or n >= tonumber(ARGV[1]) then
  opened = ARGV[2]
  redis.call('SET', KEYS[2], opened, 'EX', ARGV[3])
  redis.call('DEL', KEYS[3])
end
return {n, opened}
"""

# A success resets the consecutive-failure count, unless the circuit opened meanwhile.
_RESET_LUA = """
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[3]) end
return 0
"""


class _RedisStore:
    """Redis (cache database 2) under `<prefix>:health:`; async on the hot path, sync for pages."""

    shared = True

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.ns = f"{prefix}:health:"
        self._sync: Any = None

    def _fail_key(self, h: int) -> str:
        return f"{self.ns}cb:fail:{h}"

    def _open_key(self, h: int) -> str:
        return f"{self.ns}cb:open:{h}"

    def _probe_key(self, h: int) -> str:
        return f"{self.ns}cb:probe:{h}"

    def _seen_key(self, h: int) -> str:
        return f"{self.ns}cb:seen:{h}"

    def _async(self) -> Any:
        return async_redis(self.url)

    def sync_client(self) -> Any:
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        return self._sync

    # Commands are queued on a pipeline, sync or async alike; parsing is shared.

    def _queue_write(self, pipe: Any, batch: _Batch) -> None:
        ns = self.ns
        for key, (n, ok, ttft, tps) in batch.minutes.items():
            name = ns + key
            pipe.hincrby(name, "n", n)
            pipe.hincrby(name, "ok", ok)
            pipe.expire(name, MINUTE_TTL)
            for suffix, samples in ((":ttft", ttft), (":tps", tps)):
                if samples:
                    pipe.lpush(name + suffix, *samples)
                    pipe.ltrim(name + suffix, 0, MAX_SAMPLES - 1)
                    pipe.expire(name + suffix, MINUTE_TTL)
        for key, (n, ok) in batch.hours.items():
            pipe.hincrby(ns + key, "n", n)
            pipe.hincrby(ns + key, "ok", ok)
            pipe.expire(ns + key, HOUR_TTL)
        for h in batch.succeeded:
            pipe.eval(_RESET_LUA, 3, self._fail_key(h), self._open_key(h), self._seen_key(h))

    def _queue_read(self, pipe: Any, circuit_ids: list[int], stat_keys: list[str]) -> None:
        if circuit_ids:
            pipe.mget([self._fail_key(h) for h in circuit_ids] + [self._open_key(h) for h in circuit_ids])
        for key in stat_keys:
            pipe.hmget(self.ns + key, "n", "ok")
            if key.startswith(("hm:", "pm:")):
                pipe.lrange(self.ns + key + ":ttft", 0, -1)
                pipe.lrange(self.ns + key + ":tps", 0, -1)

    @staticmethod
    def _parse_read(
        results: list[Any], circuit_ids: list[int], stat_keys: list[str]
    ) -> tuple[dict[int, _Breaker], dict[str, Any]]:
        it = iter(results)
        breakers: dict[int, _Breaker] = {}
        if circuit_ids:
            values = next(it)
            k = len(circuit_ids)
            for i, h in enumerate(circuit_ids):
                fails, opened = values[i], values[k + i]
                breakers[h] = (int(fails or 0), float(opened) if opened is not None else None)
        found: dict[str, Any] = {}
        for key in stat_keys:
            n, ok = next(it)
            bucket: dict[str, Any] = {"n": int(n or 0), "ok": int(ok or 0)}
            if key.startswith(("hm:", "pm:")):
                bucket["ttft"] = [float(v) for v in reversed(next(it))]  # LPUSH: newest first
                bucket["tps"] = [float(v) for v in reversed(next(it))]
            if n is not None:
                found[key] = bucket
        return breakers, found

    async def awrite(self, batch: _Batch) -> None:
        async with self._async().pipeline(transaction=True) as pipe:
            self._queue_write(pipe, batch)
            await pipe.execute()

    def write_sync(self, batch: _Batch) -> None:
        with self.sync_client().pipeline(transaction=True) as pipe:
            self._queue_write(pipe, batch)
            pipe.execute()

    async def aread(
        self, batch: _Batch, circuit_ids: list[int], stat_keys: list[str]
    ) -> tuple[dict[int, _Breaker], dict[str, Any]]:
        """One round trip: the buffered writes, then the reads."""
        async with self._async().pipeline(transaction=False) as pipe:
            self._queue_write(pipe, batch)
            written = len(pipe)
            self._queue_read(pipe, circuit_ids, stat_keys)
            results = await pipe.execute()
        return self._parse_read(results[written:], circuit_ids, stat_keys)

    def read_sync(self, circuit_ids: list[int], stat_keys: list[str]) -> tuple[dict[int, _Breaker], dict[str, Any]]:
        with self.sync_client().pipeline(transaction=False) as pipe:
            self._queue_read(pipe, circuit_ids, stat_keys)
            results = pipe.execute()
        return self._parse_read(results, circuit_ids, stat_keys)

    async def afail(self, batch: _Batch, host_id: int, now: float, fingerprint: str = "") -> _Breaker:
        async with self._async().pipeline(transaction=True) as pipe:
            self._queue_write(pipe, batch)
            keys = (self._fail_key(host_id), self._open_key(host_id), self._probe_key(host_id), self._seen_key(host_id))
            pipe.eval(_FAIL_LUA, 4, *keys, failure_threshold(), repr(now), BREAKER_TTL, fingerprint)
            results = await pipe.execute()
        failures, opened = results[-1]
        return int(failures), float(opened) if opened is not None else None

    async def aclose(self, batch: _Batch, host_id: int) -> None:
        async with self._async().pipeline(transaction=True) as pipe:
            self._queue_write(pipe, batch)
            keys = (self._fail_key(host_id), self._open_key(host_id), self._probe_key(host_id), self._seen_key(host_id))
            pipe.delete(*keys)
            await pipe.execute()

    async def aclaim_probe(self, host_id: int, now: float) -> bool:
        ttl_ms = max(1000, int(cooldown_seconds() * 1000))
        return bool(await self._async().set(self._probe_key(host_id), repr(now), nx=True, px=ttl_ms))

    def clear(self) -> None:
        client = self.sync_client()
        keys = list(client.scan_iter(match=self.ns + "*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])


# --- one worker's view ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stats:
    p50_ttft_ms: float | None
    p90_ttft_ms: float | None
    p50_tokens_per_s: float | None
    uptime_5m: float | None
    uptime_30m: float | None
    uptime_1d: float | None
    samples: int
    probe_p50_ttft_ms: float | None = None
    probe_p50_tokens_per_s: float | None = None
    probe_samples: int = 0


class _Worker:
    """A process's health state over a store: memos, and (with Redis) the buffer of unsent outcomes."""

    def __init__(self, store: _LocalStore | _RedisStore) -> None:
        self.store = store
        self.memo_seconds = CIRCUIT_MEMO_SECONDS if store.shared else 0.0
        self.circuits: dict[int, tuple[float, int, float | None]] = {}  # host -> (read_at, failures, opened_at)
        self.probe_taken: dict[int, float] = {}  # host -> when we saw the probe claimed
        self.stats: dict[int, tuple[float, _Stats]] = {}
        self.results: dict[int, tuple[str, _Stats | None, HostHealth]] = {}  # last answer per host
        self.lock = threading.Lock()
        self.pending = _Batch()
        self.flusher: asyncio.Task[None] | None = None
        self.reading = False  # a request is refreshing the memos from the store right now

    # recording

    async def record_outcome(
        self,
        host_id: int,
        *,
        ok: bool,
        ttft_ms: float | None,
        output_tokens: int = 0,
        duration_ms: float = 0.0,
        status: int = 200,
        error_type: str = "",
        fingerprint: str = "",
    ) -> None:
        now = time.time()
        fault = is_host_fault(ok, status, error_type)
        tps = tokens_per_second(output_tokens, duration_ms, ttft_ms)
        with self.lock:
            self.pending.add(host_id, now, served=not fault, ttft_ms=ttft_ms, tps=tps)
            memo = self.circuits.get(host_id)
            known_clean = memo is not None and memo[1] == 0 and memo[2] is None
            if not fault:
                self.pending.succeeded.add(host_id)
        store = self.store
        if isinstance(store, _LocalStore):
            store.write(self._drain(), now)
            if fault:
                failures, opened_at = store.fail(host_id, now, fingerprint)
            else:
                failures, opened_at = 0, None
                store.close(host_id)
        elif fault:
            failures, opened_at = await store.afail(self._drain(), host_id, now, fingerprint)
        elif known_clean:
            self._schedule_flush()
            return
        else:
            await store.aclose(self._drain(), host_id)
            failures, opened_at = 0, None
        self.circuits[host_id] = (now, failures, opened_at)
        self.probe_taken.pop(host_id, None)

    async def answered(self, host_id: int) -> None:
        """The host answered with headers: it is up. Closes its circuit at once (no stats: the
        outcome of the whole request is recorded when it ends)."""
        memo = self.circuits.get(host_id)
        if memo is not None and memo[1] == 0 and memo[2] is None:
            return  # known clean: nothing to write
        store = self.store
        if isinstance(store, _LocalStore):
            store.close(host_id)
        else:
            await store.aclose(self._drain(), host_id)
        self.circuits[host_id] = (time.time(), 0, None)
        self.probe_taken.pop(host_id, None)

    def _drain(self) -> _Batch:
        with self.lock:
            batch, self.pending = self.pending, _Batch()
        return batch

    def _schedule_flush(self) -> None:
        loop = asyncio.get_running_loop()
        task = self.flusher
        if task is None or task.done() or task.get_loop() is not loop:
            self.flusher = loop.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await self.aflush()
        except Exception:
            log.exception("could not store host health outcomes")

    async def aflush(self) -> None:
        batch = self._drain()
        if batch and isinstance(self.store, _RedisStore):
            await self.store.awrite(batch)

    def flush(self) -> None:
        batch = self._drain()
        if batch and isinstance(self.store, _RedisStore):
            self.store.write_sync(batch)

    # reading (hot path)

    async def host_health(self, host_ids: Iterable[int], *, with_stats: bool = True) -> dict[int, HostHealth]:
        ids = list(dict.fromkeys(host_ids))
        now = time.time()
        memo_seconds = self.memo_seconds
        stale = [h for h in ids if not _fresh(self.circuits.get(h), now, memo_seconds)]
        unknown = [h for h in ids if not _fresh(self.stats.get(h), now, STATS_TTL)] if with_stats else []
        if stale or unknown:
            in_hand = all(h in self.circuits for h in stale) and all(h in self.stats for h in unknown)
            if isinstance(self.store, _LocalStore):
                self._refreshed(*self.store.read(stale, _stat_keys(unknown, now), now), unknown, now)
            elif not in_hand:
                await self._refresh(stale, unknown, now)
            elif not self.reading:
                # Memos in hand only expired: refresh them in the background and use them as they are
                # (one round trip older). A request waiting for that read behind a busy event loop
                # was a slice of the gateway's p99.
                self.reading = True
                task = asyncio.get_running_loop().create_task(self._refresh(stale, unknown, now, background=True))
                _refreshes.add(task)
                task.add_done_callback(_refreshes.discard)
        out = {}
        results = self.results
        for h in ids:
            opened_at = self.circuits[h][2]
            circuit = CIRCUIT_CLOSED if opened_at is None else await self._circuit(h, opened_at, now)
            stats = self.stats[h][1] if with_stats else None
            last = results.get(h)
            if last is not None and last[0] == circuit and last[1] is stats:
                out[h] = last[2]  # HostHealth is immutable: reuse it while nothing changed
            else:
                out[h] = _health(h, circuit, stats)
                results[h] = (circuit, stats, out[h])
        return out

    async def _refresh(self, stale: list[int], unknown: list[int], now: float, *, background: bool = False) -> None:
        assert isinstance(self.store, _RedisStore)
        self.reading = True
        try:
            found = await self.store.aread(self._drain(), stale, _stat_keys(unknown, now))
        except Exception:
            if not background:
                raise
            log.warning("could not refresh host health memos", exc_info=True)  # the next request retries
            return
        finally:
            self.reading = False
        self._refreshed(*found, unknown, now)

    def _refreshed(self, breakers: dict[int, _Breaker], found: dict[str, Any], unknown: list[int], now: float) -> None:
        for h, (failures, opened_at) in breakers.items():
            self.circuits[h] = (now, failures, opened_at)
        for h in unknown:
            self.stats[h] = (now, _compute(h, found, now))

    async def _circuit(self, host_id: int, opened_at: float | None, now: float) -> str:
        if opened_at is None:
            return CIRCUIT_CLOSED
        if now - opened_at < cooldown_seconds():
            return CIRCUIT_OPEN
        if _fresh(self.probe_taken.get(host_id), now, self.memo_seconds, index=None):
            return CIRCUIT_OPEN
        store = self.store
        if isinstance(store, _LocalStore):
            claimed = store.claim_probe(host_id, now)
        else:
            claimed = await store.aclaim_probe(host_id, now)
        self.probe_taken[host_id] = now  # ours or someone else's: either way nobody else here may probe
        return CIRCUIT_HALF_OPEN if claimed else CIRCUIT_OPEN

    # reading (pages: sync, no side effects)

    def read_sync(self, circuit_ids: list[int], stat_keys: list[str], now: float) -> tuple[dict[int, _Breaker], dict]:
        store = self.store
        if isinstance(store, _LocalStore):
            return store.read(circuit_ids, stat_keys, now)
        breakers, found = store.read_sync(circuit_ids, stat_keys)
        with self.lock:  # this worker's own unsent outcomes count too
            return breakers, self.pending.merged_into(found)


_refreshes: set[asyncio.Task[None]] = set()  # background memo refreshes, referenced until done


def _fresh(memo: Any, now: float, ttl: float, index: int | None = 0) -> bool:
    if memo is None:
        return False
    at = memo if index is None else memo[index]
    return 0 <= now - at < ttl


_workers: dict[tuple[str, str], _Worker] = {}


def _worker() -> _Worker:
    where = (shared_state.redis_url(), shared_state.key_prefix())
    worker = _workers.get(where)
    if worker is None:
        worker = _workers[where] = _Worker(shared_state.choose_store(_LocalStore, _RedisStore))
    return worker


# --- public API -------------------------------------------------------------------------------------


async def record_outcome(
    host_id: int,
    *,
    ok: bool,
    ttft_ms: float | None,
    output_tokens: int = 0,
    duration_ms: float = 0.0,
    status: int = 200,
    error_type: str = "",
    fingerprint: str = "",
) -> None:
    """Count one upstream attempt. A failure reaches the store at once; a success usually within ~1 s.

    `error_type` is the provider's (a request fault never counts against the host); `fingerprint`
    names the request, so the same request failing again adds no strike.
    """
    await _worker().record_outcome(
        host_id,
        ok=ok,
        ttft_ms=ttft_ms,
        output_tokens=output_tokens,
        duration_ms=duration_ms,
        status=status,
        error_type=error_type,
        fingerprint=fingerprint,
    )


async def answered(host_id: int) -> None:
    """The host answered (headers, status < 400): close its circuit now, before the stream ends."""
    await _worker().answered(host_id)


async def host_health(host_ids: Iterable[int], *, with_stats: bool = True) -> dict[int, HostHealth]:
    """Circuit state (and live stats) per host, for routing. May claim the one half-open probe."""
    return await _worker().host_health(host_ids, with_stats=with_stats)


def circuit_state_sync(host_ids: Iterable[int]) -> dict[int, str]:
    """Circuit state for pages: never claims the probe (half-open shows as half-open)."""
    ids = list(dict.fromkeys(host_ids))
    now = time.time()
    breakers, _ = _worker().read_sync(ids, [], now)
    return {h: _circuit_state(breakers[h][1], now) for h in ids}


def _circuit_state(opened_at: float | None, now: float) -> str:
    if opened_at is None:
        return CIRCUIT_CLOSED
    return CIRCUIT_OPEN if now - opened_at < cooldown_seconds() else CIRCUIT_HALF_OPEN


def host_stats_sync(host_ids: Iterable[int]) -> dict[int, HostHealth]:
    """Live stats and circuit state for pages and /v1/catalog (sync reads, no side effects)."""
    ids = list(dict.fromkeys(host_ids))
    now = time.time()
    breakers, found = _worker().read_sync(ids, _stat_keys(ids, now), now)
    return {h: _health(h, _circuit_state(breakers[h][1], now), _compute(h, found, now)) for h in ids}


def record_probe(host_id: int, *, ok: bool, ttft_ms: float | None, output_tokens: int, duration_ms: float) -> None:
    """Store one live-board probe's figures (gateway/probes.py) at once. Sync: the probe run is off any loop.
    Probes are kept apart from customer samples and never move the circuit breaker."""
    batch = _Batch()
    tps = tokens_per_second(output_tokens, duration_ms, ttft_ms)
    batch.add_probe(host_id, time.time(), ok=ok, ttft_ms=ttft_ms, tps=tps)
    store = _worker().store
    if isinstance(store, _LocalStore):
        store.write(batch, time.time())
    else:
        store.write_sync(batch)


async def aflush() -> None:
    """Store this worker's buffered outcomes now (tests; otherwise a task does it within ~1 s)."""
    await _worker().aflush()


def flush() -> None:
    """`aflush()` for sync callers."""
    _worker().flush()


def reset_memo() -> None:
    """Forget memoised stats and circuit states (the stored data stays)."""
    worker = _worker()
    worker.stats.clear()
    worker.results.clear()
    worker.circuits.clear()
    worker.probe_taken.clear()


def reset() -> None:
    """Forget everything (tests): every worker's in-process state and this prefix's Redis keys."""
    for worker in _workers.values():
        if worker.flusher is not None and not worker.flusher.get_loop().is_closed():
            worker.flusher.get_loop().call_soon_threadsafe(worker.flusher.cancel)
    _workers.clear()
    store = _worker().store
    if isinstance(store, _RedisStore):
        store.clear()


# --- stats ----------------------------------------------------------------------------------------


def _stat_keys(ids: list[int], now: float) -> list[str]:
    minute, hour = int(now // 60), int(now // 3600)
    keys = [_minute_key(h, minute - i) for h in ids for i in range(30)]
    keys += [_probe_key(h, minute - i) for h in ids for i in range(30)]
    return keys + [_hour_key(h, hour - i) for h in ids for i in range(24)]


def _compute(host_id: int, found: Mapping[str, Any], now: float) -> _Stats:
    minute, hour = int(now // 60), int(now // 3600)
    minutes = [found.get(_minute_key(host_id, minute - i)) for i in range(30)]
    hours = [b for i in range(24) if (b := found.get(_hour_key(host_id, hour - i)))]
    recent = [b for b in minutes[:5] if b]
    half_hour = [b for b in minutes if b]
    ttfts = [v for b in half_hour for v in b["ttft"]]
    tps = [v for b in half_hour for v in b["tps"]]
    probed = [b for i in range(30) if (b := found.get(_probe_key(host_id, minute - i)))]
    return _Stats(
        p50_ttft_ms=percentile(ttfts, 0.5),
        p90_ttft_ms=percentile(ttfts, 0.9),
        p50_tokens_per_s=percentile(tps, 0.5),
        uptime_5m=_uptime(recent),
        uptime_30m=_uptime(half_hour),
        uptime_1d=_uptime(hours),
        samples=sum(b["n"] for b in half_hour),
        probe_p50_ttft_ms=percentile([v for b in probed for v in b["ttft"]], 0.5),
        probe_p50_tokens_per_s=percentile([v for b in probed for v in b["tps"]], 0.5),
        probe_samples=sum(b["ok"] for b in probed),
    )


def _uptime(buckets: list[Mapping[str, int]]) -> float | None:
    total = sum(b["n"] for b in buckets)
    return sum(b["ok"] for b in buckets) / total if total else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _health(host_id: int, circuit: str, stats: _Stats | None) -> HostHealth:
    if stats is None:
        return HostHealth(host_id, circuit=circuit)
    return HostHealth(
        host_id,
        circuit=circuit,
        p50_ttft_ms=stats.p50_ttft_ms,
        p90_ttft_ms=stats.p90_ttft_ms,
        p50_tokens_per_s=stats.p50_tokens_per_s,
        uptime_5m=stats.uptime_5m,
        uptime_30m=stats.uptime_30m,
        uptime_1d=stats.uptime_1d,
        error_rate=None if stats.uptime_5m is None else 1 - stats.uptime_5m,
        samples=stats.samples,
        probe_p50_ttft_ms=stats.probe_p50_ttft_ms,
        probe_p50_tokens_per_s=stats.probe_p50_tokens_per_s,
        probe_samples=stats.probe_samples,
    )


# --- from the request log (pages, status) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostStatsRow:
    host_id: int
    model_id: str
    provider: str  # provider display name
    requests: int
    uptime: float | None  # share of requests the host served (client faults count as served)
    p50_ttft_ms: float | None
    p90_ttft_ms: float | None
    p50_tokens_per_s: float | None


def host_stats_table(window: timedelta = timedelta(days=1), *, now: datetime | None = None) -> list[HostStatsRow]:
    """Per-host stats over `window` from RequestLog rows, busiest first. Sync (pages, status, blog).

    Reads at most 50,000 recent rows: enough for a percentile, bounded for a page render.
    """
    from django.utils import timezone

    from catalog.models import Host

    since = (now or timezone.now()) - window
    rows = (
        RequestLog.objects.filter(created__gte=since, host_id__isnull=False)
        .order_by("-created")
        .values_list("host_id", "status", "ttft_ms", "total_ms", "output_tokens")[:50_000]
    )
    per_host: dict[int, list[tuple[int, float | None, float | None, int]]] = {}
    for host_id, *rest in rows:
        per_host.setdefault(host_id, []).append(tuple(rest))  # type: ignore[arg-type]
    names = {h.id: h for h in Host.objects.filter(id__in=per_host).select_related("model", "provider")}
    table = [_row(hid, names.get(hid), samples) for hid, samples in per_host.items()]
    return sorted(table, key=lambda r: (-r.requests, r.model_id))


def _row(host_id: int, host: Any, samples: list[tuple[int, float | None, float | None, int]]) -> HostStatsRow:
    served = [s for s in samples if not is_host_fault(s[0] < 400, s[0])]
    ttfts = [s[1] for s in served if s[1] is not None]
    tps = [t for s in served if (t := tokens_per_second(s[3], s[2] or 0.0, s[1])) is not None]
    return HostStatsRow(
        host_id=host_id,
        model_id=host.model.public_id if host else "?",
        provider=host.provider.name if host else "?",
        requests=len(samples),
        uptime=len(served) / len(samples) if samples else None,
        p50_ttft_ms=percentile(ttfts, 0.5),
        p90_ttft_ms=percentile(ttfts, 0.9),
        p50_tokens_per_s=percentile(tps, 0.5),
    )
