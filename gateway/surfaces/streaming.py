"""THE stream loop every surface uses: upstream events in, client bytes out.

`loop(upstream, translator, request_id)` reads the upstream's events in batches (`paced`), hands each batch to the
surface's `StreamTranslator`, keeps the connection alive through long upstream silences, ends a stalled stream (no
event for the host's first-byte timeout before output, or its idle timeout after) with the surface's error event,
has what was delivered metered on the hold from the first output (the wallet's flusher samples it), and settles
in `finally`, even when the client leaves (asyncio cancellation). The stall deadlines are counted on the keep-alive
ticks: nothing is added per chunk but resetting one local.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from django.http import StreamingHttpResponse

from gateway import admission
from gateway.pipeline import Upstream, first_byte_timeout, idle_timeout
from gateway.translate import relay

log = logging.getLogger(__name__)

# Streams stay alive through long upstream silences: Anthropic's own `ping`, an SSE comment for OpenAI.
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = {relay.ANTHROPIC: b'event: ping\ndata: {"type":"ping"}\n\n', relay.OPENAI: b": keep-alive\n\n"}


class StreamTranslator(Protocol):
    """What a surface gives the loop: its translation of one upstream stream, and how to bill it."""

    @property
    def delivered(self) -> bool:
        """Output has reached the client (so it is billable and worth metering)."""
        ...

    def opening(self) -> bytes: ...

    def feed_all(self, batch: list[Any]) -> bytes: ...

    def keepalive(self) -> bytes:
        """What to send during an upstream silence (b"": nothing)."""
        ...

    def watch(self) -> None:
        """Have what was delivered metered on the hold from now on (called once, at the first output)."""
        ...

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


async def loop(
    up: Upstream, t: StreamTranslator, request_id: str, events: AsyncIterator[Any] | None = None
) -> AsyncIterator[bytes]:
    """Upstream events in (`events`, or the provider module's `iter_events`), client bytes out. Settles in
    `finally`, even when the client leaves."""
    error_type = ""
    watched = whole = False
    admission.counts.streams += 1
    first_byte, idle = first_byte_timeout(up.host), idle_timeout(up.host)
    tick = min(KEEPALIVE_SECONDS, first_byte, idle)
    quiet = 0.0  # seconds of upstream silence so far, counted in ticks
    try:
        opening = t.opening()
        if opening:
            yield opening
        try:
            upstream = events if events is not None else up.module.iter_events(up.response)
            async for batch in paced(upstream, tick):
                if batch is None:  # an upstream silence (a reasoning model thinking, or a stall)
                    quiet += tick
                    if quiet >= (idle if t.delivered else first_byte):
                        raise Stalled(quiet)
                    keepalive = t.keepalive()
                    if keepalive:
                        yield keepalive
                    continue
                quiet = 0.0
                out = t.feed_all(batch)
                if out:
                    yield out
                    if not watched and t.delivered:
                        watched = True
                        t.watch()
            tail = t.finish()
        except Stalled as stall:
            log.warning("upstream stalled for %.0f s (request %s, host %s)", stall.seconds, request_id, up.host.id)
            tail = t.fail(f"The upstream provider sent nothing for {stall.seconds:.0f} seconds; the stream was ended.")
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("upstream stream broke (request %s): %s", request_id, type(exc).__name__)
            tail = t.fail("The upstream connection broke mid-stream.")
        error_type, whole = t.error_type(), True
        if tail:
            # The answer is whole: a client that closes as soon as it reads the end (the SDKs do) may cancel
            # us here, and that is not a disconnect.
            yield tail
    except asyncio.CancelledError:
        if not whole:
            error_type = "client_disconnected"
        raise
    finally:
        admission.counts.streams -= 1
        await close_quietly(up.response)
        await t.settle(error_type)


class Stalled(Exception):
    """The upstream sent nothing for longer than the host's first-byte or idle timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no upstream event for {seconds:.0f} s")
        self.seconds = seconds


async def paced(events: AsyncIterator[Any], interval: float) -> AsyncIterator[list[Any] | None]:
    """The events of `events` in batches, with a None whenever `interval` seconds pass without one.

    A batch is whatever has arrived when the consumer asks (at least one event), so a burst (several
    events in one upstream read) becomes one write to the client instead of one per event, and no
    event ever waits for company. One reader task per stream fills a small bounded buffer
    (backpressure to the upstream when the client is slow). The silence is watched by one timer per
    stream, moved on lazily (it fires at most once per `interval`, not once per event), so waiting for
    the next event costs one future and no timeout of its own. Upstream errors are re-raised here, in order.
    """
    pacer = _Pacer(asyncio.get_running_loop(), interval)
    reader = asyncio.ensure_future(pacer.pump(events))
    buffer = pacer.buffer
    try:
        while True:
            if not buffer:
                if pacer.idle:
                    pacer.idle = False
                    yield None
                    continue
                await pacer.wait()
                continue
            batch: list[Any] = []
            while buffer:
                item = buffer.popleft()
                if item is _END or isinstance(item, _Raised):
                    if batch:  # the stream ended or broke: first what came before that
                        yield batch
                    if isinstance(item, _Raised):
                        raise item.exc
                    return
                batch.append(item)
            pacer.idle = False
            pacer.resume()
            yield batch
    finally:
        pacer.close()
        reader.cancel()


class _Pacer:
    """The reader's buffer, the consumer's wake-up and the silence timer of one `paced` stream."""

    __slots__ = ("buffer", "idle", "interval", "last", "loop", "space", "timer", "waiter")

    LIMIT = 64  # events buffered before the reader stops reading the upstream

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.buffer: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None  # the consumer, while the buffer is empty
        self.space: asyncio.Future[None] | None = None  # the reader, while the buffer is full
        self.idle = False  # `interval` passed without an event: the consumer owes a None
        self.last = loop.time()
        self.timer = loop.call_at(self.last + interval, self._tick)

    async def pump(self, events: AsyncIterator[Any]) -> None:
        try:
            async for item in events:
                self._put(item)
                if len(self.buffer) >= self.LIMIT:
                    self.space = self.loop.create_future()
                    await self.space
        except Exception as exc:  # handed to the consumer, which decides what it means
            self._put(_Raised(exc))
        else:
            self._put(_END)

    def _put(self, item: Any) -> None:
        self.buffer.append(item)
        self.last = self.loop.time()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def resume(self) -> None:
        space = self.space
        if space is not None and not space.done():
            space.set_result(None)

    def _tick(self) -> None:
        now, due = self.loop.time(), self.last + self.interval
        if now < due:  # events came since this timer was set: sleep until `interval` after the last one
            self.timer = self.loop.call_at(due, self._tick)
            return
        self.idle = True
        self.last = now
        self.timer = self.loop.call_at(now + self.interval, self._tick)
        self._wake()

    def close(self) -> None:
        self.timer.cancel()


_END = object()


@dataclass(frozen=True, slots=True)
class _Raised:
    exc: Exception


async def close_quietly(response: httpx.Response) -> None:
    try:
        await asyncio.shield(response.aclose())
    except BaseException:  # closing a broken upstream must never mask the real outcome
        pass
