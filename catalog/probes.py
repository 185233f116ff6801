"""Live-board probes: which hosts are probed, their samples, and the figures pages show from them.

The calls themselves go through the gateway's provider modules (gateway/probes.py); their cost is paid by
the house account (wallet.ledger.charge_probe). Probe samples (`ProbeSample`) are kept apart from customer
samples (`RequestLog`): every page shows the two side by side, never mixed.

On only when both `PROBE_INTERVAL_SECONDS` and `PROBE_DAILY_BUDGET_MICROS` are set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.health import percentile, tokens_per_second
from catalog.models import ProbeSample
from catalog.snapshot import CatalogSnapshot, HostInfo

WINDOW = timedelta(hours=1)  # as the customer TTFT board's


def configured() -> bool:
    return settings.PROBE_INTERVAL_SECONDS > 0 and settings.PROBE_DAILY_BUDGET_MICROS > 0


def day_start(now: datetime) -> datetime:
    """The start of `now`'s UTC day: the daily budget's period."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def targets(snapshot: CatalogSnapshot) -> list[HostInfo]:
    """Each enabled, configured provider's probe host, if it is routable (enabled, priced, not retired)."""
    found = []
    for slug in sorted(snapshot.providers):
        provider = snapshot.providers[slug]
        host = snapshot.hosts.get(provider.probe_host_id) if provider.probe_host_id else None
        if host is not None and not provider.missing:
            found.append(host)
    return found


def claim(host: HostInfo, now: datetime) -> ProbeSample | None:
    """This interval's sample of `host`, or None when another run already took it."""
    slot = int(now.timestamp()) // max(1, settings.PROBE_INTERVAL_SECONDS)
    try:
        with transaction.atomic():
            return ProbeSample.objects.create(
                probe_id=f"{host.id}:{slot}", host_id=host.id, provider=host.provider.slug, created=now
            )
    except IntegrityError:
        return None


def finish(
    sample: ProbeSample,
    *,
    ok: bool,
    ttft_ms: float | None,
    duration_ms: float,
    output_tokens: int,
    cost: int,
    error: str = "",
) -> None:
    sample.ok = ok
    sample.ttft_ms = ttft_ms
    sample.duration_ms = duration_ms
    sample.output_tokens = output_tokens
    sample.tokens_per_s = tokens_per_second(output_tokens, duration_ms, ttft_ms) if ok else None
    sample.cost = cost
    sample.error = error[:300]
    sample.save(update_fields=["ok", "ttft_ms", "duration_ms", "output_tokens", "tokens_per_s", "cost", "error"])


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    """A provider's (or host's) probe figures over the window."""

    p50_ttft_ms: float | None
    p50_tokens_per_s: float | None
    samples: int  # probes answered in the window
    failed: int  # probes that got no answer


def figures(field: str = "provider", now: datetime | None = None) -> dict[str | int, ProbeFigures]:
    """Per provider slug (`field="provider"`) or host id (`"host_id"`): the probes of the last hour."""
    since = (now or timezone.now()) - WINDOW
    rows = ProbeSample.objects.filter(created__gte=since, ok__isnull=False).values_list(
        field, "ok", "ttft_ms", "tokens_per_s"
    )
    grouped: dict[str | int, list[tuple[bool, float | None, float | None]]] = {}
    for key, ok, ttft, tps in rows:
        grouped.setdefault(key, []).append((ok, ttft, tps))
    out = {}
    for key, samples in grouped.items():
        answered = [s for s in samples if s[0]]
        out[key] = ProbeFigures(
            p50_ttft_ms=percentile([s[1] for s in answered if s[1] is not None], 0.5),
            p50_tokens_per_s=percentile([s[2] for s in answered if s[2] is not None], 0.5),
            samples=len(answered),
            failed=len(samples) - len(answered),
        )
    return out
