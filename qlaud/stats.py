"""Live per-provider numbers for the home page's TTFT board, /status and /v1/status.

Percentiles and uptime come straight from recent RequestLog rows (the gateway writes one per
request); the live-board probes' figures from their own samples (catalog.probes), side by side and
never mixed with the customers'; circuit states come from catalog.health. The result is cached for a few seconds so a
crowd on the status page costs one computation, not one per visitor.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from catalog import probes, public
from catalog.health import circuit_state_sync
from requestlog.models import RequestLog

log = logging.getLogger(__name__)

CACHE_KEY = "site:provider-stats:v3"
CACHE_SECONDS = 5
TTFT_WINDOW = timedelta(hours=1)
TTFT_SAMPLE_LIMIT = 20_000  # newest rows only: bounds the work on a busy hour
WINDOWS = {"5m": timedelta(minutes=5), "30m": timedelta(minutes=30), "1d": timedelta(days=1)}
NOT_CONFIGURED = "not configured"
# A request counts against a provider's uptime when the gateway answered with a server-side error.
FAILED = Q(status__gte=500)


@dataclass(frozen=True, slots=True)
class ProviderStat:
    slug: str
    name: str
    circuit: str  # closed | half_open | open | degraded (some hosts open) | unknown | not configured
    p50_ttft_ms: float | None
    requests_1h: int
    error_rate_5m: float | None  # share of requests in the last 5 minutes that failed
    uptime_5m: float | None
    uptime_30m: float | None
    uptime_1d: float | None
    # Settings the provider lacks (catalog.readiness); non-empty: not configured, never routed to.
    missing: tuple[str, ...] = ()
    setup_hint: str = ""
    # The live-board probes of the last hour (gateway/probes.py): the same tiny request to every provider.
    probe_p50_ttft_ms: float | None = None
    probe_p50_tokens_per_s: float | None = None
    probes_1h: int = 0

    @property
    def configured(self) -> bool:
        return not self.missing

    @property
    def board_ttft_ms(self) -> float | None:
        """What the board ranks by: the probes' median (like for like across providers), else the customers'."""
        return self.probe_p50_ttft_ms if self.probe_p50_ttft_ms is not None else self.p50_ttft_ms

    def as_dict(self) -> dict:
        return {**asdict(self), "missing": list(self.missing), "configured": self.configured}


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _ttft_by_provider(now: datetime) -> dict[str, list[float]]:
    rows = (
        RequestLog.objects.filter(created__gte=now - TTFT_WINDOW, ttft_ms__isnull=False, status__lt=400)
        .exclude(provider="")
        .order_by("-created")
        .values_list("provider", "ttft_ms")[:TTFT_SAMPLE_LIMIT]
    )
    out: dict[str, list[float]] = {}
    for provider, ttft in rows:
        out.setdefault(provider, []).append(ttft)
    return out


def _counts_by_provider(now: datetime) -> dict[str, dict[str, int]]:
    """Requests and failures per provider and window, in one aggregate query."""
    annotations = {}
    for name, span in WINDOWS.items():
        recent = Q(created__gte=now - span)
        annotations[f"n_{name}"] = Count("id", filter=recent)
        annotations[f"failed_{name}"] = Count("id", filter=recent & FAILED)
    annotations["n_1h"] = Count("id", filter=Q(created__gte=now - TTFT_WINDOW))
    rows = (
        RequestLog.objects.filter(created__gte=now - WINDOWS["1d"])
        .exclude(provider="")
        .values("provider")
        .annotate(**annotations)
        .order_by()
    )
    return {row.pop("provider"): row for row in rows}


def _ratio_ok(counts: dict[str, int], window: str) -> float | None:
    n = counts.get(f"n_{window}", 0)
    return None if n == 0 else 1 - counts[f"failed_{window}"] / n


def _circuits(snapshot) -> dict[str, str]:
    """Per provider: the state shared by all its hosts, or `degraded` when they differ."""
    if snapshot is None or not snapshot.hosts:
        return {}
    try:
        # Not host_health(): that may claim a half-open probe meant for real traffic.
        circuits = circuit_state_sync(list(snapshot.hosts))
    except Exception:  # the cache is down: say "unknown" rather than fail the page
        log.warning("circuit states unavailable", exc_info=True)
        return {}
    states: dict[str, set[str]] = {}
    for host_id, host in snapshot.hosts.items():
        states.setdefault(host.provider.slug, set()).add(circuits.get(host_id, "closed"))
    return {slug: s.pop() if len(s) == 1 else "degraded" for slug, s in states.items()}


def compute_provider_stats(now: datetime | None = None) -> list[ProviderStat]:
    now = now or timezone.now()
    snapshot = public.snapshot()
    providers = snapshot.providers if snapshot is not None else {}
    names = {slug: p.name for slug, p in providers.items()}
    ttfts = _ttft_by_provider(now)
    counts = _counts_by_provider(now)
    circuits = _circuits(snapshot)
    probed = probes.figures("provider", now)
    stats = []
    for slug in sorted(set(names) | set(counts) | set(ttfts) | set(probed)):
        c = counts.get(slug, {})
        probe = probed.get(slug)
        info = providers.get(slug)
        missing = info.missing if info is not None else ()
        stats.append(
            ProviderStat(
                slug=slug,
                name=names.get(slug, slug),
                circuit=NOT_CONFIGURED if missing else circuits.get(slug, "unknown"),
                p50_ttft_ms=median(ttfts.get(slug, [])),
                requests_1h=c.get("n_1h", 0),
                error_rate_5m=None if not c.get("n_5m") else c["failed_5m"] / c["n_5m"],
                uptime_5m=_ratio_ok(c, "5m"),
                uptime_30m=_ratio_ok(c, "30m"),
                uptime_1d=_ratio_ok(c, "1d"),
                missing=missing,
                setup_hint=info.setup_hint() if info is not None else "",
                probe_p50_ttft_ms=probe.p50_ttft_ms if probe else None,
                probe_p50_tokens_per_s=probe.p50_tokens_per_s if probe else None,
                probes_1h=probe.samples if probe else 0,
            )
        )
    return stats


def self_checks() -> dict[str, bool]:
    """Can this process reach what the gateway needs on every request: the database and the shared cache?"""
    results = {}
    try:
        connection.ensure_connection()
        results["database"] = True
    except Exception:
        log.warning("status check: database unreachable", exc_info=True)
        results["database"] = False
    try:
        cache.set("site:status-probe", 1, 10)
        results["cache"] = cache.get("site:status-probe") == 1
    except Exception:
        log.warning("status check: cache unreachable", exc_info=True)
        results["cache"] = False
    return results


def provider_stats() -> list[ProviderStat]:
    """compute_provider_stats(), shared through the cache for a few seconds (computed anyway if it is down)."""
    try:
        stats = cache.get(CACHE_KEY)
    except Exception:
        return compute_provider_stats()
    if stats is None:
        stats = compute_provider_stats()
        try:
            cache.set(CACHE_KEY, stats, CACHE_SECONDS)
        except Exception:
            log.warning("could not cache provider stats", exc_info=True)
    return stats


def ttft_board() -> list[ProviderStat]:
    """Providers with a measured p50 TTFT (probes or customers), fastest first."""
    measured = [s for s in provider_stats() if s.board_ttft_ms is not None]
    return sorted(measured, key=lambda s: s.board_ttft_ms or 0)
