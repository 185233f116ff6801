"""Closed-loop load generator: `concurrency` workers, each sending its next request when the last ends.

Runs in its own process (so it never shares a GIL with a server) and talks to 127.0.0.1 only.
Protocol with bench.run on stdout: a line `MEASURE_START` when warm-up ends, `MEASURE_END` when the
measured window closes, then one JSON line of results. Latency is request sent -> last body byte;
TTFT is request sent -> first body byte (for SSE: the first event).

    python -m bench.loadgen --url URL --body-file F --concurrency 16 --duration 6 --warmup 1.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp


@dataclass
class Window:
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


async def one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], window: Window) -> None:
    started = time.perf_counter()
    first = None
    try:
        async with session.post(url, data=body, headers=headers) as response:
            async for _chunk in response.content.iter_any():
                if first is None:
                    first = time.perf_counter()
            ok = response.status == 200
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        ok, status = False, repr(exc)
    ended = time.perf_counter()
    if not window.measuring:
        return
    if not ok:
        window.errors += 1
        if len(window.error_samples) < 3:
            window.error_samples.append(str(status))
        return
    window.latencies.append((ended - started) * 1000)
    window.ttfts.append(((first or ended) - started) * 1000)


async def worker(
    session: aiohttp.ClientSession, args: argparse.Namespace, body: bytes, window: Window, stop: float
) -> None:
    headers = {"content-type": "application/json", **dict(h.split(":", 1) for h in args.header)}
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    sent = 0
    while time.perf_counter() < stop and sent < args.max_requests:
        await one(session, args.url, body, headers, window)
        sent += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def main(args: argparse.Namespace, body: bytes) -> dict:
    assert urlsplit(args.url).hostname == "127.0.0.1", "the benchmark only talks to 127.0.0.1"
    window = Window()
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        begin = time.perf_counter()
        stop = begin + args.warmup + args.duration
        tasks = [asyncio.create_task(worker(session, args, body, window, stop)) for _ in range(args.concurrency)]
        await asyncio.sleep(args.warmup)
        window.measuring = True
        print("MEASURE_START", flush=True)
        measured_from = time.perf_counter()
        await asyncio.gather(*tasks)
        # The window closes when the last in-flight request of the measured period completes.
        elapsed = time.perf_counter() - measured_from
        print("MEASURE_END", flush=True)
    done = len(window.latencies)
    return {
        "requests": done,
        "errors": window.errors,
        "error_samples": window.error_samples,
        "seconds": elapsed,
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(window.latencies, 0.50),
        "p99_ms": percentile(window.latencies, 0.99),
        "ttft_p50_ms": percentile(window.ttfts, 0.50),
        "ttft_p99_ms": percentile(window.ttfts, 0.99),
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="per worker")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    arguments = parse(sys.argv[1:])
    with open(arguments.body_file, "rb") as handle:
        payload = handle.read()
    print(json.dumps(asyncio.run(main(arguments, payload))), flush=True)
