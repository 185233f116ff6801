"""THE stream loop every surface uses: upstream events in, client bytes out.

`loop(upstream, translator, request_id)` reads the upstream's events in batches (`paced`), hands each batch to the
surface's `StreamTranslator`, keeps the connection alive through long upstream silences, notes what was delivered on
the hold every CHECKPOINT_SECONDS, and settles in `finally`, even when the client leaves (asyncio cancellation).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from django.http import StreamingHttpResponse

from gateway.pipeline import Upstream
from gateway.translate import relay

log = logging.getLogger(__name__)

# Streams stay alive through long upstream silences: Anthropic's own `ping`, an SSE comment for OpenAI.
KEEPALIVE_SECONDS = 15.0
# While streaming, what was delivered is noted on the hold this often (crash recovery).
CHECKPOINT_SECONDS = 5.0
KEEPALIVE = {relay.ANTHROPIC: b'event: ping\ndata: {"type":"ping"}\n\n', relay.OPENAI: b": keep-alive\n\n"}


class StreamTranslator(Protocol):
    """What a surface gives the loop: its translation of one upstream stream, and how to bill it."""

    @property
    def delivered(self) -> bool:
        """Output has reached the client (so it is billable and worth a checkpoint)."""
        ...

    def opening(self) -> bytes: ...

    def feed_all(self, batch: list[Any]) -> bytes: ...

    def keepalive(self) -> bytes:
        """What to send during an upstream silence (b"": nothing)."""
        ...

    def checkpoint(self) -> None: ...

    def finish(self) -> bytes: ...

    def fail(self, message: str) -> bytes:
        """The closing bytes when the upstream connection broke mid-stream."""
        ...

    def error_type(self) -> str: ...

    async def settle(self, error_type: str) -> None: ...


def response(events: AsyncIterator[bytes], headers: Mapping[str, str]) -> StreamingHttpResponse:
    out = StreamingHttpResponse(events, content_type="text/event-stream")
    out["Cache-Control"] = "no-cache"
    out["X-Accel-Buffering"] = "no"
    for name, value in headers.items():
        out[name] = value
    return out


async def loop(up: Upstream, t: StreamTranslator, request_id: str) -> AsyncIterator[bytes]:
    """Upstream events in, client bytes out. Settles in `finally`, even when the client leaves."""
    error_type = ""
    next_checkpoint = 0.0  # the first one as soon as output reaches the client
    try:
        opening = t.opening()
        if opening:
            yield opening
        try:
            async for batch in paced(up.module.iter_events(up.response), KEEPALIVE_SECONDS):
                if batch is None:  # a long upstream silence (a reasoning model thinking)
                    keepalive = t.keepalive()
                    if keepalive:
                        yield keepalive
                    continue
                out = t.feed_all(batch)
                if out:
                    yield out
                    if t.delivered and time.monotonic() >= next_checkpoint:
                        next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
                        t.checkpoint()
            tail = t.finish()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("upstream stream broke (request %s): %s", request_id, type(exc).__name__)
            tail = t.fail("The upstream connection broke mid-stream.")
        if tail:
            yield tail
        error_type = t.error_type()
    except asyncio.CancelledError:
        error_type = "client_disconnected"
        raise
    finally:
        await close_quietly(up.response)
        await t.settle(error_type)


async def paced(events: AsyncIterator[Any], interval: float) -> AsyncIterator[list[Any] | None]:
    """The events of `events` in batches, with a None whenever `interval` seconds pass without one.

    A batch is whatever has arrived when the consumer asks (at least one event), so a burst (several
    events in one upstream read) becomes one write to the client instead of one per event, and no
    event ever waits for company. One reader task per stream feeds a small bounded queue
    (backpressure to the upstream when the client is slow); waiting on the queue can time out
    without disturbing the upstream read. Upstream errors are re-raised here, in order.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for item in events:
                await queue.put(item)
        except Exception as exc:  # handed to the consumer, which decides what it means
            await queue.put(_Raised(exc))
        else:
            await queue.put(_END)

    reader = asyncio.ensure_future(pump())
    try:
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(interval):
                        item = await queue.get()
                except TimeoutError:
                    yield None
                    continue
            else:
                item = queue.get_nowait()
            batch: list[Any] = []
            while item is not _END and not isinstance(item, _Raised):
                batch.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            else:  # the stream ended or broke: first what came before that
                if batch:
                    yield batch
                if isinstance(item, _Raised):
                    raise item.exc
                return
            yield batch
    finally:
        reader.cancel()


_END = object()


@dataclass(frozen=True, slots=True)
class _Raised:
    exc: Exception


async def close_quietly(response: httpx.Response) -> None:
    try:
        await asyncio.shield(response.aclose())
    except BaseException:  # closing a broken upstream must never mask the real outcome
        pass
