"""Site-wide pages: home, docs, security, status, llms.txt, robots.txt, 404s, dashboard overview."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_GET, require_safe

from catalog import public
from gateway import admission
from gateway.errors import ANTHROPIC, KINDS, status_for
from gateway.surfaces.stored import TTL_SECONDS
from lib.site_url import site_url
from qlaud import clients, dashboard, stats
from qlaud.middleware import is_api

DOC_TOPICS: dict[str, str] = {
    "api": "The two API surfaces",
    "routing": "Routing: shortcuts, fallbacks, provider options, aliases",
    "errors": "Errors and what they mean",
    "account-api": "Credits, key and generation APIs",
    "management-api": "Management API: keys, usage, wallet, team",
}


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.method == "HEAD":
        # Claude Code probes `HEAD /` before every session: answer without touching the database.
        return HttpResponse(content_type="text/html; charset=utf-8")
    context = {"clients": clients.rendered_clients(site=site_url(request)), "board": stats.ttft_board()}
    return render(request, "home.html", context)


@require_GET
def ttft_board(request: HttpRequest) -> HttpResponse:
    return render(request, "partials/ttft_board.html", {"board": stats.ttft_board()})


@require_GET
def docs_index(request: HttpRequest) -> HttpResponse:
    return render(request, "docs/index.html", {"clients": clients.CLIENTS, "topics": DOC_TOPICS})


@require_GET
def docs_page(request: HttpRequest, slug: str) -> HttpResponse:
    context = {"clients": clients.CLIENTS, "topics": DOC_TOPICS, "example_model": clients.example_model()}
    if slug in clients.CLIENTS_BY_SLUG:
        client = clients.CLIENTS_BY_SLUG[slug]
        model, site = context["example_model"], site_url(request)
        snippets = [{"snippet": s, "code": clients.render(s, model=model, site=site)} for s in client.snippets]
        context.update(client=client, snippets=snippets)
        return render(request, "docs/client.html", context)
    if slug in DOC_TOPICS:
        context["title"] = DOC_TOPICS[slug]
        if slug == "errors":
            context["error_kinds"] = error_kinds()
        return render(request, f"docs/{slug}.html", context)
    raise Http404("No such docs page")


ERROR_MEANINGS = {
    "invalid_request": (
        "The request is malformed or asks for something the model cannot do. Fix it; retrying won't help."
    ),
    "authentication": "The key is missing, unknown, revoked or expired.",
    "billing": "The wallet's available balance, or the key's spend limit, cannot cover the request.",
    "permission": "The key is not allowed to use this model.",
    "not_found": "Unknown model. List models with GET /v1/models.",
    "no_route": "No API endpoint at this path (check the base URL: SDKs for OpenAI want it to end in /v1).",
    "method": "Wrong HTTP method for this endpoint (the Allow header names the right one): the model APIs take POST.",
    "too_large": "The request body is larger than the gateway accepts.",
    "https_required": (
        "The request came over plain http to a qlaud that requires https. It was not served (not redirected: the key"
        " was already sent unencrypted). Use the https address, and rotate the key."
    ),
    "rate_limit": "The key's requests-per-minute or concurrency limit, or the provider's, was hit. Retry later.",
    "api_error": "An error inside qlaud. Retry; if it persists, check the status page.",
    "upstream": "Every eligible provider failed for this request. Retry.",
    "overloaded": "The providers for this model are overloaded or their circuits are open. Retry with backoff.",
    "timeout": "The provider did not answer in time.",
    "not_configured": (
        "No provider of this model has its credentials on this qlaud instance; the message names the setting to"
        " add. Retrying won't help (the response says x-should-retry: false). Try qlaud/demo, which needs none."
    ),
}


def error_kinds() -> list[dict]:
    """The error table in the docs, read from the gateway's own table so it cannot drift."""
    rows = []
    for kind, (status, anthropic, openai, code) in KINDS.items():
        anthropic_status = status_for(kind, ANTHROPIC)
        rows.append(
            {
                "status": status,
                "anthropic_status": anthropic_status,
                "anthropic": anthropic,
                "openai": openai,
                "code": code,
                "meaning": ERROR_MEANINGS.get(kind, ""),
            }
        )
    return rows


