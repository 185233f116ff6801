"""Public pages: /models (catalog with search, filters and sort), /models/<id>, /pricing.

Every filter is a plain GET query string, so the pages work without JavaScript; with htmx the
same URL answers with just the results partial (the HX-Request header), swapped in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog import byok, fidelity, health, pricing, rates
from catalog.models import Capability
from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_OPEN, HostHealth
from catalog.snapshot import CatalogSnapshot, HostInfo, ModelInfo, get_snapshot_sync
from wallet import money

SORTS = {"name": "Name", "price": "Price", "speed": "Speed", "context": "Context"}
LIVE_TTL = 15.0
_live: dict[str, Any] = {"at": 0.0, "version": None, "stats": {}}


def live_stats(snap: CatalogSnapshot) -> dict[int, HostHealth]:
    """Live host stats for pages, shared by renders for LIVE_TTL seconds."""
    now = time.monotonic()
    if _live["version"] != snap.version or now - _live["at"] > LIVE_TTL:
        _live.update(at=now, version=snap.version, stats=health.host_stats_sync(snap.hosts))
    return _live["stats"]


def reset() -> None:
    """Forget cached live stats (tests)."""
    _live.update(at=0.0, version=None, stats={})


@dataclass(frozen=True, slots=True)
class HostRow:
    host: HostInfo
    customer: money.Prices
    live: HostHealth | None
    own_key: bool = False  # the viewer's org has its own key for this host's provider (catalog.byok)

    @property
    def rates(self) -> list[dict[str, Any]]:
        """Rates that replace this host's prices for long prompts or at some hours (catalog.rates.for_display)."""
        return rates.host_rates(self.host.rates, self.host.rate_details, pricing.markup_bps())

    @property
    def fidelity(self) -> dict[str, Any] | None:
        """The host's last conformance run (manage.py fidelity): when, what passed, what failed."""
        return fidelity.summary(self.host.fidelity)

    @property
    def status(self) -> str:
        if self.host.retired_at is not None:
            return "retired"
        if self.host.provider.missing and not self.own_key:  # with the org's own key the gateway routes here
            return "not configured"
        circuit = self.live.circuit if self.live else CIRCUIT_CLOSED
        return {CIRCUIT_CLOSED: "up", CIRCUIT_OPEN: "down"}.get(circuit, "recovering")


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: ModelInfo
    hosts: tuple[HostRow, ...]
    cheapest: HostRow
    tokens_per_s: float | None

    @property
    def configured(self) -> bool:
        """Some host's provider has its settings (catalog.readiness) or the viewer's org has its own key for it: the
        model can answer here."""
        return any(h.host.provider.configured or h.own_key for h in self.hosts)

    @property
    def providers(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((h.host.provider.slug, h.host.provider.name) for h in self.hosts))


def model_row(model: ModelInfo, live: dict[int, HostHealth], own: frozenset[int] = frozenset()) -> ModelRow:
    """`own`: ids of the providers the viewer's org has its own key for."""
    bps = pricing.markup_bps()
    every = (*model.hosts, *model.retired_hosts)  # retired hosts are shown, never routed to
    hosts = tuple(HostRow(h, money.customer_prices(h.prices, bps), live.get(h.id), h.provider.id in own) for h in every)
    routable = [r for r in hosts if r.host.retired_at is None] or hosts
    cheapest = min(routable, key=lambda r: (r.customer.input + r.customer.output, r.host.priority))
    speeds = [r.live.p50_tokens_per_s for r in hosts if r.live and r.live.p50_tokens_per_s is not None]
    return ModelRow(model, hosts, cheapest, max(speeds) if speeds else None)


def own_providers(request: HttpRequest) -> frozenset[int]:
    """Providers the signed-in viewer's org has its own usable key for: the gateway serves its requests there
    (catalog.routing's own_providers) even where qlaud has no key."""
    org = getattr(request, "org", None)
    return frozenset(byok.load_org_keys(org.pk)) if org is not None else frozenset()


def _matches(row: ModelRow, q: str, provider: str, capability: str) -> bool:
    m = row.model
    # Every word must appear somewhere, in any order: "qwen coder" finds qwen3-coder-480b.
    haystack = " ".join(text.lower() for text in (m.id, m.name, m.author, m.family) if text)
    if q and not all(word in haystack for word in q.split()):
        return False
    if provider and provider not in {slug for slug, _ in row.providers}:
        return False
    return not capability or capability in m.capabilities


def _sort(rows: list[ModelRow], sort: str) -> list[ModelRow]:
    if sort == "price":
        return sorted(rows, key=lambda r: (r.cheapest.customer.input + r.cheapest.customer.output, r.model.id))
    if sort == "speed":
        return sorted(rows, key=lambda r: (r.tokens_per_s is None, -(r.tokens_per_s or 0), r.model.id))
    if sort == "context":
        return sorted(rows, key=lambda r: (-r.model.context_length, r.model.id))
    return sorted(rows, key=lambda r: r.model.name.lower())


