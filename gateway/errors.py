"""Errors in the shape of the surface that received the request.

A `GatewayError` carries one canonical *kind*; `render()` turns it into the Anthropic
shape (`{"type":"error","error":{...}}`) or the OpenAI shape (`{"error":{message,type,param,code}}`)
with the right status. Nothing here ever includes a traceback or a provider key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.http import HttpResponse

from lib.redact import provider_message, redact

ANTHROPIC = "anthropic"
OPENAI = "openai"

# kind -> (status, anthropic type, openai type, openai code)
KINDS: dict[str, tuple[int, str, str, str | None]] = {
    "invalid_request": (400, "invalid_request_error", "invalid_request_error", None),
    "authentication": (401, "authentication_error", "authentication_error", "invalid_api_key"),
    "billing": (402, "billing_error", "insufficient_quota", "insufficient_quota"),
    "permission": (403, "permission_error", "permission_error", "model_not_allowed"),
    # An API request over plain http while the site requires https (gateway/https.py): refused, never redirected.
    "https_required": (403, "permission_error", "invalid_request_error", "https_required"),
    "not_found": (404, "not_found_error", "not_found_error", "model_not_found"),
    "no_route": (404, "not_found_error", "invalid_request_error", None),
    "method": (405, "invalid_request_error", "invalid_request_error", "method_not_allowed"),
    "too_large": (413, "request_too_large", "invalid_request_error", "request_too_large"),
    "rate_limit": (429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"),
    "api_error": (500, "api_error", "api_error", None),
    "upstream": (502, "api_error", "upstream_error", "upstream_error"),
    "overloaded": (503, "overloaded_error", "overloaded_error", "server_is_overloaded"),
    # Every host of the model belongs to a provider without its settings (catalog.readiness): the operator's to
    # fix, so 503, and no client retry helps (x-should-retry: false, which both official SDKs honour).
    "not_configured": (503, "api_error", "provider_not_configured", "provider_not_configured"),
    "timeout": (504, "timeout_error", "timeout_error", "timeout"),
}

# Upstream error types (Anthropic vocabulary, as providers classify them) -> our kinds.
UPSTREAM_KINDS: dict[str, str] = {
    "invalid_request_error": "invalid_request",
    "authentication_error": "upstream",  # our provider key failing is our problem, not the client's
    "permission_error": "upstream",
    "not_found_error": "upstream",
    "request_too_large": "too_large",
    "rate_limit_error": "rate_limit",
    "overloaded_error": "overloaded",
    "timeout_error": "timeout",
    "api_error": "upstream",
}


@dataclass(slots=True)
class GatewayError(Exception):
    kind: str
    message: str
    param: str | None = None
    retry_after: float | None = None

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]


def anthropic_type(kind: str) -> str:
    return KINDS[kind][1]


def status_for(kind: str, surface: str) -> int:
    # Anthropic clients (Claude Code) understand 529 as "overloaded, retry".
    if kind == "overloaded" and surface == ANTHROPIC:
        return 529
    return KINDS[kind][0]


def error_body(err: GatewayError, surface: str, request_id: str = "") -> dict:
    _, a_type, o_type, o_code = KINDS[err.kind]
    if surface == ANTHROPIC:
        body: dict = {"type": "error", "error": {"type": a_type, "message": err.message}}
        if request_id:
            body["request_id"] = request_id
        return body
    return {"error": {"message": err.message, "type": o_type, "param": err.param, "code": o_code}}


def render(err: GatewayError, surface: str, request_id: str = "") -> HttpResponse:
    """The HTTP response for an error raised before any byte of an answer was sent."""
    response = HttpResponse(
        json.dumps(error_body(err, surface, request_id)),
        status=status_for(err.kind, surface),
        content_type="application/json",
    )
    if err.kind == "method":
        response["Allow"] = "POST"  # the model APIs' one method; gateway.asgi names others where they differ
    if err.kind in ("not_configured", "https_required"):
        response["x-should-retry"] = "false"
    if err.retry_after is not None:
        response["retry-after"] = str(max(1, round(err.retry_after)))
    if request_id:
        response["request-id"] = request_id
        response["x-qlaud-request-id"] = request_id
    return response


def from_upstream(
    status: int,
    type_: str,
    message: str,
    retry_after: float | None = None,
    provider: str = "",
    provider_type: str = "",
) -> GatewayError:
    """Map a final upstream refusal (after failover gave up) to a client-facing error: qlaud's own
    words, the provider's error type and status, and the provider's text only after `redact()`."""
    kind = UPSTREAM_KINDS.get(type_, "upstream")
    who = f"The upstream provider {provider}" if provider else "The upstream provider"
    detail = provider_message(message)
    said = redact(provider_type or type_)
    text = f"{who} refused the request (status {status}, type {said})" + (f": {detail}" if detail else ".")
    return GatewayError(kind, text, retry_after=retry_after)
