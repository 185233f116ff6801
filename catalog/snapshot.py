"""An immutable in-process copy of the enabled catalog, for the gateway's hot path.

`get_snapshot()` returns the process's snapshot; at most once a second it compares the catalog
version in the shared cache (catalog.version) with the one the snapshot was built from, and
rebuilds from the database in one pass when they differ. A hit costs a clock read. That periodic
check runs in the background, one at a time, while requests keep the snapshot they have; after a
change made in this process (version.bump) the next request waits for the rebuild.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings

from catalog import crypto, fidelity, rates, readiness, version
from lib.threads import in_pool
from wallet.money import STANDARD, Prices, PriceSheet, Rate

CHECK_EVERY_SECONDS = 1.0
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: int
    slug: str
    name: str
    protocol: str
    base_url: str
    api_key_env: str
    via_cloudflare: bool
    cf_segment: str
    config: dict[str, Any] = field(hash=False, compare=False)
    # Fernet token of a key stored with `setprovider --api-key`; read it via provider_api_key().
    api_key_encrypted: str = field(default="", repr=False)
    # Settings it lacks (catalog.readiness); non-empty: "not configured", never routed to.
    missing: tuple[str, ...] = ()
    probe_host_id: int | None = None  # the host the live-board probes call (gateway/probes.py)

    @property
    def configured(self) -> bool:
        return not self.missing

    def setup_hint(self) -> str:
        """How to configure it, naming what is missing ("" when configured)."""
        return readiness.hint(self.slug, self.api_key_env, self.missing) if self.missing else ""


@dataclass(frozen=True, slots=True)
class HostInfo:
    id: int
    model_id: str  # the catalog (public) model id
    provider: ProviderInfo
    upstream_model: str
    prices: Prices  # upstream micro-$/Mtok
    price_version_id: int | None
    max_output_tokens: int | None
    context_length: int
    priority: int
    capabilities: frozenset[str]
    quantization: str = ""
    rates: tuple[Rate, ...] = ()  # prompt-size tiers and time-of-day rates that replace `prices` (catalog.rates)
    rate_name: str = STANDARD  # what `prices` is called beside them
    # The stored rates as written (PriceVersion.rates: source, as_of, note per rate), for pages and /v1/catalog.
    rate_details: tuple[Mapping[str, Any], ...] = field(default=(), hash=False, compare=False)
    price_verified: bool = True  # False: the price could not be checked on the provider's own page
    price_as_of: date | None = None
    retired_at: datetime | None = None  # the provider's model list no longer names upstream_model
    fidelity: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)  # catalog/fidelity.py

    @property
    def sheet(self) -> PriceSheet:
        """The host's prices as its provider bills them, for wallet.money."""
        return PriceSheet(self.prices, self.rates, self.rate_name)

    @property
    def tools_passed(self) -> bool:
        """The host passed the tool cases of the fidelity suite at its last run."""
        return fidelity.tools_passed(self.fidelity)

    first_byte_timeout: float | None = None  # seconds; None: settings.GATEWAY_FIRST_BYTE_TIMEOUT
    idle_timeout: float | None = None  # seconds; None: settings.GATEWAY_IDLE_TIMEOUT


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    name: str
    family: str
    author: str
    context_length: int
    capabilities: frozenset[str]
    description: str
    created: date
    hosts: tuple[HostInfo, ...]  # operator priority order
    replacement: str | None = None  # public id named when every host is retired
    retired_hosts: tuple[HostInfo, ...] = ()  # shown as retired, never routed to


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    version: int
    models: dict[str, ModelInfo] = field(hash=False)
    providers: dict[str, ProviderInfo] = field(hash=False)
    hosts: dict[int, HostInfo] = field(hash=False)
    # Enabled models whose every host is retired: not routable, kept to name their replacement.
    retired: dict[str, ModelInfo] = field(default_factory=dict, hash=False)

    def host(self, host_id: int) -> HostInfo | None:
        return self.hosts.get(host_id)