@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    snap = get_snapshot_sync()
    live = live_stats(snap)
    own = own_providers(request)
    q = request.GET.get("q", "").strip().lower()[:100]
    provider = request.GET.get("provider", "")
    capability = request.GET.get("capability", "")
    sort = request.GET.get("sort", "name") if request.GET.get("sort") in SORTS else "name"
    all_rows = [model_row(m, live, own) for m in snap.models.values()]
    rows = _sort([r for r in all_rows if _matches(r, q, provider, capability)], sort)
    context = {
        "rows": rows,
        "retired": sorted((model_row(m, live, own) for m in snap.retired.values()), key=lambda r: r.model.id),
        "total": len(all_rows),
        "q": request.GET.get("q", ""),
        "provider": provider,
        "capability": capability,
        "sort": sort,
        "sorts": SORTS,
        "providers": sorted(
            {(p.slug, p.name) for m in snap.models.values() for p in (h.provider for h in m.hosts)},
            key=lambda p: p[1].lower(),
        ),
        "capabilities": Capability.choices,
        "markup_percent": pricing.markup_bps() / 100,
    }
    template = "catalog/_model_results.html" if getattr(request, "htmx", False) else "catalog/models.html"
    return render(request, template, context)


@require_GET
def model_page(request: HttpRequest, model_id: str) -> HttpResponse:
    snap = get_snapshot_sync()
    model = snap.models.get(model_id) or snap.retired.get(model_id)
    if model is None:
        raise Http404("No such model")
    row = model_row(model, live_stats(snap), own_providers(request))
    return render(
        request, "catalog/model.html", {"row": row, "model": model, "markup_percent": pricing.markup_bps() / 100}
    )


# --- pricing ------------------------------------------------------------------------------

# Live hosts with verified prices (catalog.yaml); a test keeps them so.
EXAMPLE_MODELS = ("claude-sonnet-5", "deepseek-flash", "gpt-5.1", "gemini-2.5-pro", "gpt-oss-120b", "grok-4.3")
MAX_CALC_TOKENS = 100_000_000


@dataclass(frozen=True, slots=True)
class Estimate:
    model: ModelInfo
    host: HostInfo
    input_tokens: int
    output_tokens: int
    charge: money.Charge
    rate: str = money.STANDARD  # the host's rate for this prompt size (its plain prices, or a long-context tier)
    timed: bool = False  # the host also has time-of-day rates: the estimate is at its plain prices

    @property
    def upstream_usd(self) -> str:
        return money.format_usd(self.charge.upstream)

    @property
    def total_usd(self) -> str:
        return money.format_usd(self.charge.total)

    @property
    def markup_usd(self) -> str:
        return money.format_usd(self.charge.markup)


def estimate(model: ModelInfo, input_tokens: int, output_tokens: int) -> Estimate:
    """What a request costs on the model's first-choice host (the one routing tries first), at the rate its prompt
    size pays; time-of-day rates are left out (the estimate says so), since no hour is asked for."""
    host = model.hosts[0]
    tier = next((r for r in host.rates if not r.windows and r.above is not None and input_tokens > r.above), None)
    prices, name = (tier.prices, tier.name) if tier else (host.prices, host.rate_name)
    charge = money.cost(money.Tokens(input=input_tokens, output=output_tokens), prices, pricing.markup_bps())
    timed = any(r.windows for r in host.rates)
    return Estimate(model, host, input_tokens, output_tokens, charge, name, timed)


def _tokens(value: str | None, default: int) -> int:
    try:
        return min(max(int(str(value).replace(",", "").replace("_", "")), 0), MAX_CALC_TOKENS)
    except (TypeError, ValueError):
        return default


def _calculation(request: HttpRequest, snap: CatalogSnapshot) -> tuple[Estimate | None, dict[str, Any]]:
    params = {
        "model": request.GET.get("model") or _example_id(snap),
        "input_tokens": _tokens(request.GET.get("input_tokens"), 10_000),
        "output_tokens": _tokens(request.GET.get("output_tokens"), 2_000),
    }
    model = snap.models.get(params["model"] or "")
    result = estimate(model, params["input_tokens"], params["output_tokens"]) if model else None
    return result, params


def _example_id(snap: CatalogSnapshot) -> str | None:
    return next((m for m in EXAMPLE_MODELS if m in snap.models), next(iter(sorted(snap.models)), None))


@require_GET
def pricing_page(request: HttpRequest) -> HttpResponse:
    snap = get_snapshot_sync()
    live = live_stats(snap)
    example_id = _example_id(snap)
    calc, params = _calculation(request, snap)
    context = {
        "topups": settings.TOPUP_AMOUNTS_USD,
        "markup_percent": pricing.markup_bps() / 100,
        "markup_bps": pricing.markup_bps(),
        "example": estimate(snap.models[example_id], 1_000_000, 1_000_000) if example_id else None,
        "samples": [model_row(snap.models[m], live) for m in EXAMPLE_MODELS if m in snap.models],
        "all_models": sorted(snap.models.values(), key=lambda m: m.name.lower()),
        "calc": calc,
        "params": params,
    }
    return render(request, "catalog/pricing.html", context)


@require_GET
def pricing_calculate(request: HttpRequest) -> HttpResponse:
    """The calculator's result partial (htmx); without JS the form posts to /pricing itself."""
    calc, params = _calculation(request, get_snapshot_sync())
    return render(request, "catalog/_calculation.html", {"calc": calc, "params": params})
