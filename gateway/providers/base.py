"""What every upstream protocol module provides: `ProviderModule`, checked by mypy on the PROTOCOLS dict.

A provider module turns a request body in its dialect (see gateway.translate) into one HTTP request, and turns the
upstream's answer back into that dialect. Everything dialect-to-dialect is the translation core's job, not this one's.
Modules expose module-level names (no classes to subclass); the registry in gateway/providers/__init__.py maps
`Provider.protocol` to a module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from catalog.snapshot import HostInfo
from wallet.money import Prices

Event = tuple[str, dict[str, Any]]


class StreamDecoder(Protocol):
    """A streamed body's events, bytes in (gateway.providers.common.SSEItems)."""

    ended: bool  # the stream's own end marker came: nothing after it is read

    def feed(self, data: bytes) -> list[Any]: ...

    def close(self) -> list[Any]:
        """The body ended: the events it left pending."""
        ...


@dataclass(frozen=True, slots=True)
class Call:
    """Everything a provider module needs to build one upstream request."""

    host: HostInfo
    body: dict[str, Any]  # already translated and shaped for the target, in the module's DIALECT
    stream: bool
    api_key: str | None
    incoming_headers: Mapping[str, str] = field(default_factory=dict)
    # Cloudflare AI Gateway tagging (cf-aig-metadata / cf-aig-custom-cost), filled by the gateway.
    metadata: Mapping[str, str] = field(default_factory=dict)
    customer_prices: Prices | None = None
    # The requesting org's own structured credential (BYOK: Bedrock's access key, secret and region; Vertex's
    # service account, project and region), used instead of qlaud's. Never log it.
    credential: Mapping[str, Any] | None = field(default=None, repr=False)


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
    provider_type: str = ""  # the provider's own error type or code, as it said it (for the client and the breaker)


class ProviderModule(Protocol):
    """The interface of a provider module (a module, not a class: mypy checks modules against it)."""

    @property
    def DIALECT(self) -> str:
        """ "openai" | "anthropic"."""
        ...

    @property
    def prepare(self) -> Callable[[Call], Awaitable[None]] | None:
        """Async set-up before the (sync) request builder, or None: Vertex mints its token here, off the event loop."""
        ...

    def build_request(self, call: Call) -> UpstreamRequest: ...

    def iter_events(self, response: httpx.Response) -> AsyncIterator[Event]:
        """Streaming: ("", chunk) for openai chunks, (event name, data) for anthropic events."""
        ...

    @property
    def stream_decoder(self) -> Callable[[], StreamDecoder] | None:
        """A new synchronous decoder of the streamed body, giving the same events as `iter_events` (None: the module
        has none, and its streams are relayed through `iter_events`)."""
        ...

    def parse_response(self, content: bytes) -> dict[str, Any]:
        """A non-streaming body, in DIALECT."""
        ...

    def parse_error(self, status: int, content: bytes) -> UpstreamError: ...

    def build_count_tokens(self, call: Call) -> UpstreamRequest | None:
        """None: no native count endpoint (the gateway estimates)."""
        ...

    def parse_count_tokens(self, content: bytes) -> int:
        """The count endpoint's answer; only called where build_count_tokens gave a request."""
        ...
