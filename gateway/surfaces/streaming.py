"""THE stream loop every surface uses: upstream events in, client bytes out.

Two ways to run the same stream, with the same outcomes:

- `Splice.run(sink)`, when the server hands over the client's socket (gateway/asgi.py: uvicorn's httptools protocol)
  and the body comes over aiohttp: no task and no await per chunk. aiohttp calls the splice from its read callback;
  the splice decodes, translates and writes the client's bytes there and then. The request's task only waits for
  the end, and for a slow client's socket to drain (reading the upstream is paused meanwhile).
- `loop(...)`, an async iterator of the client's bytes (any other server or transport, Django's test client):
  reads the upstream's events in batches (`paced`), one part per batch.

Either way each read's events go to the surface's `StreamTranslator` in one batch, the connection is kept alive
through long upstream silences, a stalled stream (no event for the host's first-byte timeout before output, or its
idle timeout after) ends with the surface's error event, what was delivered is metered on the hold from the first
output (the wallet's flusher samples it), and the stream settles in `finally`, even when the client leaves (asyncio
cancellation). The stall deadlines are counted on the keep-alive ticks: nothing is added per chunk but resetting one
local.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from django.http import StreamingHttpResponse

from gateway import admission
from gateway.pipeline import Upstream, first_byte_timeout, idle_timeout
from gateway.providers.base import StreamDecoder
from gateway.providers.common import aiohttp_reader, decoded
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


def response(
    up: Upstream,
    t: StreamTranslator,
    request_id: str,
    headers: Mapping[str, str],
    decoder: Callable[[], StreamDecoder] | None = None,
) -> StreamingHttpResponse:
    """The streamed answer: `loop` as its content, and the same stream as a `Splice` (`response.splice`) for a
    server that can hand over the client's socket. `decoder` overrides the provider module's `stream_decoder`."""
    decoder = decoder or up.module.stream_decoder
    out = StreamingHttpResponse(loop(up, t, request_id, decoder=decoder), content_type="text/event-stream")
    out.splice = Splice(up, t, request_id, decoder) if decoder is not None else None  # type: ignore[attr-defined]
    out["Cache-Control"] = "no-cache"
    out["X-Accel-Buffering"] = "no"
    for name, value in headers.items():
        out[name] = value
    return out


async def loop(
    up: Upstream,
    t: StreamTranslator,
    request_id: str,
    events: AsyncIterator[Any] | None = None,
    decoder: Callable[[], StreamDecoder] | None = None,
) -> AsyncIterator[bytes]:
    """Upstream events in (`events`, else the body decoded by `decoder`, else the provider module's `iter_events`),
    client bytes out. Settles in `finally`, even when the client leaves. Built for every stream but started only
    when the stream is not spliced, so what it reads with is made here, not by the caller."""
    error_type = ""
    watched = whole = finished = False
    admission.counts.streams += 1
    first_byte, idle = first_byte_timeout(up.host), idle_timeout(up.host)
    tick = min(KEEPALIVE_SECONDS, first_byte, idle)
    quiet = 0.0  # seconds of upstream silence so far, counted in ticks
    try:
        opening = t.opening()
        if opening:
            yield opening
        try:
            if events is not None:
                upstream = events
            elif decoder is not None:
                upstream = decoded(up.response, decoder())
            else:
                upstream = up.module.iter_events(up.response)
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
            tail, finished = t.finish(), True
        except Stalled as stall:
            tail = stalled(up, t, request_id, stall)
        except (httpx.HTTPError, ValueError) as exc:
            tail = broke(t, request_id, exc)
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
        await close_quietly(up.response, reuse=whole and finished)
        await t.settle(error_type)


def stalled(up: Upstream, t: StreamTranslator, request_id: str, stall: Stalled) -> bytes:
    log.warning("upstream stalled for %.0f s (request %s, host %s)", stall.seconds, request_id, up.host.id)
    return t.fail(f"The upstream provider sent nothing for {stall.seconds:.0f} seconds; the stream was ended.")


def broke(t: StreamTranslator, request_id: str, exc: BaseException) -> bytes:
    log.warning("upstream stream broke (request %s): %s", request_id, type(exc).__name__)
    return t.fail("The upstream connection broke mid-stream.")


class Stalled(Exception):
    """The upstream sent nothing for longer than the host's first-byte or idle timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no upstream event for {seconds:.0f} s")
        self.seconds = seconds


class Sink(Protocol):
    """The client's socket, once the response's head is out (gateway/asgi.py: `ClientSocket`)."""

    def write(self, data: bytes) -> bool:
        """One part of the body, now (nothing once the client is gone); whether the socket is now full."""
        ...

    async def drain(self) -> None:
        """Return once the socket's buffer is back under its high-water mark (or the client is gone)."""
        ...


_FINISHED = object()  # Splice.ending: the upstream's stream ended


class Splice:
    """One stream relayed from aiohttp's read callback straight to the client's socket (see the module docstring).

    The splice stands in for the future aiohttp's body reader wakes when data comes (`_waiter`; aiohttp calls its
    `set_result` / `set_exception`, which are all it asks of one), takes what the reader holds, and puts itself
    back. The stream's end, a stall, a broken upstream and a client to drain wake the request's task through one
    future. `run` has the outcomes of `loop`: the same bytes, errors, keep-alives, metering and settlement.
    """

    __slots__ = (
        "decoder",
        "ending",
        "first_byte",
        "idle",
        "last",
        "loop",
        "make_decoder",
        "out",
        "quiet",
        "reader",
        "request_id",
        "sink",
        "t",
        "tick",
        "timer",
        "up",
        "wake",
        "watched",
    )

    def __init__(
        self, up: Upstream, t: StreamTranslator, request_id: str, make_decoder: Callable[[], StreamDecoder]
    ) -> None:
        self.up, self.t, self.request_id, self.make_decoder = up, t, request_id, make_decoder
        self.first_byte, self.idle = first_byte_timeout(up.host), idle_timeout(up.host)
        self.tick = min(KEEPALIVE_SECONDS, self.first_byte, self.idle)
        self.quiet = 0.0  # seconds of upstream silence so far, counted in ticks
        self.watched = False
        self.ending: object = None  # _FINISHED, a Stalled, or the exception that ended the stream

    async def run(self, sink: Sink) -> bool:
        """Relay the stream to `sink` and settle it; False (and nothing done) when its body is not aiohttp's."""
        reader = aiohttp_reader(self.up.response)
        if type(reader) is not aiohttp.StreamReader or reader._waiter is not None:
            return False
        t, up = self.t, self.up
        loop = self.loop = asyncio.get_running_loop()
        self.reader, self.sink, self.decoder = reader, sink, self.make_decoder()
        self.out: list[bytes] = []  # written at the end of this turn of the event loop
        # The splice watches the upstream's silences itself (the first-byte and idle deadlines, on events): aiohttp's
        # own read timeout, rescheduled on every read, is dropped for this response (set again for the next).
        reader._protocol.read_timeout = None  # type: ignore[attr-defined]
        reader._protocol._drop_timeout()  # type: ignore[attr-defined]
        self.wake: asyncio.Future[None] = loop.create_future()
        self.last = loop.time()
        self.timer = loop.call_at(self.last + self.tick, self._tick)
        error_type = ""
        whole = finished = False
        admission.counts.streams += 1
        try:
            opening = t.opening()
            if opening:
                self._write(opening)
            self.set_result(None)  # what came with the response's head, or its end
            while True:
                await self.wake
                if self.ending is None:  # the client is slow: upstream reading is paused until it drains
                    await sink.drain()
                    if self.ending is None:
                        self.wake = loop.create_future()
                        _resume(reader)
                        continue
                break
            ending = self.ending
            finished = ending is _FINISHED
            if finished:
                tail = t.finish()
            elif isinstance(ending, Stalled):
                tail = stalled(up, t, self.request_id, ending)
            elif isinstance(ending, _Fault):
                raise ending.exc  # ours, not the upstream's: as `loop` would let it out
            else:
                assert isinstance(ending, BaseException)
                tail = broke(t, self.request_id, ending)
            error_type, whole = t.error_type(), True
            self._flush()
            if tail:
                sink.write(tail)
        except asyncio.CancelledError:
            if not whole:
                error_type = "client_disconnected"
            raise
        finally:
            self.out.clear()  # nothing more for the client: whatever is queued now is for a client that left
            if self.ending is None:
                self.ending = _FINISHED  # nothing more is taken from the reader
            self.timer.cancel()
            if reader._waiter is self:
                reader._waiter = None
            admission.counts.streams -= 1
            await close_quietly(up.response, reuse=whole and finished)
            await t.settle(error_type)
        return True

    # aiohttp's reader calls these, as it would its waiter's future.

    def done(self) -> bool:
        return False

    def set_result(self, _: object) -> None:
        """Data came (or the body ended): relay what the reader holds, then wait on it again."""
        if self.ending is not None:
            return
        reader = self.reader
        try:
            if reader._buffer:
                self._relay(_take(reader))
                if self.ending is not None:
                    return
            if reader._exception is not None:
                self._end(reader._exception)
            elif reader._eof:
                self._relay_items(self.decoder.close())
                self._end(_FINISHED)
            else:
                reader._waiter = self  # type: ignore[assignment]
        except ValueError as exc:  # an upstream event that cannot be decoded or translated: the upstream broke
            self._end(exc)
        except Exception as exc:  # ours: `run` raises it
            self._end(_Fault(exc))

    def set_exception(self, exc: BaseException, *_: object) -> None:
        self._end(exc)

    def _relay(self, data: bytes) -> None:
        decoder = self.decoder
        self._relay_items(decoder.feed(data))
        if decoder.ended:
            self._end(_FINISHED)

    def _relay_items(self, items: list[Any]) -> None:
        if not items:
            return
        self.quiet = 0.0
        self.last = self.loop.time()
        t = self.t
        out = t.feed_all(items)
        if out:
            self._write(out)
            if not self.watched and t.delivered:
                self.watched = True
                t.watch()

    def _write(self, data: bytes) -> None:
        """Queue `data` for the client: what several reads of one turn of the event loop relay goes out in one write
        (a fast upstream's events often come a few reads at a time), a lone paced chunk at the end of its turn."""
        out = self.out
        if not out:
            self.loop.call_soon(self._flush)
        out.append(data)

    def _flush(self) -> None:
        out = self.out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self.sink.write(data):
            _pause(self.reader)
            self._wake()

    def _tick(self) -> None:
        """The silence timer: moved on lazily, so it fires at most once per tick, not once per chunk."""
        if self.ending is not None:
            return
        loop = self.loop
        now, due = loop.time(), self.last + self.tick
        if now < due:  # events came since this timer was set: sleep until a tick after the last one
            self.timer = loop.call_at(due, self._tick)
            return
        self.last = now
        self.quiet += self.tick
        t = self.t
        if self.quiet >= (self.idle if t.delivered else self.first_byte):
            self._end(Stalled(self.quiet))
            return
        keepalive = t.keepalive()
        if keepalive:
            self._write(keepalive)
        self.timer = loop.call_at(now + self.tick, self._tick)

    def _end(self, how: object) -> None:
        if self.ending is None:
            self.ending = how
            self._wake()

    def _wake(self) -> None:
        if not self.wake.done():
            self.wake.set_result(None)


def _take(reader: aiohttp.StreamReader) -> bytes:
    """Everything `reader` holds, its accounting left as a read of it all leaves it (without `read_nowait`'s
    resume of the protocol per call: the splice pauses and resumes reading itself)."""
    buffer = reader._buffer
    data = buffer.popleft() if len(buffer) == 1 else b"".join(buffer)
    buffer.clear()
    reader._size = 0
    reader._cursor += len(data)
    splits = reader._http_chunk_splits
    if splits:
        splits.clear()
    return data


def _pause(reader: aiohttp.StreamReader) -> None:
    """Stop reading the upstream's socket. The socket, not aiohttp's protocol: its parser, paused between two of its
    own reads, would hold the rest of the next read back even after it resumed. What the current read still holds
    is relayed: at most one read more."""
    transport = reader._protocol.transport
    if transport is not None:
        transport.pause_reading()


def _resume(reader: aiohttp.StreamReader) -> None:
    transport = reader._protocol.transport
    if transport is not None:
        transport.resume_reading()


@dataclass(frozen=True, slots=True)
class _Fault:
    """An exception of ours (not the upstream's) raised while relaying: `run` raises it."""

    exc: Exception


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


# How long a stream that ended on its end marker (OpenAI's `[DONE]`) waits for the body's own end, so its upstream
# connection goes back to the pool instead of being closed (aiohttp closes a connection whose body was not read to
# its end). Upstreams send it right after the marker; the client already has its whole answer meanwhile.
BODY_END_GRACE = 0.05


async def close_quietly(response: httpx.Response, reuse: bool = False) -> None:
    """Close the upstream response; with `reuse`, after its body's end if it comes within BODY_END_GRACE."""
    try:
        reader = aiohttp_reader(response) if reuse else None
        if reader is not None and not reader.is_eof() and reader.exception() is None and reader._eof_waiter is None:
            async with asyncio.timeout(BODY_END_GRACE):
                await reader.wait_eof()
    except Exception:  # no end in time (or a broken body): the connection is closed, not reused
        pass
    try:
        await asyncio.shield(response.aclose())
    except BaseException:  # closing a broken upstream must never mask the real outcome
        pass
