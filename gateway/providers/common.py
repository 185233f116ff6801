"""Helpers every provider module shares: SSE framing of a response and error classification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from gateway.providers.base import UpstreamError
from gateway.translate.sse import SSEDecoder
from lib import jsonio

# Statuses worth another host: rate limits, overload, timeouts, server faults, and the
# host-specific refusals (our key at that provider, the model missing there).
RETRYABLE = {401, 403, 404, 408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) pairs of an SSE body, comments and keep-alives dropped."""
    decoder = SSEDecoder()
    async for chunk in _body(response):
        for event in decoder.feed(chunk):
            yield event.event or "", event.data
    for event in decoder.flush():
        yield event.event or "", event.data


def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive. Over the aiohttp transport, an unencoded body is read straight from
    aiohttp's stream, whatever is there at each read: httpx's own layers (content decoders, chunker, byte
    counting) are several generators deep per upstream read and do nothing for an identity-encoded stream."""
    stream = response.stream
    if isinstance(stream, AiohttpResponseStream) and response.headers.get("content-encoding", "identity") == "identity":
        return _aiohttp_body(stream)
    return response.aiter_bytes()


async def _aiohttp_body(stream: AiohttpResponseStream) -> AsyncIterator[bytes]:
    with map_aiohttp_exceptions():
        async for chunk in stream._aiohttp_response.content.iter_any():
            yield chunk


def error_message(content: bytes) -> str:
    """The human message of an upstream error body, whatever its shape."""
    try:
        body: Any = json.loads(content)
    except ValueError:
        return content[:300].decode(errors="replace").strip() or "no details"
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, list) and err:  # Cloudflare: {"success":false,"error":[{code,message}]}
        err = err[0]
    if isinstance(err, dict):
        message = err.get("message", err)
        return message if isinstance(message, str) else json.dumps(message)[:300]
    return str(err)[:300]


# Provider error codes that say the request itself is at fault, whatever the status: no other host
# will answer differently, and the host is not to blame.
REQUEST_FAULT_CODES = frozenset({"context_length_exceeded", "string_above_max_length", "invalid_prompt"})


def provider_error_type(content: bytes) -> str:
    """The provider's own error code or type (`error.code`, else `error.type`), "" if none."""
    try:
        body: Any = json.loads(content)
    except ValueError:
        return ""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, list) and err:
        err = err[0]
    if not isinstance(err, dict):
        return ""
    for name in ("code", "type", "status"):
        value = err.get(name)
        if isinstance(value, str) and value and len(value) <= 60:
            return value
    return ""


def classify(status: int, content: bytes, type_: str | None = None) -> UpstreamError:
    provider_type = provider_error_type(content)
    retryable = status in RETRYABLE
    if provider_type in REQUEST_FAULT_CODES:
        type_, retryable = "invalid_request_error", False
    kind = type_ or STATUS_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    return UpstreamError(
        status=status,
        type=kind,
        message=error_message(content),
        retryable=retryable,
        provider_type=provider_type or kind,
    )


def loads(data: str) -> dict[str, Any] | None:
    try:
        value = jsonio.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
