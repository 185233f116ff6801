"""JSON bodies for /v1/catalog and /v1/models, built from the snapshot (sync: call off the loop).

/v1/catalog bytes are cached per process, keyed by catalog version, the set of hosts whose circuit is not
closed and the providers the caller's org has its own key for (catalog.byok; none for an anonymous caller), so a
steady catalog costs one cache read per request and no org's view reaches another caller. With
include_latency=true the live stats are recomputed at most every STATS_TTL seconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from datetime import time as dtime
from typing import Any

from catalog import fidelity, health, pricing, rates
from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_OPEN, HostHealth
from catalog.snapshot import CatalogSnapshot, HostInfo, ModelInfo
from wallet import money

_bytes_cache: dict[tuple, tuple[float, bytes, str]] = {}
LATENCY_TTL = 15.0


def _prices(prices: Any) -> dict[str, int]:
    return {
        "input": prices.input,
        "output": prices.output,
        "cache_read": prices.cache_read,
        "cache_write": prices.cache_write,
    }


def _host(h: HostInfo, bps: int, circuit: str, live: HostHealth | None, own_key: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": h.id,
        "provider": {"slug": h.provider.slug, "name": h.provider.name},
        "upstream_model": h.upstream_model,
        "context_length": h.context_length,
        "max_output_tokens": h.max_output_tokens,
        "quantization": h.quantization or None,
        "capabilities": sorted(h.capabilities),
        "fidelity": fidelity.summary(h.fidelity),
        "price_version_id": h.price_version_id,
        "pricing": _prices(money.customer_prices(h.prices, bps)),
        "upstream_pricing": _prices(h.prices),
        # Other rates replace `pricing` for long prompts or at some hours (first that applies): see `rates`.
        "rate_name": h.rate_name,
        "rates": rates.host_rates(h.rates, h.rate_details, bps),
        "price_verified": h.price_verified,  # false: not confirmed on the provider's own page
        "price_as_of": h.price_as_of.isoformat() if h.price_as_of else None,
        "status": host_status(h, circuit, own_key),
    }
    if own_key:
        out["own_key"] = True
    elif h.provider.missing:
        out["not_configured"] = {"missing": list(h.provider.missing), "hint": h.provider.setup_hint()}
    if h.retired_at is not None:
        out["status"] = "retired"
        out["retired_at"] = h.retired_at.isoformat()
    if live is not None:
        out["latency"] = {
            "p50_ttft_ms": live.p50_ttft_ms,
            "p90_ttft_ms": live.p90_ttft_ms,
            "p50_tokens_per_s": live.p50_tokens_per_s,
            "uptime_5m": live.uptime_5m,
            "uptime_30m": live.uptime_30m,
            "uptime_1d": live.uptime_1d,
            "samples_30m": live.samples,
            # The live-board probes (gateway/probes.py), apart from the customer figures above.
            "probes": {
                "p50_ttft_ms": live.probe_p50_ttft_ms,
                "p50_tokens_per_s": live.probe_p50_tokens_per_s,
                "samples_30m": live.probe_samples,
            },
        }
    return out


NOT_CONFIGURED = "not configured"  # the provider lacks its settings (catalog.readiness): never routed to


def host_status(h: HostInfo, circuit: str, own_key: bool = False) -> str:
    if h.provider.missing and not own_key:  # with the org's own key the gateway routes here (catalog.routing)
        return NOT_CONFIGURED
    return "down" if circuit == CIRCUIT_OPEN else ("degraded" if circuit != CIRCUIT_CLOSED else "up")


def model_status(hosts: list[dict[str, Any]]) -> str:
    """available (every host up), not configured (no host's provider is), unavailable, or degraded."""
    states = {h["status"] for h in hosts}
    usable = states - {NOT_CONFIGURED}
    if not usable:
        return NOT_CONFIGURED
    if usable == {"up"}:
        return "available"
    return "unavailable" if usable == {"down"} else "degraded"


def _model(
    m: ModelInfo, bps: int, circuits: dict[int, str], live: dict[int, HostHealth] | None, own: frozenset[int]
) -> dict[str, Any]:
    hosts = [
        _host(h, bps, circuits.get(h.id, CIRCUIT_CLOSED), live.get(h.id) if live else None, h.provider.id in own)
        for h in m.hosts
    ]
    retired = [_host(h, bps, CIRCUIT_CLOSED, None) for h in m.retired_hosts]
    return {
        "id": m.id,
        "name": m.name,
        "family": m.family,
        "author": m.author,
        "description": m.description,
        "created": m.created.isoformat(),
        "context_length": m.context_length,
        "capabilities": sorted(m.capabilities),
        "status": model_status(hosts) if hosts else "retired",
        "replacement": m.replacement,
        "hosts": hosts + retired,
    }


def catalog_bytes(
    snap: CatalogSnapshot, *, include_latency: bool, own: frozenset[int] = frozenset()
) -> tuple[bytes, str]:
    """(JSON body, ETag) for /v1/catalog. `own`: ids of the providers the caller's org has its own key for."""
    bps = pricing.markup_bps()
    circuits = health.circuit_state_sync(snap.hosts)
    not_closed = tuple(sorted((h, c) for h, c in circuits.items() if c != CIRCUIT_CLOSED))
    key = (snap.version, bps, not_closed, include_latency, own)
    cached = _bytes_cache.get(key)
    if cached is not None and (not include_latency or time.monotonic() - cached[0] < LATENCY_TTL):
        return cached[1], cached[2]
    live = health.host_stats_sync(snap.hosts) if include_latency else None
    body = {
        "object": "catalog",
        "currency": "USD",
        "price_unit": "micro-dollars per million tokens",
        "markup_bps": bps,
        "data": [
            _model(m, bps, circuits, live, own)
            for m in sorted([*snap.models.values(), *snap.retired.values()], key=lambda m: m.id)
        ],
    }
    content = json.dumps(body, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    if len(_bytes_cache) > 64:
        _bytes_cache.clear()
    _bytes_cache[key] = (time.monotonic(), content, etag)
    return content, etag


def _created_at(m: ModelInfo) -> datetime:
    return datetime.combine(m.created, dtime(0, 0), tzinfo=UTC)


def openai_model(m: ModelInfo) -> dict[str, Any]:
    return {"id": m.id, "object": "model", "created": int(_created_at(m).timestamp()), "owned_by": m.author or "qlaud"}


def anthropic_model(m: ModelInfo) -> dict[str, Any]:
    created = _created_at(m).isoformat().replace("+00:00", "Z")
    return {"type": "model", "id": m.id, "display_name": m.name, "created_at": created}


def openai_list(snap: CatalogSnapshot) -> dict[str, Any]:
    return {"object": "list", "data": [openai_model(m) for m in sorted(snap.models.values(), key=lambda m: m.id)]}


def anthropic_list(snap: CatalogSnapshot, *, limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
    """Anthropic's page shape, newest first, paged by after_id / before_id like api.anthropic.com."""
    ordered = sorted(snap.models.values(), key=lambda m: (-m.created.toordinal(), m.id))
    ids = [m.id for m in ordered]
    if before_id in ids:
        end = ids.index(before_id)
        start = max(0, end - limit)
        has_more = start > 0
    else:
        start = ids.index(after_id) + 1 if after_id in ids else 0
        end = min(len(ids), start + limit)
        has_more = end < len(ids)
    data = [anthropic_model(m) for m in ordered[start:end]]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
