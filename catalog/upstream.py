"""Read each provider's own list of models, and OpenRouter's public price list. No database.

One function per kind of list endpoint (providers.md), chosen through two plain dicts: by slug
first (Workers AI speaks OpenAI for chat but lists models its own way), then by protocol. Every
lister returns the set of upstream ids or raises: `Unreachable` (down, refused, timed out, 5xx),
`Garbage` (an answer that is not the documented shape, or an empty list) or `Skipped` (the sync
cannot read this provider's list; the reason is reported). All HTTP goes through the `httpx.Client`
handed in, so tests pass one over `httpx.MockTransport`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import botocore.exceptions
import botocore.session
import httpx

from wallet.money import TOKENS_PER_MTOK, usd_to_micros

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
OPENROUTER_MODELS_URL = "https://openrouter.ai/api/v1/models"
ANTHROPIC_VERSION = "2023-06-01"
MAX_PAGES = 50


class ListError(Exception):
    pass


class Unreachable(ListError):
    pass


class Garbage(ListError):
    pass


class Skipped(ListError):
    pass


@dataclass(frozen=True)
class Target:
    """What a lister needs to know about one provider (built from the catalog by catalog.sync)."""

    slug: str
    protocol: str
    base_url: str  # placeholders already filled
    api_key: str | None
    config: dict[str, Any] = field(default_factory=dict)


def new_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def _get_json(client: httpx.Client, url: str, **kwargs: Any) -> Any:
    try:
        response = client.get(url, **kwargs)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise Unreachable(f"{url}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise Garbage(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError:
        raise Garbage(f"{url}: not JSON: {response.text[:120]!r}") from None


def _ids(items: Any, key: str, where: str) -> set[str]:
    if not isinstance(items, list):
        raise Garbage(f"{where}: expected a list of models")
    ids = {item.get(key) for item in items if isinstance(item, dict)}
    if not ids or not all(isinstance(i, str) and i for i in ids) or len(ids) < len(items) * 0.5:
        raise Garbage(f"{where}: the list holds no usable model ids")
    return ids


def _bearer(target: Target) -> dict[str, str]:
    if not target.api_key:
        raise Skipped("no credentials")
    return {"Authorization": f"Bearer {target.api_key}"}


def list_openai(client: httpx.Client, target: Target) -> set[str]:
    """OpenAI-compatible `GET {base}/models` -> data[].id (Google's ids come as `models/<id>`)."""
    url = f"{target.base_url}/models"
    body = _get_json(client, url, headers=_bearer(target))
    data = body.get("data") if isinstance(body, dict) else None
    return {i.removeprefix("models/") for i in _ids(data, "id", url)}


def list_anthropic(client: httpx.Client, target: Target) -> set[str]:
    """Anthropic `GET /v1/models`, paged by has_more / last_id."""
    if not target.api_key:
        raise Skipped("no credentials")
    url = f"{target.base_url}/v1/models"
    headers = {"x-api-key": target.api_key, "anthropic-version": ANTHROPIC_VERSION}
    ids: set[str] = set()
    params: dict[str, Any] = {"limit": 1000}
    for _ in range(MAX_PAGES):
        body = _get_json(client, url, headers=headers, params=params)
        if not isinstance(body, dict):
            raise Garbage(f"{url}: expected an object")
        ids |= _ids(body.get("data"), "id", url)
        if not body.get("has_more"):
            return ids
        params = {"limit": 1000, "after_id": body.get("last_id")}
    raise Garbage(f"{url}: more than {MAX_PAGES} pages")


def list_workers_ai(client: httpx.Client, target: Target) -> set[str]:
    """Workers AI model search `GET /accounts/{id}/ai/models/search` -> result[].name, paged."""
    root = target.base_url.removesuffix("/v1")
    if "{" in root:
        raise Skipped("no account id (CLOUDFLARE_ACCOUNT_ID)")
    url = f"{root}/models/search"
    ids: set[str] = set()
    for page in range(1, MAX_PAGES + 1):
        body = _get_json(client, url, headers=_bearer(target), params={"page": page, "per_page": 100})
        if not isinstance(body, dict) or body.get("success") is False:
            raise Garbage(f"{url}: not a successful Cloudflare answer")
        result = body.get("result")
        if page > 1 and result == []:
            return ids
        ids |= _ids(result, "name", url)
        info = body.get("result_info") or {}
        total = info.get("total_count") if isinstance(info, dict) else None
        if not isinstance(total, int) or len(ids) >= total or len(result) < 100:
            return ids
    raise Garbage(f"{url}: more than {MAX_PAGES} pages")


def _bedrock_client(target: Target) -> Any:
    session = botocore.session.get_session()
    if session.get_credentials() is None:
        raise Skipped("no AWS credentials (SigV4) for ListFoundationModels")
    region = target.config.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    return session.create_client("bedrock", region_name=region)


def list_bedrock(client: httpx.Client, target: Target, make: Callable[[Target], Any] = _bedrock_client) -> set[str]:
    """`ListFoundationModels` + `ListInferenceProfiles` (paged by nextToken), signed by botocore."""
    bedrock = make(target)
    try:
        ids = {m["modelId"] for m in bedrock.list_foundation_models()["modelSummaries"]}
        kwargs: dict[str, Any] = {"maxResults": 1000}
        for _ in range(MAX_PAGES):
            page = bedrock.list_inference_profiles(**kwargs)
            ids |= {p["inferenceProfileId"] for p in page["inferenceProfileSummaries"]}
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as exc:
        raise Unreachable(f"bedrock: {exc}") from None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError, TypeError) as exc:
        raise Garbage(f"bedrock: {type(exc).__name__}: {exc}") from None
    if not ids:
        raise Garbage("bedrock: empty model list")
    return ids


