"""Catalog sync: compare the catalog with what providers say they serve and charge.

`sync_all()` reads every enabled provider's own model list (catalog.upstream) and OpenRouter's
public price list, and writes one `SyncReport` per provider plus one for prices. Of what it finds
it changes exactly one thing on its own: a host whose upstream id is no longer listed is retired
(routing skips it at once) and un-retired if the id comes back. Prices that differ from the
published ones are reported for `manage.py acceptprice`; upstream models the catalog lacks are
listed for staff to add. A provider that is down or answers garbage is reported and nothing of
it changes. Staff get a mail (mail_admins) when something new turns up.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx
from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone

from catalog import upstream
from catalog.models import Host, PriceVersion, Provider, SyncReport
from catalog.snapshot import provider_api_key, provider_info

# Our provider slug -> OpenRouter's name for the same company: a first-party host is compared with
# OpenRouter's listing of that model (which passes the maker's list price through).
OPENROUTER_ORG = {
    "openai": "openai",
    "anthropic": "anthropic",
    "deepseek": "deepseek",
    "mistral": "mistralai",
    "xai": "x-ai",
    "google-ai-studio": "google",
}
PRICE_KEYS = ("input", "output", "cache_read", "cache_write")


def sync_all(client: httpx.Client | None = None, *, slugs: Iterable[str] = (), mail: bool = True) -> list[SyncReport]:
    providers = Provider.objects.filter(enabled=True).order_by("slug")
    if slugs:
        providers = providers.filter(slug__in=list(slugs))
    with client or upstream.new_client() as http:
        reports = [sync_provider(p, http) for p in providers]
        if not slugs:
            reports.append(check_prices(http))
    if mail:
        notify(reports)
    return reports


def _target(provider: Provider) -> upstream.Target:
    info = provider_info(provider)
    return upstream.Target(
        slug=info.slug,
        protocol=info.protocol,
        base_url=info.base_url,
        api_key=provider_api_key(info),
        config=info.config,
    )


def sync_provider(provider: Provider, client: httpx.Client) -> SyncReport:
    try:
        listed = upstream.list_models(client, _target(provider))
    except upstream.Skipped as exc:
        return SyncReport.objects.create(provider=provider, status=SyncReport.Status.SKIPPED, reason=str(exc))
    except upstream.ListError as exc:
        return SyncReport.objects.create(provider=provider, status=SyncReport.Status.FAILED, reason=str(exc))
    return apply_list(provider, listed)


@transaction.atomic
def apply_list(provider: Provider, listed: set[str]) -> SyncReport:
    """Retire the hosts whose upstream id is gone, restore those that came back, list the new ids."""
    hosts = list(provider.hosts.filter(enabled=True).select_related("model").order_by("id"))
    gone = [h for h in hosts if h.upstream_model not in listed and h.retired_at is None]
    back = [h for h in hosts if h.upstream_model in listed and h.retired_at is not None]
    known = set(provider.hosts.values_list("upstream_model", flat=True))
    report = SyncReport(provider=provider, upstream_count=len(listed), missing=sorted(listed - known))
    if hosts and len(gone) == len([h for h in hosts if h.retired_at is None]) and not back:
        # A key scoped to a few models, or a wrong account, would look like every model vanished.
        report.status = SyncReport.Status.FAILED
        report.reason = f"the list names none of our {len(gone)} live hosts; refusing to retire them all"
        report.save()
        return report
    now = timezone.now()
    for host, when in [(h, now) for h in gone] + [(h, None) for h in back]:
        host.retired_at = when
        host.save(update_fields=["retired_at", "updated"])  # signals bump the catalog version
    report.status = SyncReport.Status.OK
    report.retired = [_label(h) for h in gone]
    report.restored = [_label(h) for h in back]
    report.save()
    return report


def _label(host: Host) -> str:
    return f"{host.model.public_id} @ {host.provider.slug} ({host.upstream_model})"


# --- prices ---------------------------------------------------------------------------------


def check_prices(client: httpx.Client) -> SyncReport:
    try:
        published = upstream.openrouter_prices(client)
    except upstream.ListError as exc:
        return SyncReport.objects.create(kind=SyncReport.PRICE_CHECK, status=SyncReport.Status.FAILED, reason=str(exc))
    hosts = list(
        Host.objects.filter(enabled=True, retired_at=None, price__isnull=False).select_related(
            "model", "provider", "price"
        )
    )
    via_openrouter = {h.model_id: h.upstream_model for h in hosts if h.provider.slug == "openrouter"}
    diffs = []
    for host in hosts:
        ref = openrouter_id(host, via_openrouter.get(host.model_id))
        if ref in published:
            diff = price_diff(host, ref, published[ref])
            if diff:
                diffs.append(diff)
    return SyncReport.objects.create(
        kind=SyncReport.PRICE_CHECK, status=SyncReport.Status.OK, upstream_count=len(published), price_diffs=diffs
    )


def openrouter_id(host: Host, model_on_openrouter: str | None) -> str | None:
    """The OpenRouter listing to compare `host` with: its own on OpenRouter, the maker's otherwise."""
    if host.provider.slug == "openrouter":
        return host.upstream_model
    org = OPENROUTER_ORG.get(host.provider.slug)
    if org and model_on_openrouter and model_on_openrouter.split("/")[0] == org:
        return model_on_openrouter
    return None


