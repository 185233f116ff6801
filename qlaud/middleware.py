"""Site-wide middleware: API paths answer JSON, never the site's HTML (when the database or Redis is down, and when
they are called over plain http while the site requires https); every HTML page carries a Content-Security-Policy."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from gateway import https
from lib import outages

API_PREFIXES = ("/v1/", "/api/")


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def unavailable_response() -> JsonResponse:
    """A 503 with Retry-After, in the shape of the account API's errors (OpenAI-like: `error.message`, `type`)."""
    message = "The service is briefly unavailable (a backing store is not answering). Retry shortly."
    body = {"error": {"code": 503, "type": "service_unavailable", "message": message}}
    return JsonResponse(body, status=503, headers={"Retry-After": str(outages.RETRY_AFTER_SECONDS)})


class ApiUnavailableMiddleware(MiddlewareMixin):
    """A view under /v1/ or /api/ that fails because the database or Redis is unreachable answers a JSON 503 with
    Retry-After instead of the HTML 500 page. (Exceptions in other middleware reach `qlaud.views.server_error`.)"""

    sync_capable = True
    async_capable = True

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api(request) and outages.unavailable(exception):
            return unavailable_response()
        return None


class HttpsOnlyApiMiddleware(MiddlewareMixin):
    """An API request over plain http while SECURE_SSL_REDIRECT is on gets the JSON 403 of gateway/https.py, not
    SecurityMiddleware's redirect (so it sits before it). The ASGI wrapper refuses these first; this covers requests
    that reach Django another way."""

    sync_capable = True
    async_capable = True

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if https.required() and is_api(request) and not request.is_secure():
            return https.refusal(request.path)
        return None


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Every HTML response gets settings.CONTENT_SECURITY_POLICY unless its view set a policy of its own
    (the API reference, api/urls.py). The pages load their scripts and styles from /static/ only: no inline script, no
    `<style>` element (htmx's indicator styles live in qlaud.css, `includeIndicatorStyles` is off)."""

    sync_capable = True
    async_capable = True

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if "Content-Security-Policy" not in response and response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response
