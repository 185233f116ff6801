"""Load a catalog YAML file into the database: an idempotent upsert.

Providers are matched by slug, models by public id, hosts by (model, provider, upstream id).
A host whose prices differ from its current `PriceVersion` gets a new version; old versions are
kept so past receipts still point at the prices they were charged at.

A provider's `probe: <model id>` names the host the live-board probes call (gateway/probes.py): that
model's host on this provider. The file wins on every load.

A host with `retired: <date>` (its upstream was shut down) is retired from routing; a model's
`replacement: <id>` is the successor named in the error for a model with no host left.

Operator settings changed with `setprovider` or the admin (base URL, credentials, Cloudflare
routing, enabled, config) are only seeded when a provider is created, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from catalog import rates
from catalog.models import Host, Model, PriceVersion, Provider
from wallet.money import STANDARD

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "catalog.yaml"
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
PROVIDER_DESCRIPTIVE = ("name", "protocol", "cf_segment", "website", "pricing_url")
PROVIDER_OPERATOR = ("base_url", "api_key_env", "via_cloudflare", "enabled", "config")
MODEL_FIELDS = ("name", "family", "author", "context_length", "capabilities", "description", "created", "enabled")
HOST_FIELDS = (
    "max_output_tokens",
    "context_length",
    "quantization",
    "priority",
    "capabilities",
    "first_byte_timeout",
    "idle_timeout",
)


class CatalogFileError(ValueError):
    pass


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_price_versions: int = 0

    def summary(self) -> str:
        return (
            f"catalog: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.new_price_versions} new price versions"
        )

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def read(path: Path | str = DEFAULT_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or "providers" not in data or "models" not in data:
        raise CatalogFileError(f"{path}: expected top-level `providers` and `models`")
    return data


@transaction.atomic
def load(data: dict[str, Any]) -> LoadResult:
    result = LoadResult()
    specs = {p["slug"]: p for p in data["providers"]}
    providers = {slug: _upsert_provider(p, result) for slug, p in specs.items()}
    models = {}
    for spec in data["models"]:
        model = models[spec["id"]] = _upsert_model(spec, result)
        for host_spec in spec.get("hosts", []):
            provider = providers.get(host_spec["provider"])
            if provider is None:
                raise CatalogFileError(f"{spec['id']}: unknown provider {host_spec['provider']!r}")
            # Price provenance defaults to the provider's pricing page and date.
            defaults = specs[host_spec["provider"]]
            host_spec = {
                "source": defaults.get("pricing_url", ""),
                "as_of": defaults.get("as_of"),
                "verified": defaults.get("verified", True),
                **host_spec,
            }
            _upsert_host(model, provider, host_spec, result)
    _link_replacements(data["models"], models)
    _link_probes(specs, providers, models)
    return result


def _link_probes(specs: dict[str, dict[str, Any]], providers: dict[str, Provider], models: dict[str, Model]) -> None:
    for slug, spec in specs.items():
        provider, wanted = providers[slug], spec.get("probe")
        host = None
        if wanted:
            host = (
                Host.objects.filter(provider=provider, model__public_id=wanted)
                .order_by("retired_at", "-enabled", "priority", "id")
                .first()
            )
            if host is None:
                raise CatalogFileError(f"{slug}: probe model {wanted!r} has no host on this provider")
        if provider.probe_host_id != (host.id if host else None):
            provider.probe_host = host
            provider.save(update_fields=["probe_host", "updated"])


def _link_replacements(specs: list[dict[str, Any]], models: dict[str, Model]) -> None:
    """`replacement: <id>` names the successor a retired model's error points to."""
    for spec in specs:
        wanted = spec.get("replacement")
        if wanted and wanted not in models:
            raise CatalogFileError(f"{spec['id']}: unknown replacement {wanted!r}")
        model = models[spec["id"]]
        target = models[wanted] if wanted else None
        if model.replacement_id != (target.id if target else None):
            model.replacement = target
            model.save(update_fields=["replacement", "updated"])