def provider_api_key(provider: ProviderInfo) -> str | None:
    """The provider's key: the stored (encrypted) one if set, else the env var. Never log it."""
    if provider.api_key_encrypted:
        return crypto.decrypt(provider.api_key_encrypted)
    if provider.api_key_env:
        return os.environ.get(provider.api_key_env) or None
    return None


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def expand_base_url(base_url: str, config: dict[str, Any]) -> str:
    """Fill `{name}` from config[name] or the env var named by config[f"{name}_env"]; else leave it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = config.get(name) or os.environ.get(str(config.get(f"{name}_env", "")), "")
        return str(found) if found else match.group(0)

    return _PLACEHOLDER.sub(value, base_url).rstrip("/")


def provider_info(p: Any) -> ProviderInfo:
    config = dict(p.config or {})
    return ProviderInfo(
        id=p.id,
        slug=p.slug,
        name=p.name,
        protocol=p.protocol,
        base_url=expand_base_url(p.base_url, config),
        api_key_env=p.api_key_env,
        via_cloudflare=p.through_aig(settings.CF_AIG_ON),
        cf_segment=p.cf_segment,
        config=config,
        api_key_encrypted=p.api_key_encrypted,
        missing=readiness.missing_for(p),
        probe_host_id=p.probe_host_id,
    )


def _host_info(h: Any, model: Any, provider: ProviderInfo) -> HostInfo:
    pv = h.price
    prices = Prices(pv.input, pv.output, pv.cache_read, pv.cache_write)
    return HostInfo(
        id=h.id,
        model_id=model.public_id,
        provider=provider,
        upstream_model=h.upstream_model,
        prices=prices,
        price_version_id=pv.id,
        rates=rates.money_rates(pv.rates),
        rate_name=pv.rate_name,
        rate_details=tuple(pv.rates or ()),
        max_output_tokens=h.max_output_tokens,
        context_length=h.context_length or model.context_length,
        priority=h.priority,
        capabilities=frozenset(h.capabilities or model.capabilities or ()),
        quantization=h.quantization,
        price_verified=pv.verified,
        price_as_of=pv.as_of,
        retired_at=h.retired_at,
        fidelity=h.fidelity or {},
        first_byte_timeout=h.first_byte_timeout,
        idle_timeout=h.idle_timeout,
    )


def build_snapshot(at_version: int | None = None) -> CatalogSnapshot:
    """Read the enabled catalog in one query (plus one for providers). Sync: call off the loop."""
    from catalog.models import Host, Provider

    built_version = version.current() if at_version is None else at_version
    providers = {p.id: provider_info(p) for p in Provider.objects.filter(enabled=True)}
    rows = (
        Host.objects.filter(enabled=True, model__enabled=True, provider__enabled=True, price__isnull=False)
        .select_related("model__replacement", "price")
        .order_by("model__public_id", "priority", "id")
    )
    live: dict[str, list[HostInfo]] = {}
    retired: dict[str, list[HostInfo]] = {}
    model_rows: dict[str, Any] = {}
    for h in rows:
        info = _host_info(h, h.model, providers[h.provider_id])
        (retired if h.retired_at else live).setdefault(h.model.public_id, []).append(info)
        model_rows[h.model.public_id] = h.model
    models = {
        mid: _model_info(model_rows[mid], tuple(hosts), tuple(retired.get(mid, ()))) for mid, hosts in live.items()
    }
    gone = {mid: _model_info(model_rows[mid], (), tuple(hosts)) for mid, hosts in retired.items() if mid not in live}
    return CatalogSnapshot(
        version=built_version,
        models=models,
        providers={p.slug: p for p in providers.values()},
        hosts={h.id: h for m in models.values() for h in m.hosts},
        retired=gone,
    )


def _model_info(m: Any, hosts: tuple[HostInfo, ...], retired_hosts: tuple[HostInfo, ...] = ()) -> ModelInfo:
    return ModelInfo(
        id=m.public_id,
        name=m.name,
        family=m.family,
        author=m.author,
        context_length=m.context_length,
        capabilities=frozenset(m.capabilities or ()),
        description=m.description,
        created=m.created,
        hosts=hosts,
        replacement=m.replacement.public_id if m.replacement_id else None,
        retired_hosts=retired_hosts,
    )


class _Holder:
    """The process's snapshot and when its version was last checked."""

    def __init__(self) -> None:
        self.snapshot: CatalogSnapshot | None = None
        self.checked_at = 0.0
        self.thread_lock = threading.Lock()
        self.bumped = False  # changed by this process: the next reader waits for the rebuild
        self.checking = False  # a periodic check is running in the background

    def fresh(self) -> CatalogSnapshot | None:
        if self.snapshot is not None and time.monotonic() - self.checked_at < CHECK_EVERY_SECONDS:
            return self.snapshot
        return None

    def expire(self) -> None:
        self.checked_at = 0.0
        self.bumped = True


_holder = _Holder()
version.on_bump(_holder.expire)


def _refresh_sync() -> CatalogSnapshot:
    current = version.current()
    snap = _holder.snapshot
    if snap is None or snap.version != current:
        snap = build_snapshot(current)
        _holder.snapshot = snap
    _holder.checked_at = time.monotonic()
    _holder.bumped = False
    return snap


async def get_snapshot() -> CatalogSnapshot:
    snap = _holder.fresh()
    if snap is not None:
        return snap
    if _holder.snapshot is not None and not _holder.bumped:
        # The once-a-second check: every request in flight used to wait for it (a pool hop and a
        # cache read each), a slice of every second's p99. Now one check runs in the background.
        if not _holder.checking:
            _holder.checking = True
            check = asyncio.ensure_future(_check_in_background())
            _checks.add(check)
            check.add_done_callback(_checks.discard)
        return _holder.snapshot
    # On the shared pool: a request's own thread (and its fresh connections) would die with it.
    return await in_pool(_locked_refresh)()


_checks: set[asyncio.Future[None]] = set()  # references to the running checks, so none is collected mid-way


async def _check_in_background() -> None:
    try:
        await in_pool(_locked_refresh)()
    except Exception:  # the next request tries again; meanwhile the snapshot in hand serves
        log.warning("catalog version check failed", exc_info=True)
    finally:
        _holder.checking = False


def _locked_refresh() -> CatalogSnapshot:
    with _holder.thread_lock:
        return _holder.fresh() or _refresh_sync()


def get_snapshot_sync() -> CatalogSnapshot:
    """The same snapshot for sync code (pages, commands)."""
    return _holder.fresh() or _locked_refresh()


def reset() -> None:
    """Forget the process's snapshot (tests)."""
    _holder.snapshot = None
    _holder.expire()
    _holder.checking = False
