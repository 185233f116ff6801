"""OpenAI-compatible Chat Completions upstreams.

DeepSeek, Groq, OpenAI, Mistral, Cerebras, OpenRouter, xAI, Workers AI and Google AI Studio's
OpenAI endpoint all speak this. Their request quirks live in the translation core's shaping
table; this module only does HTTP: URL, auth, framing, error classification.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from django.conf import settings

from gateway.providers import cloudflare
from gateway.providers.base import Call, Event, UpstreamError, UpstreamRequest
from gateway.providers.common import END, SSEItems, classify, decoded, loads
from lib import jsonio

DIALECT = "openai"
ENDPOINT = "/chat/completions"


def extra_headers(slug: str) -> dict[str, str]:
    """Attribution headers OpenRouter shows in its dashboard: this instance's public URL (SITE_URL)."""
    if slug == "openrouter":
        return {"HTTP-Referer": settings.SITE_URL, "X-Title": "qlaud"}
    return {}


prepare = None  # nothing to set up before a request


def build_request(call: Call) -> UpstreamRequest:
    provider = call.host.provider
    body = {**call.body, "model": call.host.upstream_model, "stream": call.stream}
    headers = {"content-type": "application/json", "accept": "text/event-stream" if call.stream else "application/json"}
    if call.api_key:
        headers["authorization"] = f"Bearer {call.api_key}"
    headers.update(extra_headers(provider.slug))
    direct = provider.base_url.rstrip("/") + ENDPOINT
    url = cloudflare.route(provider, ENDPOINT, direct, headers, call)
    return UpstreamRequest("POST", url, headers, jsonio.dumps(body))


def chunk_item(_: str, data: str) -> Event | object | None:
    """A chunk as a dict; `[DONE]` ends the stream; an in-stream `error` payload is kept as is."""
    if data == "[DONE]" or data.strip() == "[DONE]":
        return END
    chunk = loads(data)
    return None if chunk is None else ("", chunk)


def text_item(_: str, data: str) -> tuple[str, str] | object:
    """A chunk as its JSON text, unparsed, for a relay that parses only the chunks it must; `[DONE]` ends the stream."""
    if data == "[DONE]" or data.strip() == "[DONE]":
        return END
    return "", data


def stream_decoder() -> SSEItems:
    return SSEItems(chunk_item)


def text_decoder() -> SSEItems:
    return SSEItems(text_item)


def iter_events(response: httpx.Response) -> AsyncIterator[Event]:
    return decoded(response, stream_decoder())


def parse_response(content: bytes) -> dict:
    body = jsonio.loads(content)
    if not isinstance(body, dict):
        raise ValueError("upstream answered with a non-object")
    return body


def parse_error(status: int, content: bytes) -> UpstreamError:
    return classify(status, content)


def build_count_tokens(call: Call) -> UpstreamRequest | None:
    return None  # no OpenAI-compatible provider has one; the core's estimator answers


def parse_count_tokens(content: bytes) -> int:
    raise NotImplementedError("build_count_tokens never asks OpenAI-compatible upstreams for a count")
