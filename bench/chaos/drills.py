"""One function per fault. Each starts qlaud (uvicorn, real workers) on the private world, drives load with the
real SDKs, injects its fault at a fixed second, stops qlaud, lets the reconciler run, and returns its figures
and the invariants it checked (`failures` lists the broken ones)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.chaos import load
from bench.chaos.load import Outcome
from bench.chaos.stack import QLAUD_SETTINGS, World

LEASE_TTL = float(QLAUD_SETTINGS["WALLET_LEASE_TTL_SECONDS"])


Fault = Callable[[World], None]


@dataclass
class Plan:
    name: str
    hurt: Fault  # run at `at` seconds into the load
    heal: Fault | None  # run at `heal_at`
    at: float
    heal_at: float
    seconds: float
    loads: dict[str, dict[str, Any]]  # model -> load.run kwargs (clients, stream, pause)
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> mode settings at the start
    workers: int = 2


def _summary(outcomes: list[Outcome], at: float, heal: float) -> dict[str, Any]:
    kinds = Counter(o.result if o.result != "http" else f"http {o.status}" for o in outcomes)
    failed = [o for o in outcomes if o.result != "ok"]
    after = [o for o in failed if o.start >= heal]
    during = [o for o in outcomes if o.start < heal and o.end > at]
    return {
        "requests": len(outcomes),
        "ok": kinds.pop("ok", 0),
        "errors": dict(kinds),
        "violations": [o.to_json() for o in outcomes if o.violation][:5],
        "violation_count": sum(1 for o in outcomes if o.violation),
        "requests_during_fault": len(during),
        "failed_during_fault": sum(1 for o in during if o.result != "ok"),
        "failed_after_recovery": len(after),
        # Seconds from the fault's end to the start of the last request that still failed.
        "refusal_after_recovery_s": round(max((o.start for o in after), default=heal) - heal, 2),
        "error_samples": sorted({f"{o.result} {o.status}: {o.detail[:120]}" for o in failed})[:6],
    }


def _money(world: World, org_id: int, outcomes: list[Outcome]) -> dict[str, Any]:
    ids = [o.request_id for o in outcomes if o.request_id]
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
        f.write("\n".join(ids))
    try:
        return world.world("check", "--org", str(org_id), "--ids", f.name, "--reconcile")
    finally:
        os.unlink(f.name)


def _failures(summary: dict[str, Any], money: dict[str, Any], outcomes: list[Outcome]) -> list[str]:
    served = {o.request_id for o in outcomes if o.result == "ok" and o.request_id}
    unlogged = [i for i in money["ids_without_log_row"] if i in served]
    checks = {
        "an answer was HTML, not JSON, a 500, or a 503/529 without Retry-After": summary["violation_count"] == 0,
        "a RequestLog row with a cost has no usage entry (lost charge)": money["costed_rows_without_usage_entry"] == 0,
        "a request was charged twice": money["double_charges"] == 0,
        "a charge differs from its RequestLog cost": money["charge_differs_from_log_cost"] == 0,
        "balance != credits - charges": money["balance_is_credits_minus_charges"],
        "balance != sum of ledger entries (drift)": not money["ledger_drift"]
        and money["balance"] == money["entries_sum"],
        "holds still open after shutdown and reconcile": money["open_holds"] == 0 and money["held"] == 0,
        f"{len(unlogged)} served requests have no RequestLog row": not unlogged,
    }
    return [name for name, ok in checks.items() if not ok]


async def _inject(world: World, plan: Plan, marks: dict[str, Any]) -> None:
    await asyncio.sleep(plan.at)
    marks["calls_before"] = await asyncio.to_thread(world.upstream_calls)
    marks["t_fault"] = time.monotonic()
    await asyncio.to_thread(plan.hurt, world)
    await asyncio.sleep(plan.heal_at - plan.at)
    if plan.heal is not None:
        await asyncio.to_thread(plan.heal, world)
    marks["calls_after"] = await asyncio.to_thread(world.upstream_calls)
    marks["t_heal"] = time.monotonic()


async def _drive(world: World, plan: Plan, key: str, marks: dict[str, Any]) -> dict[str, list[Outcome]]:
    assert world.qlaud is not None
    url = world.qlaud.url
    runs = {model: load.run(url, key, model=model, seconds=plan.seconds, **kw) for model, kw in plan.loads.items()}
    t0 = time.monotonic()
    results = await asyncio.gather(_inject(world, plan, marks), *runs.values())
    marks["t0"] = t0
    return dict(zip(runs, results[1:], strict=True))


def run(world: World, plan: Plan) -> dict[str, Any]:
    started = time.monotonic()
    subprocess.run(["redis-cli", "-p", str(world.redis.port), "flushall"], capture_output=True)
    for host in ("solo", "pa", "pb"):
        world.control(host, **{"mode": "ok", "chunks": 20, "interval_ms": 50, **plan.upstream.get(host, {})})
    tenant = world.world("tenant", "--credit", "100000000")  # $100
    qlaud = world.start_qlaud(plan.workers)
    marks: dict[str, Any] = {}
    try:
        by_model = asyncio.run(_drive(world, plan, tenant["key"], marks))
    finally:
        qlaud.stop()
    time.sleep(LEASE_TTL + 1)  # a dead worker's lease expires; logged rows pass the reconciler's grace
    outcomes = [o for runs in by_model.values() for o in runs]
    at, heal = marks["t_fault"] - marks["t0"], marks["t_heal"] - marks["t0"]
    money = _money(world, tenant["org_id"], outcomes)
    report: dict[str, Any] = {
        "drill": plan.name,
        "workers": plan.workers,
        "fault_at_s": round(at, 2),
        "healed_at_s": round(heal, 2),
        "by_model": {model: _summary(runs, at, heal) for model, runs in by_model.items()},
        "money": {k: v for k, v in money.items() if k not in ("ids_without_log_row", "charged_by_id")},
        "upstream_calls_during_fault": _delta(marks["calls_before"], marks["calls_after"]),
    }
    report["failures"] = [f for s in report["by_model"].values() for f in _failures(s, money, outcomes)]
    report["failures"] = sorted(set(report["failures"]))
    missing = set(money["ids_without_log_row"])
    report["served_without_log_row"] = [o.to_json() for o in outcomes if o.result == "ok" and o.request_id in missing]
    report["extra"] = EXTRA.get(plan.name, lambda *_: {})(report, money, outcomes, marks)
    report["failures"] += report["extra"].pop("failures", [])
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {}
    for host, modes in after.items():
        diff = {m: n - before.get(host, {}).get(m, 0) for m, n in modes.items()}
        if any(diff.values()):
            out[host] = {m: n for m, n in diff.items() if n}
    return out


# --- the faults -------------------------------------------------------------------------------------------


def _kill_worker(world: World) -> None:
    assert world.qlaud is not None
    # The worker holding the most connections (the kernel may hand one worker most of them).
    victim = max(world.qlaud.workers(), key=_sockets)
    os.kill(victim, signal.SIGKILL)


def _sockets(pid: int) -> int:
    try:
        return sum(1 for fd in os.scandir(f"/proc/{pid}/fd") if os.readlink(fd.path).startswith("socket:"))
    except OSError:
        return 0


def _upstream(hosts: tuple[str, ...], mode: str):
    def hurt(world: World) -> None:
        for host in hosts:
            world.control(host, mode=mode)

    def heal(world: World) -> None:
        for host in hosts:
            world.control(host, mode="ok")

    return hurt, heal


def _kill_extra(report: dict[str, Any], money: dict[str, Any], outcomes: list[Outcome], marks: dict) -> dict[str, Any]:
    """Streams cut by the kill: what each had delivered and what it was charged (from its checkpoint)."""
    cut = [o for o in outcomes if o.result == "cut"]
    charged = money["charged_by_id"]
    # micro-dollars: 12 input tokens at $1/M and 40 output tokens at $10/M, plus the default 7% markup
    full = -(-(12 * 1 + 40 * 10) * 10_700 // 10_000)
    rows = [{"chunks": o.chunks, "charged": charged.get(o.request_id, 0)} for o in cut]
    lost = [r for r in rows if r["chunks"] > 0 and r["charged"] == 0]
    return {
        "streams_cut": len(cut),
        "cut_streams": sorted(rows, key=lambda r: r["chunks"]),
        "full_stream_price": full,
        "failures": ([f"{len(lost)} cut streams that delivered output were never charged"] if lost else [])
        + ([] if cut else ["the kill cut no stream (nothing was tested)"]),
    }


def _storm_extra(report: dict[str, Any], money: dict[str, Any], outcomes: list[Outcome], marks: dict) -> dict[str, Any]:
    """No retry storm: upstream calls per client request during the storm; no refusal once it is over."""
    calls = report["upstream_calls_during_fault"]
    solo, pair = report["by_model"]["chaos-solo"], report["by_model"]["chaos-pair"]
    per_request = {
        "chaos-solo": round(sum(calls.get("solo", {}).values()) / max(solo["requests_during_fault"], 1), 2),
        "chaos-pair": round(
            sum(sum(calls.get(h, {}).values()) for h in ("pa", "pb")) / max(pair["requests_during_fault"], 1), 2
        ),
    }
    failures = []
    # One call per request and host at most (a request already in flight when the storm began adds a little).
    if per_request["chaos-solo"] > 1.1 or per_request["chaos-pair"] > 2.1:
        failures.append(f"retry storm: upstream calls per request {per_request}")
    if solo["refusal_after_recovery_s"] > 1.0:
        failures.append(f"single-host model refused {solo['refusal_after_recovery_s']} s after the upstream recovered")
    if pair["failed_during_fault"]:
        failures.append(f"{pair['failed_during_fault']} requests to the two-host model failed although pb was healthy")
    return {"upstream_calls_per_request_during_storm": per_request, "failures": failures}


def _stall_extra(report: dict[str, Any], money: dict[str, Any], outcomes: list[Outcome], marks: dict) -> dict[str, Any]:
    stalled = [o for o in outcomes if o.result != "ok" and marks["t_fault"] - marks["t0"] <= o.start]
    waits = sorted(round(o.end - o.start, 2) for o in stalled)
    charged = money["charged_by_id"]
    return {
        "stalled_requests": len(stalled),
        "time_to_error_s": {"min": waits[0], "max": waits[-1]} if waits else {},
        "stalled_with_output_charged": sum(1 for o in stalled if o.chunks and charged.get(o.request_id)),
        "stalled_with_output": sum(1 for o in stalled if o.chunks),
        "failures": [] if stalled and waits[-1] < 10 else ["no stall ended within 10 s"],
    }


EXTRA: dict[str, Callable[..., dict[str, Any]]] = {
    "worker-kill": _kill_extra,
    "upstream-500-storm": _storm_extra,
    "upstream-429-storm": _storm_extra,
    "upstream-stall-first-byte": _stall_extra,
    "upstream-stall-mid-stream": _stall_extra,
}

SHORT = {"clients": 6, "stream": "mixed"}
QUICK = {"chunks": 5, "interval_ms": 20}


def _outage(name: str, hurt: Fault, heal: Fault) -> Plan:
    """Six seconds without a service qlaud depends on, under short mixed requests."""
    return Plan(name, hurt, heal, at=5, heal_at=11, seconds=22, loads={"chaos-solo": SHORT}, upstream={"solo": QUICK})


def _stall(name: str, mode: str, stream: str) -> Plan:
    hurt, heal = _upstream(("solo",), mode)
    loads = {"chaos-solo": {"clients": 6, "stream": stream}}
    upstream = {"solo": {"chunks": 10, "interval_ms": 30}}
    return Plan(name, hurt, heal, at=4, heal_at=10, seconds=18, loads=loads, upstream=upstream)


def _storm(status: str) -> Plan:
    """The single host of chaos-solo and the first host of chaos-pair answer `status` for 8 s."""
    hurt, heal = _upstream(("solo", "pa"), status)
    loads = {"chaos-solo": SHORT, "chaos-pair": SHORT}
    upstream = {h: QUICK for h in ("solo", "pa", "pb")}
    return Plan(f"upstream-{status}-storm", hurt, heal, at=4, heal_at=12, seconds=20, loads=loads, upstream=upstream)


PLANS = {
    plan.name: plan
    for plan in (
        Plan(
            "worker-kill",
            _kill_worker,
            None,
            at=2.5,
            heal_at=2.5,
            seconds=10,
            loads={"chaos-solo": {"clients": 12, "stream": "yes"}},
            upstream={"solo": {"chunks": 40, "interval_ms": 100}},
        ),
        _outage("postgres-down", lambda w: w.pg.stop("immediate"), lambda w: w.pg.start()),
        _outage("redis-stopped", lambda w: w.redis.stop(), lambda w: w.redis.start()),
        _outage("redis-frozen", lambda w: w.redis.freeze(), lambda w: w.redis.thaw()),
        _stall("upstream-stall-first-byte", "stall_first", "mixed"),
        _stall("upstream-stall-mid-stream", "stall_mid", "yes"),
        _storm("500"),
        _storm("429"),
    )
}