def price_diff(host: Host, ref: str, theirs: dict[str, int]) -> dict[str, Any] | None:
    ours = {k: getattr(host.price, k) for k in PRICE_KEYS}
    if all(ours[k] == v for k, v in theirs.items()):
        return None
    return {
        "host_id": host.id,
        "host": _label(host),
        "price_version_id": host.price_id,
        "openrouter_id": ref,
        "ours": ours,
        "theirs": theirs,
    }


# --- staff mail -----------------------------------------------------------------------------


def _previous(report: SyncReport) -> SyncReport | None:
    same = SyncReport.objects.filter(kind=report.kind, provider=report.provider, id__lt=report.id)
    return same.order_by("-id").first()


def news(report: SyncReport) -> list[str]:
    """What this report says that the previous one for the same provider did not (one line each)."""
    previous = _previous(report)
    lines = [f"retired: {label}" for label in report.retired] + [f"back: {label}" for label in report.restored]
    if report.status == SyncReport.Status.FAILED and (previous is None or previous.status != report.status):
        lines.append(f"failed: {report.reason}")
    seen = {(d["host_id"], tuple(sorted(d["theirs"].items()))) for d in (previous.price_diffs if previous else [])}
    for d in report.price_diffs:
        if (d["host_id"], tuple(sorted(d["theirs"].items()))) not in seen:
            lines.append(f"price differs: {d['host']} ours {d['ours']} published {d['theirs']}")
    new_missing = set(report.missing) - set(previous.missing if previous else [])
    if new_missing and previous is not None:
        lines.append(f"{len(new_missing)} new upstream models not in the catalog: {upstream.summary(new_missing)}")
    return lines


def notify(reports: list[SyncReport]) -> str | None:
    body = []
    for report in reports:
        lines = news(report)
        if lines:
            body.append(f"{report.provider or report.kind}:\n" + "\n".join(f"  - {line}" for line in lines))
    if not body:
        return None
    text = "\n\n".join(body) + "\n\nDetails: admin -> Catalog -> Sync reports. Accept a price: manage.py acceptprice."
    mail_admins("Catalog sync found changes", text)
    return text


# --- staff accepts a price ------------------------------------------------------------------


@transaction.atomic
def accept_price(host: Host, diff: dict[str, Any], checked: datetime, *, verified: bool = False) -> PriceVersion:
    """A new PriceVersion with the published prices (the ones OpenRouter did not publish stay ours)."""
    prices = {k: diff["theirs"].get(k, diff["ours"][k]) for k in PRICE_KEYS}
    on_openrouter = host.provider.slug == "openrouter"
    # OpenRouter lists one price per model: the host's other rates (tiers, off-peak) carry over unchanged.
    kept = {"rates": host.price.rates, "rate_name": host.price.rate_name} if host.price else {}
    pv = PriceVersion.objects.create(
        host=host,
        **prices,
        **kept,
        source=upstream.OPENROUTER_MODELS_URL,
        as_of=checked.date(),
        verified=verified or on_openrouter,  # OpenRouter's own list is its own published price
        note=f"Accepted by staff from the catalog sync's OpenRouter price check ({diff['openrouter_id']}).",
    )
    host.price = pv
    host.save(update_fields=["price", "updated"])
    return pv
