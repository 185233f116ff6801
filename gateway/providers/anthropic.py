"""Anthropic Messages upstreams (Anthropic itself, and Anthropic-compatible endpoints)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from gateway.providers import cloudflare
from gateway.providers.base import Call, Event, UpstreamError, UpstreamRequest
from gateway.providers.common import SSEItems, classify, decoded, loads
from lib import jsonio

DIALECT = "anthropic"
ENDPOINT = "/v1/messages"
COUNT_ENDPOINT = "/v1/messages/count_tokens"
# The version qlaud's translation targets; clients' (possibly newer) versions are not forwarded.
API_VERSION = "2023-06-01"
COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")


def _headers(call: Call) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if call.stream else "application/json",
        "anthropic-version": API_VERSION,
    }
    if call.api_key:
        headers["x-api-key"] = call.api_key
    beta = {k.lower(): v for k, v in call.incoming_headers.items()}.get("anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    return headers


def _request(call: Call, endpoint: str, body: dict) -> UpstreamRequest:
    provider = call.host.provider
    headers = _headers(call)
    url = cloudflare.route(provider, endpoint, provider.base_url.rstrip("/") + endpoint, headers, call)
    return UpstreamRequest("POST", url, headers, jsonio.dumps(body))


prepare = None  # nothing to set up before a request


def build_request(call: Call) -> UpstreamRequest:
    body = {**call.body, "model": call.host.upstream_model, "stream": call.stream}
    return _request(call, ENDPOINT, body)


def build_count_tokens(call: Call) -> UpstreamRequest | None:
    body = {k: v for k, v in call.body.items() if k in COUNT_FIELDS}
    body["model"] = call.host.upstream_model
    return _request(call, COUNT_ENDPOINT, body)


def parse_count_tokens(content: bytes) -> int:
    return int(json.loads(content)["input_tokens"])


def event_item(name: str, data: str) -> Event | None:
    event = loads(data)
    return None if event is None else (name or str(event.get("type", "")), event)


def stream_decoder() -> SSEItems:
    return SSEItems(event_item)


def iter_events(response: httpx.Response) -> AsyncIterator[Event]:
    return decoded(response, stream_decoder())


def parse_response(content: bytes) -> dict:
    body = jsonio.loads(content)
    if not isinstance(body, dict):
        raise ValueError("upstream answered with a non-object")
    return body


def parse_error(status: int, content: bytes) -> UpstreamError:
    body = loads(content.decode(errors="replace")) or {}
    error = body.get("error")
    err = error if isinstance(error, dict) else {}
    type_ = err.get("type") if isinstance(err.get("type"), str) else None
    return classify(status, content, type_)
