"""What every upstream protocol module provides.

A provider module turns a request body in its *dialect* ("openai" chat completions or
"anthropic" messages) into one HTTP request, and turns the upstream's answer back into
that dialect. Everything dialect-to-dialect is the translation core's job, not this one's.

Each module exposes module-level names (no classes to subclass):

    DIALECT: str                                      # "openai" | "anthropic"
    def build_request(call: Call) -> UpstreamRequest
    async def iter_events(response: httpx.Response) -> AsyncIterator[Event]
        # streaming: ("", chunk_dict) for openai chunks, (event_name, data_dict) for anthropic
    def parse_response(content: bytes) -> dict        # non-streaming body, in DIALECT
    def parse_error(status: int, content: bytes) -> UpstreamError
    def build_count_tokens(call: Call) -> UpstreamRequest | None   # None: no native endpoint
    def parse_count_tokens(content: bytes) -> int     # the count's answer (where there is an endpoint)

The registry in gateway/providers/__init__.py maps Provider.protocol to a module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Call:
    """Everything a provider module needs to build one upstream request."""

    host: Any  # catalog.snapshot.HostInfo
    body: dict[str, Any]  # already translated and shaped for the target, in the module's DIALECT
    stream: bool
    api_key: str | None
    incoming_headers: Mapping[str, str] = field(default_factory=dict)
    # Cloudflare AI Gateway tagging (cf-aig-metadata / cf-aig-custom-cost), filled by the gateway.
    metadata: Mapping[str, str] = field(default_factory=dict)
    customer_cost_per_mtok: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes


@dataclass(frozen=True, slots=True)
class UpstreamError(Exception):
    """An upstream refusal, already classified for failover and for the client."""

    status: int
    type: str  # e.g. rate_limit_error, overloaded_error, invalid_request_error, api_error
    message: str
    retryable: bool  # try the next host?
    retry_after: float | None = None
