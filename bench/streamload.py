"""Closed-loop load of long, paced SSE streams: one process's share of the open-streams benchmark.

bench.run --streams starts several of these (the load is split so none of them saturates a core);
each owns `--workers` closed-loop workers: open a connection, POST, read the stream to its end,
again, until the window closes. Raw asyncio protocols over uvloop (no HTTP client library: the
per-chunk path is one `perf_counter()` and one `bytes.count` per socket read), `Connection: close`
so a stream is one connection.

Timeline (absolute, shared by all processes): workers start spread over `--ramp` seconds from
`--start-at` (epoch seconds); the measured window is [start-at + warmup, + duration]; at its end
the streams still open are dropped (not counted as errors). Chunks are counted by the `~` each
content delta of bench.paced_upstream carries, whatever surface re-encodes them.

Measured in the window: streams completed (all chunks and the terminating frame), chunks received,
TTFT (request sent -> first content chunk, every stream of the cell, ramp included; a stream
still without a chunk when the window closes counts with its wait so far, a lower bound), the gap
between consecutive chunks minus the pacing (bench.streamstats), errors by kind, the number of
open streams (sampled every 0.25 s). Prints one JSON line at the end.

    python -m bench.streamload --port N --path /v1/chat/completions --body-file F --workers 500 \
        --total-workers 1000 --index 0 --procs 2 --start-at T --ramp 5 --warmup 6 --duration 15 \
        --interval-ms 50 --chunks 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from bench.streamstats import Histogram, error_kind, ramp_offsets, retry_after

TERMINATOR = b"0\r\n\r\n"


class Shared:
    """This process's tallies. Times are perf_counter seconds."""

    def __init__(self, window_start: float, window_end: float, interval: float, chunks: int) -> None:
        self.window_start, self.window_end = window_start, window_end
        self.interval, self.chunks = interval, chunks
        self.ttft = Histogram()
        self.gaps = Histogram()
        self.completed = 0
        self.received = 0  # chunks in the window
        self.errors: dict[str, int] = {}
        self.open = 0
        self.open_samples: list[int] = []
        self.plateau = (0.0, 0.0)  # an earlier span whose open streams are reported apart (--plateau)
        self.plateau_samples: list[int] = []
        self.started = 0
        self.no_first_chunk = 0  # streams still waiting for their first chunk when the window closed

    def in_window(self, t: float) -> bool:
        return self.window_start <= t < self.window_end

    def error(self, kind: str, t: float) -> None:
        if self.in_window(t):
            self.errors[kind] = self.errors.get(kind, 0) + 1


class Stream(asyncio.Protocol):
    def __init__(self, request: bytes, shared: Shared, done: asyncio.Future) -> None:
        self.request, self.shared, self.done = request, shared, done
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.status: int | None = None
        self.retry_after = 0.0  # a refusal's Retry-After, seconds
        self.sent = 0.0
        self.last: float | None = None
        self.units = 0
        self.tail = b""
        self.finished = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sent = time.perf_counter()
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head[9:12])
            self.retry_after = retry_after(bytes(self.head[:end]))
            data = bytes(self.head[end + 4 :])
            self.head.clear()
        n = data.count(b"~")
        if n:
            s = self.shared
            measuring = s.in_window(now)
            if self.last is None:
                s.ttft.add((now - self.sent) * 1000)
            elif measuring:
                s.gaps.add((now - self.last - s.interval) * 1000)
            if measuring:
                if n > 1:  # a burst: the chunks after the first came 0 s after it
                    s.gaps.add(-s.interval * 1000, n - 1)
                s.received += n
            self.last = now
            self.units += n
        self.tail = (self.tail + data)[-8:]
        if self.tail.endswith(TERMINATOR):
            self.finish(now)

    def finish(self, now: float, exc: BaseException | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        s = self.shared
        if self.status == 200 and self.units == s.chunks and self.tail.endswith(TERMINATOR):
            if s.in_window(now):
                s.completed += 1
        elif now < s.window_end:  # an aborted stream at the window's end is not an error
            s.error(error_kind(exc, self.status), now)
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(time.perf_counter(), exc)


async def one(args: argparse.Namespace, request: bytes, shared: Shared) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    shared.open += 1
    try:
        try:
            transport, proto = await asyncio.wait_for(
                loop.create_connection(lambda: Stream(request, shared, done), "127.0.0.1", args.port), 10
            )
        except (OSError, TimeoutError) as exc:
            shared.error(error_kind(exc), time.perf_counter())
            await asyncio.sleep(0.05)  # no hot loop on a refusing server
            return
        budget = shared.window_end - time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.shield(done), max(0.0, min(budget, args.timeout)))
        except TimeoutError:
            if args.timeout < budget:  # the stream's own time ran out, not the window
                proto.finish(time.perf_counter(), TimeoutError())
            elif proto.last is None and proto.sent and proto.sent < shared.window_end:
                # Still no chunk when the window closes: count its wait so far (TTFT is at least that).
                shared.ttft.add((shared.window_end - proto.sent) * 1000)
                shared.no_first_chunk += 1
            proto.finished = True  # dropped at the window's end: not an error
            transport.abort()
    finally:
        shared.open -= 1
    if proto.retry_after:  # refused: wait as the SDKs do (they honour Retry-After), then open the next stream
        await asyncio.sleep(min(proto.retry_after, max(0.0, shared.window_end - time.perf_counter())))


