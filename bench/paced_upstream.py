"""A paced fake OpenAI upstream for the open-streams benchmark: raw asyncio HTTP/1.1, keep-alive.

    POST /paced/<interval_ms>/<chunks>/v1/chat/completions   ->  text/event-stream, chunked

answers every request with a real `chat.completion.chunk` stream: `chunks` content chunks, chunk k
due at t0 + k * interval (t0 = when the request was read; absolute deadlines, so a late wake-up
never delays the chunks after it), then the finish chunk, the usage chunk and `data: [DONE]`
right after the last content chunk. Every content delta is " tok~": the load generator counts
chunks by the `~`, whatever surface qlaud re-encodes them into.

It has to pace 40,000 chunks/s for 2,000 streams on a shared machine, so there is no framework:
pre-encoded chunked frames, one timer per chunk, one `transport.write` per tick, and `--procs`
processes on the same port (SO_REUSEPORT: the kernel spreads the connections).

SIGUSR1 makes each process write how late it sent its chunks since the last SIGUSR1
(`{"late": histogram of sent - due in ms, "sent": n}`) to `<--stats-dir>/late-<pid>.json`.
Run: python -m bench.paced_upstream --port N --procs 2 --stats-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import time
from pathlib import Path
from typing import Any

from bench.streamstats import Histogram, deadline

MARK = " tok~"
CREATED = 1700000000


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    """One OpenAI `chat.completion.chunk` SSE event, as the real API sends it."""
    body: dict[str, Any] = {
        "id": "chatcmpl-paced",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "system_fingerprint": "fp_bench",
        "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def framed(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-transfer frame."""
    return b"%x\r\n%s\r\n" % (len(data), data)


HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
FIRST = framed(chunk({"role": "assistant", "content": MARK}))
NEXT = framed(chunk({"content": MARK}))
_tails: dict[int, bytes] = {}


def tail(chunks: int) -> bytes:
    """Finish chunk, usage chunk, [DONE] and the terminating zero frame, in one write."""
    if chunks not in _tails:
        usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
        events = chunk({}, "stop") + chunk({}, usage=usage) + b"data: [DONE]\n\n"
        _tails[chunks] = framed(events) + b"0\r\n\r\n"
    return _tails[chunks]


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
LATE = Histogram()
SENT = [0]


class Connection(asyncio.Protocol):
    """One client connection: parse a request, stream its answer, then the next (keep-alive)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.transport is None:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return  # the body is still coming
        del self.buffer[: end + 4 + length]
        method, path, _ = head[0].split(" ", 2)
        parts = path.strip("/").split("/")
        if method != "POST" or len(parts) < 3 or parts[0] != "paced":
            self.transport.write(NOT_FOUND)
            self.next_request()
            return
        self.busy = True
        self.transport.write(HEAD)
        interval, chunks = int(parts[1]) / 1000, int(parts[2])
        t0 = time.perf_counter()
        self.send(t0, interval, chunks, 0)

    def send(self, t0: float, interval: float, chunks: int, k: int) -> None:
        if self.transport is None:
            return
        now = time.perf_counter()
        due = deadline(t0, interval, k)
        if now < due - 0.0005:  # the loop's cached clock woke us early: wait for the rest
            self.loop.call_later(due - now, self.send, t0, interval, chunks, k)
            return
        LATE.add((now - due) * 1000)
        SENT[0] += 1
        last = k == chunks - 1
        self.transport.write((FIRST if k == 0 else NEXT) + (tail(chunks) if last else b""))
        if not last:
            self.loop.call_later(deadline(t0, interval, k + 1) - now, self.send, t0, interval, chunks, k + 1)
            return
        self.busy = False
        self.next_request()


def dump_stats(directory: Path) -> None:
    """This process's lateness since the last dump, to `directory`/late-<pid>.json; then reset."""
    body = json.dumps({"late": LATE.to_json(), "sent": SENT[0]})
    LATE.counts.clear()
    LATE.n = 0
    SENT[0] = 0
    tmp = directory / f".late-{os.getpid()}.json"
    tmp.write_text(body)
    tmp.rename(directory / f"late-{os.getpid()}.json")


async def serve(port: int, stats_dir: Path, children: list[int]) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    server = await loop.create_server(Connection, sock=sock, backlog=4096)
    stopped = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, dump_stats, stats_dir)
    loop.add_signal_handler(signal.SIGTERM, lambda: stopped.done() or stopped.set_result(None))
    async with server:
        await stopped
    for pid in children:
        os.kill(pid, signal.SIGTERM)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(port: int, procs: int, stats_dir: Path) -> None:
    raise_fd_limit()
    children = []
    for _ in range(procs - 1):  # before any event loop exists
        pid = os.fork()
        if pid == 0:
            start(port, stats_dir, [])
            os._exit(0)
        children.append(pid)
    start(port, stats_dir, children)


def start(port: int, stats_dir: Path, children: list[int]) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(port, stats_dir, children))
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--stats-dir", type=Path, default=Path("/tmp"))
    arguments = parser.parse_args()
    main(arguments.port, arguments.procs, arguments.stats_dir)