def list_vertex(client: httpx.Client, target: Target) -> set[str]:
    # Vertex has no one list of the partner models a project may call (Model Garden is per
    # publisher and per region, behind an OAuth token the gateway mints): report, do not guess.
    raise Skipped("Vertex AI publisher models have no single list endpoint the sync can read")


Lister = Callable[[httpx.Client, Target], set[str]]
BY_SLUG: dict[str, Lister] = {"workers-ai": list_workers_ai}
BY_PROTOCOL: dict[str, Lister] = {
    "openai": list_openai,
    "anthropic": list_anthropic,
    "bedrock": list_bedrock,
    "vertex-anthropic": list_vertex,
    "vertex-openai": list_vertex,
}


def list_models(client: httpx.Client, target: Target) -> set[str]:
    lister = BY_SLUG.get(target.slug) or BY_PROTOCOL.get(target.protocol)
    if lister is None:
        raise Skipped(f"no model-list reader for protocol {target.protocol!r}")
    return lister(client, target)


# --- OpenRouter's public prices ------------------------------------------------------------

OPENROUTER_PRICE_FIELDS = {
    "prompt": "input",
    "completion": "output",
    "input_cache_read": "cache_read",
    "input_cache_write": "cache_write",
}


def per_mtok(value: Any) -> int | None:
    """OpenRouter's per-token USD string -> micro-$/Mtok; None for absent, negative or odd values."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        per_million = Decimal(value) * TOKENS_PER_MTOK
        micros = usd_to_micros(per_million)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return micros if micros >= 0 else None


def openrouter_prices(client: httpx.Client) -> dict[str, dict[str, int]]:
    """{openrouter id: {input, output[, cache_read, cache_write]}} from the public model list."""
    body = _get_json(client, OPENROUTER_MODELS_URL)
    data = body.get("data") if isinstance(body, dict) else None
    _ids(data, "id", OPENROUTER_MODELS_URL)
    out: dict[str, dict[str, int]] = {}
    for item in data:
        prices = _prices(item.get("pricing")) if isinstance(item, dict) else None
        if prices:
            out[item["id"]] = prices
    if not out:
        raise Garbage(f"{OPENROUTER_MODELS_URL}: no usable prices")
    return out


def _prices(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    prices = {ours: per_mtok(raw.get(theirs)) for theirs, ours in OPENROUTER_PRICE_FIELDS.items()}
    if prices["input"] is None or prices["output"] is None:
        return None
    return {k: v for k, v in prices.items() if v is not None}


def summary(ids: Iterable[str], limit: int = 5) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more