async def worker(args: argparse.Namespace, request: bytes, shared: Shared, start: float) -> None:
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    while time.perf_counter() < shared.window_end:
        shared.started += 1
        await one(args, request, shared)


async def sample_open(shared: Shared) -> None:
    while (now := time.perf_counter()) < shared.window_end:
        if now >= shared.window_start:
            shared.open_samples.append(shared.open)
        elif shared.plateau[0] <= now < shared.plateau[1]:
            shared.plateau_samples.append(shared.open)
        await asyncio.sleep(0.25)


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def build_request(args: argparse.Namespace, body: bytes) -> bytes:
    headers = [f"POST {args.path} HTTP/1.1", f"host: 127.0.0.1:{args.port}", "content-type: application/json"]
    headers += [h.strip() for h in args.header]
    headers += [f"content-length: {len(body)}", "connection: close"]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def main(args: argparse.Namespace, body: bytes) -> dict:
    # Wall clock -> perf_counter: the processes share --start-at in epoch seconds.
    base = time.perf_counter() + (args.start_at - time.time())
    shared = Shared(base + args.warmup, base + args.warmup + args.duration, args.interval_ms / 1000, args.chunks)
    if args.plateau:
        start, end = (float(x) for x in args.plateau.split(","))
        shared.plateau = (base + start - args.start_at, base + end - args.start_at)
    request = build_request(args, body)
    offsets = ramp_offsets(args.total_workers, args.ramp, args.index, args.procs)
    cpu0 = time.process_time()
    tasks = [asyncio.create_task(worker(args, request, shared, base + offset)) for offset in offsets]
    sampler = asyncio.create_task(sample_open(shared))
    await asyncio.sleep(max(0.0, shared.window_start - time.perf_counter()))
    cpu_window0 = time.process_time()
    await asyncio.gather(*tasks, sampler)
    cpu_window = time.process_time() - cpu_window0
    return {
        "index": args.index,
        "workers": len(offsets),
        "completed": shared.completed,
        "chunks": shared.received,
        "errors": shared.errors,
        "ttft": shared.ttft.to_json(),
        "gaps": shared.gaps.to_json(),
        "no_first_chunk": shared.no_first_chunk,
        "open_mean": mean(shared.open_samples),
        "open_mean_plateau": mean(shared.plateau_samples),
        "cpu_window_s": cpu_window,
        "cpu_total_s": time.process_time() - cpu0,
        "window_s": args.duration,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    parser.add_argument("--workers", type=int, required=True, help="unused: offsets come from the split")
    parser.add_argument("--total-workers", type=int, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--start-at", type=float, required=True, help="epoch seconds")
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=120.0, help="per stream")
    parser.add_argument("--out", required=True, help="where to write the result (JSON)")
    parser.add_argument("--plateau", default="", help="'start,end' epoch seconds before the window: open_mean_plateau")
    return parser.parse_args(argv)


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    arguments = parse(sys.argv[1:])
    with open(arguments.body_file, "rb") as handle:
        payload = handle.read()
    Path(arguments.out).write_text(json.dumps(asyncio.run(main(arguments, payload))))
