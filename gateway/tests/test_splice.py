"""The spliced stream relay (gateway/surfaces/streaming.py, `Splice`) against a real aiohttp upstream connection:
the same bytes as the stream loop, split anywhere, a slow client pausing the upstream, breaks and stalls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gateway import outbound
from gateway.providers import openai_compat
from gateway.providers.common import decoded
from gateway.surfaces import streaming


@pytest.fixture(autouse=True)
async def pool() -> AsyncIterator[None]:
    yield
    await outbound.aclose()


def sse(*datas: str) -> bytes:
    return b"".join(f"data: {d}\n\n".encode() for d in datas)


CHUNKS = [json.dumps({"choices": [{"delta": {"content": f"tok{i} é"}}]}) for i in range(12)]
BODY = sse(*CHUNKS, "[DONE]") + b"data: after-the-end\n\n"


def http_chunks(body: bytes, sizes: Iterator[int]) -> list[bytes]:
    """`body` as HTTP/1.1 chunks of the given sizes, each its own socket write."""
    out, i = [], 0
    while i < len(body):
        piece = body[i : i + next(sizes)]
        out.append(b"%x\r\n%b\r\n" % (len(piece), piece))
        i += len(piece)
    return out


class Upstream:
    """A raw HTTP/1.1 upstream: answers every request with `writes` (already framed), `gap` seconds apart, then the
    last chunk, or drops the connection (`end=False`) or goes silent (`silent=True`)."""

    def __init__(self, writes: list[bytes], gap: float = 0.0, end: bool = True, silent: bool = False) -> None:
        self.writes, self.gap, self.end, self.silent = writes, gap, end, silent
        self.sent = 0  # writes sent so far

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1/chat/completions"

    async def __aexit__(self, *_: object) -> None:
        self.server.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"connection: close\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        try:
            for piece in self.writes:
                writer.write(piece)
                await writer.drain()
                self.sent += 1
                await asyncio.sleep(self.gap)
            if self.silent:
                await asyncio.sleep(30)
            if self.end:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.5)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class Translator:
    """Echoes each chunk's JSON text on its own line; `[END]` on finish, the message on failure."""

    def __init__(self) -> None:
        self.delivered = False
        self.settled: list[str] = []
        self.watched = 0

    def opening(self) -> bytes:
        return b"<open>\n"

    def feed_all(self, batch: list[Any]) -> bytes:
        self.delivered = True
        return b"".join(data.encode() + b"\n" for _, data in batch)

    def keepalive(self) -> bytes:
        return b": ka\n"

    def watch(self) -> None:
        self.watched += 1

    def finish(self) -> bytes:
        return b"[END]\n"

    def fail(self, message: str) -> bytes:
        return f"[FAIL] {message}\n".encode()

    def error_type(self) -> str:
        return ""

    async def settle(self, error_type: str) -> None:
        self.settled.append(error_type)


