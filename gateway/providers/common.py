"""Helpers every provider module shares: SSE framing of a response and error classification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from gateway.providers.base import StreamDecoder, UpstreamError
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


END = object()  # what an item function returns for the stream's own end marker (OpenAI's `[DONE]`)


class SSEItems:
    """A streamed SSE body's items, bytes in, as the provider module defines an item: `item(event name, data)` gives
    the item, None to skip the event, or END. Synchronous, so the same decoder serves the async iterator below and
    the stream loop's spliced relay (gateway/surfaces/streaming.py), which decodes inside aiohttp's read callback."""

    __slots__ = ("decoder", "ended", "item")

    def __init__(self, item: Callable[[str, str], Any]) -> None:
        self.decoder = SSEDecoder()
        self.item = item
        self.ended = False  # the end marker came: nothing after it is read

    def feed(self, data: bytes) -> list[Any]:
        return self._items(self.decoder.feed(data))

    def close(self) -> list[Any]:
        """The body ended: the items of an event it left unterminated."""
        return self._items(self.decoder.flush())

    def _items(self, events: list[Any]) -> list[Any]:
        out = []
        item = self.item
        for event in events:
            value = item(event.event or "", event.data)
            if value is None:
                continue
            if value is END:
                self.ended = True
                break
            out.append(value)
        return out


async def decoded(response: httpx.Response, decoder: StreamDecoder) -> AsyncIterator[Any]:
    """The items of a streamed body, as they arrive."""
    async for chunk in _body(response):
        for item in decoder.feed(chunk):
            yield item
        if decoder.ended:
            return
    for item in decoder.close():
        yield item


def aiohttp_reader(response: httpx.Response) -> aiohttp.StreamReader | None:
    """aiohttp's reader of the body, when the response came over the aiohttp transport unencoded (else None)."""
    stream = response.stream
    if isinstance(stream, AiohttpResponseStream) and response.headers.get("content-encoding", "identity") == "identity":
        return stream._aiohttp_response.content
    return None


def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive. Over the aiohttp transport, an unencoded body is read straight from
    aiohttp's stream, whatever is there at each read: httpx's own layers (content decoders, chunker, byte
    counting) are several generators deep per upstream read and do nothing for an identity-encoded stream."""
    reader = aiohttp_reader(response)
    return response.aiter_bytes() if reader is None else _aiohttp_body(reader)


async def _aiohttp_body(reader: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    with map_aiohttp_exceptions():
        async for chunk in reader.iter_any():
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