@require_GET
def security(request: HttpRequest) -> HttpResponse:
    # Read from the code, so the page cannot promise a shorter retention than the store keeps.
    context = {
        "responses_ttl_minutes": TTL_SECONDS // 60,
        "reasoning_ttl_hours": settings.REASONING_MEMORY_SECONDS / 3600,
    }
    return render(request, "pages/security.html", context)


def _status_context() -> dict:
    checks = stats.self_checks()
    providers = stats.provider_stats() if checks["database"] else []
    return {
        "providers": providers,
        "configured": sum(p.configured for p in providers),
        "checked": timezone.now(),
        "gateway_up": all(checks.values()),
        "checks": checks,
    }


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    template = "partials/status_table.html" if request.htmx else "pages/status.html"
    return render(request, template, _status_context())


@require_GET
def api_status(request: HttpRequest) -> JsonResponse:
    ctx = _status_context()
    body = {
        "status": "ok" if ctx["gateway_up"] else "degraded",
        "gateway": {"up": ctx["gateway_up"], **ctx["checks"]},
        "checked_at": ctx["checked"].isoformat(),
        "providers": [p.as_dict() for p in ctx["providers"]],
        "worker": admission.snapshot(),  # the worker that answered: for the load balancer
    }
    return JsonResponse(body, headers={"Cache-Control": "no-store"})


@require_GET
def llms_txt(request: HttpRequest) -> HttpResponse:
    context = {"models": public.model_ids(), "clients": clients.CLIENTS, "topics": DOC_TOPICS}
    text = render_to_string("llms.txt", context, request=request)
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_GET
def security_txt(request: HttpRequest) -> HttpResponse:
    """RFC 9116: where to report a vulnerability. Expires a year ahead, as the RFC asks for."""
    expires = (timezone.now() + timedelta(days=365)).replace(microsecond=0)
    lines = [
        f"Contact: mailto:{settings.SECURITY_EMAIL}",
        f"Expires: {expires.isoformat().replace('+00:00', 'Z')}",
        "Preferred-Languages: en",
        f"Canonical: {settings.SITE_URL}/.well-known/security.txt",
        f"Policy: {settings.SITE_URL}/security",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = ["User-agent: *", "Disallow: /dashboard/", "Disallow: /accounts/", "Disallow: /admin/"]
    lines += ["Disallow: /v1/", "Allow: /", "", f"Sitemap: {settings.SITE_URL}/sitemap.xml", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


FAVICON = (settings.BASE_DIR / "static" / "img" / "favicon.svg").read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; answer with the SVG mark."""
    return HttpResponse(FAVICON, content_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


def v1_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """API paths answer in JSON, never with the HTML 404 page."""
    message = f"No API route {request.method} {request.path}. See {site_url(request)}/docs/api/."
    return JsonResponse({"type": "error", "error": {"type": "not_found_error", "message": message}}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """API paths answer a JSON 500, never the HTML page (the database or Redis being down is already a JSON 503
    from qlaud.middleware when a view met it)."""
    if is_api(request):
        body = {"error": {"code": 500, "type": "api_error", "message": "Internal error."}}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return v1_not_found(request)
    if is_api(request):  # the management API's own error shape (api/errors.py), never the HTML page
        message = f"No API route {request.method} {request.path}. See {settings.SITE_URL}/docs/api/."
        return JsonResponse({"error": {"code": "not_found", "message": message, "status": 404}}, status=404)
    return render(request, "404.html", {"path": request.path}, status=404)


@login_required
def dashboard_overview(request: HttpRequest) -> HttpResponse:
    org = request.org  # type: ignore[attr-defined]
    if org is None:
        raise Http404("No organisation")
    return render(request, "dashboard/overview.html", dashboard.overview(org, request.membership))  # type: ignore[attr-defined]