def _save_changes(obj: Any, values: dict[str, Any], result: LoadResult) -> None:
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    for key in changed:
        setattr(obj, key, values[key])
    if changed:
        obj.save()
    result.count("updated" if changed else "unchanged")


def _upsert_provider(spec: dict[str, Any], result: LoadResult) -> Provider:
    descriptive = {k: spec.get(k, "") for k in PROVIDER_DESCRIPTIVE}
    provider = Provider.objects.filter(slug=spec["slug"]).first()
    if provider is None:
        operator = {k: spec[k] for k in PROVIDER_OPERATOR if k in spec}
        result.count("created")
        return Provider.objects.create(slug=spec["slug"], **descriptive, **operator)
    _save_changes(provider, descriptive, result)
    return provider


def _upsert_model(spec: dict[str, Any], result: LoadResult) -> Model:
    values = {
        "name": spec["name"],
        "family": spec.get("family", ""),
        "author": spec.get("author", ""),
        "context_length": int(spec["context_length"]),
        "capabilities": list(spec.get("capabilities", [])),
        "description": spec.get("description", "").strip(),
        "created": _date(spec.get("created")) or date.today(),
        "enabled": spec.get("enabled", True),
    }
    model = Model.objects.filter(public_id=spec["id"]).first()
    if model is None:
        result.count("created")
        return Model.objects.create(public_id=spec["id"], **values)
    _save_changes(model, values, result)
    return model


def _upsert_host(model: Model, provider: Provider, spec: dict[str, Any], result: LoadResult) -> Host:
    values = {
        "max_output_tokens": spec.get("max_output_tokens"),
        "context_length": spec.get("context_length"),
        "quantization": spec.get("quantization", ""),
        "priority": spec.get("priority", 100),
        "capabilities": list(spec.get("capabilities", [])),
        "first_byte_timeout": spec.get("first_byte_timeout"),  # seconds; a slow reasoner's host may wait longer
        "idle_timeout": spec.get("idle_timeout"),
    }
    host = Host.objects.filter(model=model, provider=provider, upstream_model=spec["upstream"]).first()
    if host is None:
        enabled = spec.get("enabled", True)  # seeded once: an operator's later choice stands
        host = Host.objects.create(
            model=model, provider=provider, upstream_model=spec["upstream"], enabled=enabled, **values
        )
        result.count("created")
    else:
        _save_changes(host, values, result)
    if spec.get("retired") and host.retired_at is None:
        # Upstream shut it down (the file's note says where that was read): out of routing, shown
        # as retired. The file wins on every load; if the sync later finds the id listed again it
        # un-retires the host and mails staff, who then drop `retired:` from the file.
        host.retired_at = datetime.combine(_date(spec["retired"]), time(0), tzinfo=UTC)
        host.save(update_fields=["retired_at", "updated"])
    _ensure_price(host, provider, spec, result)
    return host


def _ensure_price(host: Host, provider: Provider, spec: dict[str, Any], result: LoadResult) -> None:
    prices = _prices(spec)
    source, as_of = spec.get("source") or provider.pricing_url, _date(spec.get("as_of"))
    try:
        more = {
            "rates": rates.normalise(spec.get("rates"), source, as_of),
            "rate_name": spec.get("rate_name", STANDARD),
        }
    except rates.RateError as exc:
        raise CatalogFileError(f"{spec.get('upstream')}: {exc}") from None
    if host.price is not None and host.price.same_prices({**prices, **more}):
        return
    host.price = PriceVersion.objects.create(
        host=host,
        **prices,
        **more,
        source=source,
        as_of=as_of,
        verified=spec.get("verified", True),
        note=spec.get("note", ""),
    )
    host.save(update_fields=["price", "updated"])
    result.new_price_versions += 1


def _prices(spec: dict[str, Any]) -> dict[str, int]:
    raw = spec.get("prices") or {}
    prices = {k: raw.get(k, 0) for k in PRICE_FIELDS}
    for key, value in prices.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CatalogFileError(f"{spec.get('upstream')}: price {key} must be a non-negative integer (micro-$/Mtok)")
    return prices


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
