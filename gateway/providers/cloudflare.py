"""Cloudflare AI Gateway mode: the provider's own request, sent through Cloudflare.

The URL becomes `{CF_AIG_BASE_URL}/{account}/{gateway}/{cf_segment}{endpoint}`, where the catalog's
`cf_segment` carries any base path Cloudflare keeps (`mistral/v1`)
(Cloudflare's per-provider URL format), the provider's auth header stays as is, and qlaud adds
`cf-aig-authorization`, `cf-aig-metadata` (at most 5 scalar entries) and `cf-aig-custom-cost`
(the customer's per-token USD price, so Cloudflare's analytics show what the customer pays).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from wallet.money import Prices

# A catalog row's `cf_segment` names the segment and the part of the provider's base path Cloudflare keeps
# before the endpoint (`mistral/v1`). A bare segment (a row written by hand or by an older catalog file) takes
# the kept path of the shipped providers from here.
KEPT = {"mistral": "/v1", "openrouter": "/v1", "grok": "/v1", "workers-ai": "/v1", "google-ai-studio": "/v1beta/openai"}
# The segment of a provider whose catalog row names none (`cf_segment`), where it is not the slug itself.
SEGMENT_OF_SLUG = {
    "xai": "grok",
    "workers_ai": "workers-ai",
    "google": "google-ai-studio",
    "gemini": "google-ai-studio",
}
METADATA_ORDER = ("org", "key", "user", "model", "surface")
COST_FIELDS = {
    "input": "per_token_in",
    "output": "per_token_out",
    "cache_read": "per_cache_read_token",
    "cache_write": "per_cache_write_token",
}


def enabled(provider: Any) -> bool:
    return bool(getattr(provider, "via_cloudflare", False))


def url(provider: Any, endpoint: str) -> str:
    """The AI Gateway URL for `endpoint` (the path the provider module appends to its base URL)."""
    segment = getattr(provider, "cf_segment", "") or SEGMENT_OF_SLUG.get(provider.slug, provider.slug)
    kept = "" if "/" in segment else KEPT.get(segment, "")
    base = settings.CF_AIG_BASE_URL.rstrip("/")
    return f"{base}/{settings.CF_AIG_ACCOUNT_ID}/{settings.CF_AIG_GATEWAY_ID}/{segment}{kept}{endpoint}"


def headers(metadata: Mapping[str, Any], customer_prices: Prices | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if settings.CF_AIG_TOKEN:
        out["cf-aig-authorization"] = f"Bearer {settings.CF_AIG_TOKEN}"
    tags = {k: _scalar(metadata[k]) for k in METADATA_ORDER if metadata.get(k) not in (None, "")}
    if tags:
        out["cf-aig-metadata"] = json.dumps(dict(list(tags.items())[:5]), separators=(",", ":"))
    per_mtok = {k: getattr(customer_prices, k) for k in COST_FIELDS} if customer_prices else {}
    cost = {COST_FIELDS[k]: v / 1e12 for k, v in per_mtok.items() if v}
    if cost:
        out["cf-aig-custom-cost"] = json.dumps(cost, separators=(",", ":"))
    return out


def _scalar(value: Any) -> str | int | float | bool:
    return value if isinstance(value, str | int | float | bool) else str(value)


def route(provider: Any, endpoint: str, direct_url: str, call_headers: dict[str, str], call: Any) -> str:
    """Rewrite for Cloudflare when the provider asks for it; adds the cf-aig headers in place."""
    if not enabled(provider):
        return direct_url
    call_headers.update(headers(call.metadata, call.customer_prices))
    return url(provider, endpoint)
