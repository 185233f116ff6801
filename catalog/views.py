"""Public catalog API: GET /v1/catalog and GET /v1/models (plain async views, no auth needed).

/v1/catalog called with an API key shows the hosts the key's org has its own provider key for as the gateway
serves that org (catalog.byok); a missing, malformed or refused key gets the anonymous answer, as before."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts.keys import KEY_PREFIX, KeyRefused, raw_key_from_headers, verify_key
from catalog import api, byok
from catalog.snapshot import get_snapshot
from gateway import errors

CACHE_CONTROL = "public, max-age=60"
VARY = ("Authorization", "X-Api-Key")  # the body depends on the caller's org (own_key hosts)
TRUE = {"1", "true", "yes", "on"}


def _json(body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body, separators=(",", ":")), content_type="application/json")


async def own_providers(request: HttpRequest) -> frozenset[int]:
    """Providers the calling API key's org has its own usable key for; empty for an anonymous caller or a key that
    is refused (the catalog stays public). Both lookups are the gateway's own per-process caches."""
    raw = raw_key_from_headers(request.headers)
    if not raw or not raw.startswith(KEY_PREFIX):
        return frozenset()
    try:
        key = await verify_key(raw)
    except KeyRefused:
        return frozenset()
    return frozenset(await byok.org_keys(key.org_id))


@require_GET
async def catalog(request: HttpRequest) -> HttpResponse:
    include_latency = request.GET.get("include_latency", "").lower() in TRUE
    snap = await get_snapshot()
    own = await own_providers(request)
    content, etag = await sync_to_async(api.catalog_bytes)(snap, include_latency=include_latency, own=own)
    cache_control = "public, max-age=15" if include_latency else CACHE_CONTROL
    if own:  # one org's view: no shared cache may hand it to anyone else
        cache_control = cache_control.replace("public", "private")
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(content, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, VARY)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _wants_anthropic(request: HttpRequest) -> bool:
    return "anthropic-version" in request.headers


@require_GET
async def models(request: HttpRequest) -> HttpResponse:
    snap = await get_snapshot()
    if not _wants_anthropic(request):
        return _json(api.openai_list(snap))
    try:
        limit = min(max(int(request.GET.get("limit", 20)), 1), 1000)
    except ValueError:
        return errors.render(errors.GatewayError("invalid_request", "limit must be an integer", "limit"), "anthropic")
    page = api.anthropic_list(
        snap, limit=limit, after_id=request.GET.get("after_id"), before_id=request.GET.get("before_id")
    )
    return _json(page)


@require_GET
async def model(request: HttpRequest, model_id: str) -> HttpResponse:
    snap = await get_snapshot()
    surface = errors.ANTHROPIC if _wants_anthropic(request) else errors.OPENAI
    info = snap.models.get(model_id)
    if info is None:
        message = f"Unknown model {model_id!r}. List the available models with GET /v1/models or browse /models."
        return errors.render(errors.GatewayError("not_found", message, "model"), surface)
    return _json(api.anthropic_model(info) if surface == errors.ANTHROPIC else api.openai_model(info))