class Sink:
    """The client's socket: collects writes; while `hold` is pending it reports itself paused."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.hold: asyncio.Future[None] | None = None

    def write(self, data: bytes) -> bool:
        self.parts.append(data)
        return self.hold is not None and not self.hold.done()

    async def drain(self) -> None:
        if self.hold is not None:
            await self.hold


def upstream_of(response: httpx.Response, first_byte: float = 5.0, idle: float = 5.0) -> Any:
    host = SimpleNamespace(id=1, first_byte_timeout=first_byte, idle_timeout=idle)
    return SimpleNamespace(host=host, response=response, module=openai_compat)


async def spliced(url: str, **timeouts: float) -> tuple[bytes, Translator]:
    t, sink = Translator(), Sink()
    response = await outbound.send("POST", url, {}, b"{}")
    assert await streaming.Splice(upstream_of(response, **timeouts), t, "req_1", openai_compat.text_decoder).run(sink)
    return b"".join(sink.parts), t


async def looped(url: str) -> bytes:
    response = await outbound.send("POST", url, {}, b"{}")
    parts: AsyncIterator[bytes] = streaming.loop(
        upstream_of(response), Translator(), "req_1", decoded(response, openai_compat.text_decoder())
    )
    return b"".join([part async for part in parts])


EXPECTED = b"<open>\n" + b"".join(c.encode() + b"\n" for c in CHUNKS) + b"[END]\n"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 10_000])
async def test_a_spliced_stream_relays_every_event_in_order_whatever_the_http_chunking_and_stops_at_done(size):
    async with Upstream(http_chunks(BODY, iter(lambda: size, None))) as url:
        got, t = await spliced(url)
    assert got == EXPECTED
    assert t.settled == [""] and t.watched == 1


async def test_the_splice_and_the_stream_loop_give_the_client_the_same_bytes_over_uneven_chunks():
    sizes = [1, 5, 2, 90, 3, 400, 11] * 40
    async with Upstream(http_chunks(BODY, iter(sizes))) as url:
        via_splice, _ = await spliced(url)
        via_loop = await looped(url)
    assert via_splice == via_loop == EXPECTED


async def test_a_slow_client_pauses_reading_the_upstream_until_its_socket_drains():
    writes = http_chunks(BODY, iter(lambda: 64, None))
    upstream = Upstream(writes, gap=0.005)
    t, sink = Translator(), Sink()
    sink.hold = asyncio.get_running_loop().create_future()
    async with upstream as url:
        response = await outbound.send("POST", url, {}, b"{}")
        run = asyncio.ensure_future(
            streaming.Splice(upstream_of(response), t, "req_1", openai_compat.text_decoder).run(sink)
        )
        await asyncio.sleep(0.3)  # the upstream would have sent everything by now
        transport = response.stream._aiohttp_response.content._protocol.transport  # type: ignore[attr-defined]
        assert not transport.is_reading()
        written = len(sink.parts)
        assert written <= 3  # the opening and what came with it: nothing more is read while the client is full
        sink.hold.set_result(None)
        assert await asyncio.wait_for(run, 5)
    assert b"".join(sink.parts) == EXPECTED


async def test_an_upstream_that_drops_the_connection_mid_stream_ends_with_the_surface_error_and_settles():
    half = http_chunks(sse(*CHUNKS[:3]), iter(lambda: 40, None))
    async with Upstream(half, end=False) as url:
        got, t = await spliced(url)
    assert got.startswith(b"<open>\n" + CHUNKS[0].encode())
    assert got.endswith(b"[FAIL] The upstream connection broke mid-stream.\n")
    assert t.settled == [""]


async def test_a_silent_upstream_is_ended_as_stalled_with_keepalives_while_it_may_still_speak():
    first = http_chunks(sse(CHUNKS[0]), iter(lambda: 1000, None))
    async with Upstream(first, silent=True) as url:
        got, t = await spliced(url, first_byte=0.2, idle=0.5)
    assert got.startswith(b"<open>\n" + CHUNKS[0].encode() + b"\n: ka\n")
    assert got.endswith(b"[FAIL] The upstream provider sent nothing for 1 seconds; the stream was ended.\n")
    assert t.settled == [""]


async def test_a_client_that_leaves_mid_splice_settles_as_a_disconnect_and_closes_the_upstream():
    writes = http_chunks(BODY, iter(lambda: 30, None))
    upstream = Upstream(writes, gap=0.05)
    t, sink = Translator(), Sink()
    async with upstream as url:
        response = await outbound.send("POST", url, {}, b"{}")
        run = asyncio.ensure_future(
            streaming.Splice(upstream_of(response), t, "req_1", openai_compat.text_decoder).run(sink)
        )
        await asyncio.sleep(0.2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        sent = upstream.sent
        await asyncio.sleep(0.3)
        assert upstream.sent <= sent + 1  # the upstream connection was closed: it stops being read
    assert t.settled == ["client_disconnected"]
    assert response.is_closed


async def test_a_stream_that_ended_on_done_hands_its_upstream_connection_back_for_the_next_stream():
    """OpenAI-compatible hosts send the body's last chunk a moment after `[DONE]`: waiting for it keeps the
    connection (aiohttp closes one whose body was not read to its end)."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"".join(http_chunks(sse(*CHUNKS, "[DONE]"), iter(lambda: 4096, None))))
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
    try:
        for _ in range(3):
            got, _t = await spliced(url)
            assert got == EXPECTED
        assert await looped(url) == EXPECTED
    finally:
        server.close()
    assert connections == 1


async def test_a_body_that_is_not_aiohttps_is_left_to_the_stream_loop():
    response = httpx.Response(200, content=BODY)
    t, sink = Translator(), Sink()
    assert not await streaming.Splice(upstream_of(response), t, "req_1", openai_compat.text_decoder).run(sink)
    assert sink.parts == [] and t.settled == []


async def test_a_fault_of_ours_while_relaying_settles_the_stream_then_is_raised_as_the_loop_would():
    class Broken(Translator):
        def feed_all(self, batch: list[Any]) -> bytes:
            raise RuntimeError("a bug in a translator")

    t, sink = Broken(), Sink()
    async with Upstream(http_chunks(BODY, iter(lambda: 100, None))) as url:
        response = await outbound.send("POST", url, {}, b"{}")
        with pytest.raises(RuntimeError, match="a bug in a translator"):
            await streaming.Splice(upstream_of(response), t, "req_1", openai_compat.text_decoder).run(sink)
    assert t.settled == [""]
    assert response.is_closed
