"""Live-board probes: every PROBE_INTERVAL_SECONDS, one tiny streaming request to each enabled, configured
provider's probe host (catalog.yaml `probe:`), through the real provider modules as the gateway calls them
(gateway.fidelity.Probe: the same shaping, request building, event decoding and Messages -> Chat translation).

Each probe records its time to first token and throughput as a probe sample (catalog.probes, apart from
customer samples) and in the live host stats as probe figures (catalog.health.record_probe: `:nitro` and
`/v1/catalog` read them); its upstream cost is charged to the house account (wallet.ledger.charge_probe),
never to a customer. Before a run, each probe's dearest possible cost is set against what is left of the
UTC day's PROBE_DAILY_BUDGET_MICROS: once the budget is spent, no probe is sent. Probes never touch the
circuit breaker (a failed probe says nothing a customer request has not).

Sync entry point `run_probes()` (the Celery task `gateway.tasks.run_probes`, scheduled by setup_schedules).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog import health, probes
from catalog.models import ProbeSample
from catalog.snapshot import HostInfo, build_snapshot
from gateway import outbound, pipeline
from gateway.fidelity import CaseFailed, Probe
from gateway.usage import EMPTY, Usage, from_openai
from lib.redact import redact
from wallet import ledger, money

log = logging.getLogger(__name__)

PROMPT = "Count from 1 to 30 in words, separated by commas. No other text."
# The prompt's tokens are unknown until the upstream says; the budget check assumes at most this many.
PROMPT_TOKENS_BOUND = 64


def probe_body() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": settings.PROBE_MAX_TOKENS}


@dataclass(slots=True)
class Tally:
    """What one probe measured; filled as the stream arrives, so a timed-out probe still knows what it got."""

    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(default_factory=lambda: pipeline.clock())  # UTC: picks a time-of-day rate
    first_at: float | None = None
    chars: int = 0
    reported: Usage = EMPTY
    error: str = ""

    @property
    def ttft_ms(self) -> float | None:
        return (self.first_at - self.started) * 1000 if self.first_at is not None else None


def _delivered(chunk: dict[str, Any]) -> str:
    """The text (answer or reasoning) a chunk carries: what a client would see arrive."""
    out = ""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        for key in ("content", "reasoning_content", "reasoning"):
            value = delta.get(key)
            if isinstance(value, str):
                out += value
    return out


async def probe_one(host: HostInfo, tally: Tally) -> None:
    probe = Probe(host, pipeline.module_for(host.provider.protocol))
    async for chunk in probe.chunks(probe_body()):
        text = _delivered(chunk)
        if text:
            tally.first_at = tally.first_at or time.perf_counter()
            tally.chars += len(text)
        raw = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")  # Groq's usage under x_groq
        if raw:
            tally.reported = from_openai(raw)


async def _timed(host: HostInfo) -> tuple[Tally, float]:
    tally = Tally()
    try:
        await asyncio.wait_for(probe_one(host, tally), settings.PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        tally.error = f"no end of stream within {settings.PROBE_TIMEOUT_SECONDS:g} s"
    except CaseFailed as exc:
        tally.error = redact(str(exc))
    except Exception as exc:  # a refused connection, garbage from upstream: the probe failed, the run goes on
        tally.error = redact(f"{type(exc).__name__}: {exc}")
    return tally, (time.perf_counter() - tally.started) * 1000


async def _probe_all(hosts: list[HostInfo]) -> list[tuple[Tally, float]]:
    try:
        return list(await asyncio.gather(*(_timed(h) for h in hosts)))
    finally:
        await outbound.aclose()  # this loop's pooled connections go with it


def worst_cost(host: HostInfo) -> int:
    """The most one probe of `host` can cost the house (upstream prices, micro-dollars), at its dearest rate."""
    usage = Usage(input=PROMPT_TOKENS_BOUND, output=settings.PROBE_MAX_TOKENS)
    return max(money.cost(usage, prices, 0).upstream for prices in host.sheet.possible(PROMPT_TOKENS_BOUND))


def _record(host: HostInfo, sample: ProbeSample, tally: Tally, duration_ms: float) -> int:
    """Store one probe: its sample, its cost on the house account, its figures in the live stats."""
    input_estimate = pipeline.estimate_input_tokens({"messages": probe_body()["messages"]}, host.model_id)
    usage, estimated = pipeline.billable_usage(tally.reported, tally.chars, input_estimate, tally.chars > 0)
    cost = pipeline.charge_for(usage, host, tally.started_at).upstream
    ok = not tally.error and tally.first_at is not None
    error = tally.error or ("" if ok else "the stream carried no text")
    receipt = {
        "probe_id": sample.probe_id,
        "host_id": host.id,
        "provider": host.provider.slug,
        "upstream_model": host.upstream_model,
        "price_version_id": host.price_version_id,
        "rate": pipeline.rate_for(usage, host, tally.started_at).name,
        "usage": {"input": usage.input, "cache_read": usage.cache_read, "output": usage.output},
        "estimated": estimated,
    }
    ledger.charge_probe(probe_id=sample.probe_id, amount=cost, receipt=receipt)
    probes.finish(
        sample,
        ok=ok,
        ttft_ms=tally.ttft_ms,
        duration_ms=duration_ms,
        output_tokens=usage.output,
        cost=cost,
        error=error,
    )
    health.record_probe(host.id, ok=ok, ttft_ms=tally.ttft_ms, output_tokens=usage.output, duration_ms=duration_ms)
    return cost


def run_probes(now: datetime | None = None) -> dict[str, int | str]:
    """Probe every target once for this interval, within the day's budget. Sync (Celery, tests)."""
    if not probes.configured():
        return {"probed": 0, "state": "off"}
    now = now or timezone.now()
    remaining = settings.PROBE_DAILY_BUDGET_MICROS - ledger.probe_spend_since(probes.day_start(now))
    chosen: list[tuple[HostInfo, ProbeSample]] = []
    over_budget = taken = 0
    for host in probes.targets(build_snapshot()):
        worst = worst_cost(host)
        if worst > remaining:
            over_budget += 1
            continue
        sample = probes.claim(host, now)
        if sample is None:
            taken += 1  # probed already in this interval (an overlapping or retried run)
            continue
        remaining -= worst
        chosen.append((host, sample))
    if over_budget:
        log.info("qlaud.probes.budget_spent skipped=%d budget=%d", over_budget, settings.PROBE_DAILY_BUDGET_MICROS)
    results = asyncio.run(_probe_all([host for host, _ in chosen])) if chosen else []
    spent = sum(_record(h, s, tally, ms) for (h, s), (tally, ms) in zip(chosen, results, strict=True))
    return {"probed": len(chosen), "over_budget": over_budget, "taken": taken, "spent": spent, "state": "on"}
