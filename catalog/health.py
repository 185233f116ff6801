"""Live host health from real gateway traffic, shared by every worker through the Django cache.

The gateway calls `record_outcome()` after every upstream attempt. Each outcome lands in a
per-minute bucket (count, successes, up to 50 TTFT and tokens/s samples; kept 35 minutes) and a
per-hour bucket (count, successes; kept 25 hours). Read-modify-write without locks: under heavy
concurrency a sample can be lost, which a statistic tolerates and a lock on the hot path would not.

Circuit breaker per host: `CIRCUIT_FAILURE_THRESHOLD` consecutive host failures open it; after
`CIRCUIT_COOLDOWN_SECONDS` it is half-open and exactly one caller (across all workers, claimed with
an atomic cache `add`) sees it as half-open and may probe; everyone else still sees it open. A
success closes it; a failed probe re-opens it for another cool-down.

Client faults (4xx other than 408/429) say nothing about the host: they count as served.

For pages there is also `host_stats_table()`, computed from `gateway.models.RequestLog` rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache

from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, HostHealth

__all__ = ["HostHealth", "host_health", "host_stats_sync", "host_stats_table", "record_outcome"]

MAX_SAMPLES = 50
MINUTE_TTL = 35 * 60
HOUR_TTL = 25 * 3600
STATS_TTL = 15.0  # seconds a process reuses computed stats
HOST_FAULT_4XX = {408, 429}


def failure_threshold() -> int:
    return getattr(settings, "CIRCUIT_FAILURE_THRESHOLD", 5)


def cooldown_seconds() -> float:
    return getattr(settings, "CIRCUIT_COOLDOWN_SECONDS", 30)


def _cb_key(host_id: int) -> str:
    return f"catalog:cb:{host_id}"


def _probe_key(host_id: int) -> str:
    return f"catalog:cb:probe:{host_id}"


def _minute_key(host_id: int, minute: int) -> str:
    return f"catalog:hm:{host_id}:{minute}"


def _hour_key(host_id: int, hour: int) -> str:
    return f"catalog:hh:{host_id}:{hour}"


def is_host_fault(ok: bool, status: int) -> bool:
    return not ok and not (400 <= status < 500 and status not in HOST_FAULT_4XX)


# --- recording ----------------------------------------------------------------------------


async def record_outcome(
    host_id: int,
    *,
    ok: bool,
    ttft_ms: float | None,
    output_tokens: int = 0,
    duration_ms: float = 0.0,
    status: int = 200,
) -> None:
    """Two cache round trips on a success: one read of both buckets and the breaker, one write."""
    now = time.time()
    fault = is_host_fault(ok, status)
    mkey, hkey, cbkey = _minute_key(host_id, int(now // 60)), _hour_key(host_id, int(now // 3600)), _cb_key(host_id)
    found = await cache.aget_many([mkey, hkey, cbkey])
    minute, hour = _add_sample(
        found, mkey, hkey, served=not fault, ttft_ms=ttft_ms, tps=_tps(output_tokens, duration_ms, ttft_ms)
    )
    await cache.aset_many({mkey: minute}, MINUTE_TTL)
    await cache.aset_many({hkey: hour}, HOUR_TTL)
    if fault:
        await _record_failure(host_id, found.get(cbkey), now)
    elif found.get(cbkey) is not None:
        await cache.adelete_many([cbkey, _probe_key(host_id)])


def _tps(output_tokens: int, duration_ms: float, ttft_ms: float | None) -> float | None:
    """Output tokens per second of generation (after the first token, when we know when that was)."""
    generating_ms = duration_ms - (ttft_ms or 0.0)
    if output_tokens <= 0 or generating_ms <= 0:
        return None
    return output_tokens * 1000.0 / generating_ms


def _add_sample(
    found: Mapping[str, Any], mkey: str, hkey: str, *, served: bool, ttft_ms: float | None, tps: float | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    minute = found.get(mkey) or {"n": 0, "ok": 0, "ttft": [], "tps": []}
    hour = found.get(hkey) or {"n": 0, "ok": 0}
    for bucket in (minute, hour):
        bucket["n"] += 1
        bucket["ok"] += int(served)
    if ttft_ms is not None and served:
        minute["ttft"] = [*minute["ttft"], float(ttft_ms)][-MAX_SAMPLES:]
    if tps is not None and served:
        minute["tps"] = [*minute["tps"], tps][-MAX_SAMPLES:]
    return minute, hour


async def _record_failure(host_id: int, state: dict[str, Any] | None, now: float) -> None:
    state = state or {"failures": 0, "opened_at": None}
    state["failures"] += 1
    # A failure while open/half-open is a failed probe: start a new cool-down.
    if state["opened_at"] is not None or state["failures"] >= failure_threshold():
        state["opened_at"] = now
        await cache.adelete(_probe_key(host_id))
    await cache.aset(_cb_key(host_id), state, HOUR_TTL)


# --- reading --------------------------------------------------------------------------------


async def host_health(host_ids: Iterable[int], *, with_stats: bool = True) -> dict[int, HostHealth]:
    """Circuit state (and live stats) per host, for routing. May claim the one half-open probe."""
    ids = list(dict.fromkeys(host_ids))
    states = await cache.aget_many([_cb_key(h) for h in ids])
    now = time.time()
    circuits = {h: await _circuit(h, states.get(_cb_key(h)), now) for h in ids}
    stats = await _stats_async(ids, now) if with_stats else {}
    return {h: _health(h, circuits[h], stats.get(h)) for h in ids}


async def _circuit(host_id: int, state: Mapping[str, Any] | None, now: float) -> str:
    if not state or state.get("opened_at") is None:
        return CIRCUIT_CLOSED
    if now - state["opened_at"] < cooldown_seconds():
        return CIRCUIT_OPEN
    claimed = await cache.aadd(_probe_key(host_id), now, timeout=max(1, int(cooldown_seconds())))
    return CIRCUIT_HALF_OPEN if claimed else CIRCUIT_OPEN


def circuit_state_sync(host_ids: Iterable[int]) -> dict[int, str]:
    """Circuit state for pages: never claims the probe (half-open shows as half-open)."""
    ids = list(host_ids)
    states = cache.get_many([_cb_key(h) for h in ids])
    now = time.time()
    out = {}
    for h in ids:
        state = states.get(_cb_key(h))
        if not state or state.get("opened_at") is None:
            out[h] = CIRCUIT_CLOSED
        else:
            out[h] = CIRCUIT_OPEN if now - state["opened_at"] < cooldown_seconds() else CIRCUIT_HALF_OPEN
    return out


def host_stats_sync(host_ids: Iterable[int]) -> dict[int, HostHealth]:
    """Live stats and circuit state for pages and /v1/catalog (sync cache reads, no side effects)."""
    ids = list(dict.fromkeys(host_ids))
    now = time.time()
    found = cache.get_many(_stat_keys(ids, now))
    circuits = circuit_state_sync(ids)
    return {h: _health(h, circuits[h], _compute(h, found, now)) for h in ids}


@dataclass(frozen=True, slots=True)
class _Stats:
    p50_ttft_ms: float | None
    p90_ttft_ms: float | None
    p50_tokens_per_s: float | None
    uptime_5m: float | None
    uptime_30m: float | None
    uptime_1d: float | None
    samples: int


_memo: dict[int, tuple[float, _Stats]] = {}


async def _stats_async(ids: list[int], now: float) -> dict[int, _Stats]:
    fresh: dict[int, _Stats] = {}
    for h in ids:
        memo = _memo.get(h)
        if memo is not None and now - memo[0] < STATS_TTL:
            fresh[h] = memo[1]
    missing = [h for h in ids if h not in fresh]
    if missing:
        found = await cache.aget_many(_stat_keys(missing, now))
        for h in missing:
            fresh[h] = _compute(h, found, now)
            _memo[h] = (now, fresh[h])
    return fresh


def _stat_keys(ids: list[int], now: float) -> list[str]:
    minute, hour = int(now // 60), int(now // 3600)
    keys = [_minute_key(h, minute - i) for h in ids for i in range(30)]
    return keys + [_hour_key(h, hour - i) for h in ids for i in range(24)]


def _compute(host_id: int, found: Mapping[str, Any], now: float) -> _Stats:
    minute, hour = int(now // 60), int(now // 3600)
    minutes = [found.get(_minute_key(host_id, minute - i)) for i in range(30)]
    hours = [b for i in range(24) if (b := found.get(_hour_key(host_id, hour - i)))]
    recent = [b for b in minutes[:5] if b]
    half_hour = [b for b in minutes if b]
    ttfts = [v for b in half_hour for v in b["ttft"]]
    tps = [v for b in half_hour for v in b["tps"]]
    return _Stats(
        p50_ttft_ms=percentile(ttfts, 0.5),
        p90_ttft_ms=percentile(ttfts, 0.9),
        p50_tokens_per_s=percentile(tps, 0.5),
        uptime_5m=_uptime(recent),
        uptime_30m=_uptime(half_hour),
        uptime_1d=_uptime(hours),
        samples=sum(b["n"] for b in half_hour),
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
    )


def reset_memo() -> None:
    _memo.clear()


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
    from gateway.models import RequestLog

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
    tps = [t for s in served if (t := _tps(s[3], s[2] or 0.0, s[1])) is not None]
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
