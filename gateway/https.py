"""API requests over plain http are refused, never redirected, once the site requires https.

With SECURE_SSL_REDIRECT on, Django's SecurityMiddleware answers an http request with a redirect to
https. For an API call that is the wrong answer: the key already crossed the network in clear text,
and most clients do not follow a redirected POST (they would report a confusing 301). So a request
under /v1/ or /api/ that arrived over http gets a 403 in its surface's error shape saying so. "Over
http" is judged as Django judges it: SECURE_PROXY_SSL_HEADER (X-Forwarded-Proto from the load balancer)
when the header is present, else the connection's own scheme. The ASGI wrapper (gateway.asgi) checks
before any route, the site's middleware (qlaud.middleware.HttpsOnlyApiMiddleware) for requests that reach
Django another way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from gateway import errors
from gateway.errors import GatewayError

API_PREFIXES = ("/v1/", "/api/")


def required() -> bool:
    return bool(settings.SECURE_SSL_REDIRECT)


def scope_is_secure(scope: dict[str, Any]) -> bool:
    """Whether an ASGI request came over https, by the rule of Django's `HttpRequest.is_secure()`."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        for header, value in scope["headers"]:
            if header.lower() == name:
                return value.decode("latin-1").split(",", 1)[0].strip() == proxy[1]
    return scope.get("scheme") == "https"


def refusal(path: str) -> HttpResponse:
    """The 403 for an API request that came over plain http, in the shape of the API at `path`."""
    message = (
        f"qlaud serves its API over https only: this request came over plain http and was not served. "
        f"Send it to {settings.SITE_URL}{path}. Any API key it carried crossed the network unencrypted: rotate it."
    )
    if path.startswith("/api/"):  # the management API's own error shape (api/errors.py)
        body = {"error": {"code": "https_required", "message": message, "status": 403}}
        return JsonResponse(body, status=403, headers={"x-should-retry": "false"})
    dialect = errors.ANTHROPIC if path.startswith("/v1/messages") else errors.OPENAI
    return errors.render(GatewayError("https_required", message), dialect)


def scope_refusal(scope: dict[str, Any]) -> HttpResponse | None:
    """The refusal for an ASGI API request over plain http while https is required, else None."""
    if required() and scope["path"].startswith(API_PREFIXES) and not scope_is_secure(scope):
        return refusal(scope["path"])
    return None
