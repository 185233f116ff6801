"""Read-only views of the catalog for the public site, tolerant of an empty or missing catalog.

The site must render (with an honest empty state) before the catalog is loaded, so every reader
here returns empty values instead of raising.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync

from catalog.snapshot import get_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    model_id: str
    provider: str
    input: int  # upstream micro-dollars per million tokens
    output: int
    cache_read: int | None
    cache_write: int | None


def snapshot() -> Any | None:
    """The catalog snapshot (catalog.snapshot.get_snapshot), or None if there is no catalog yet."""
    try:
        return async_to_sync(get_snapshot)()
    except Exception:  # an empty or half-migrated catalog must not take the public site down
        log.warning("catalog snapshot unavailable", exc_info=True)
        return None


def model_ids() -> list[str]:
    snap = snapshot()
    return sorted(snap.models) if snap is not None else []


def verified_model_ids() -> list[str]:
    """Models with at least one routable host whose price is verified: the ones docs may name."""
    snap = snapshot()
    if snap is None:
        return []
    return sorted(m.id for m in snap.models.values() if any(h.price_verified for h in m.hosts))


def ready_model_ids() -> list[str]:
    """`verified_model_ids()` narrowed to models a configured provider can answer now (not "not configured")."""
    snap = snapshot()
    if snap is None:
        return []
    return sorted(
        m.id for m in snap.models.values() if any(h.price_verified and h.provider.configured for h in m.hosts)
    )


def host_prices(model_id: str) -> list[ModelPrice]:
    """Every enabled host's upstream prices for a model (cache prices None when the host has none)."""
    snap = snapshot()
    info = snap.models.get(model_id) if snap is not None else None
    if info is None:
        return []
    return [
        ModelPrice(
            model_id,
            host.provider.slug,
            host.prices.input,
            host.prices.output,
            host.prices.cache_read or None,
            host.prices.cache_write or None,
        )
        for host in info.hosts
    ]
