"""The pure arithmetic of the open-streams benchmark (`python -m bench.run --streams`).

No I/O and no third-party imports here, so the fake upstream, the load generator and the report
can all share it and bench/test_streams.py can test it on its own:

- pacing: the fake upstream sends chunk k at t0 + k * interval (absolute deadlines: a late chunk
  does not push the next ones later, so sleep overshoot never accumulates);
- ramp: closed-loop workers start spread evenly, so streams finish evenly rather than in waves;
- histograms: millisecond values binned at 0.1 ms, mergeable across processes, with
  nearest-rank percentiles (the same rank rule as bench/loadgen.py);
- the per-chunk delay qlaud adds: the gap between consecutive chunks at the client minus the
  upstream's own pacing (0 = relayed on time; a burst of k chunks in one read gives one late gap
  and k - 1 gaps of -interval);
- per-chunk CPU, RSS per open stream, errors by kind, and the report table.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

BIN_MS = 0.1  # histogram resolution


# --- pacing -----------------------------------------------------------------------------------


def deadline(t0: float, interval: float, k: int) -> float:
    """When chunk k (0-based) is due: an absolute time, independent of when earlier chunks went."""
    return t0 + k * interval


def delay_until(now: float, t0: float, interval: float, k: int) -> float:
    """Seconds to wait before sending chunk k (0 if it is already due: catch up, never drift)."""
    return max(0.0, deadline(t0, interval, k) - now)


def ramp_offsets(total_workers: int, ramp: float, index: int = 0, procs: int = 1) -> list[float]:
    """Start offsets of the workers of load process `index` out of `procs`.

    Global worker i starts at i * ramp / total_workers; process `index` owns workers
    index, index + procs, index + 2 * procs, ... so every process ramps across the whole window."""
    step = ramp / total_workers if total_workers else 0.0
    return [i * step for i in range(index, total_workers, procs)]


def split(total: int, procs: int) -> list[int]:
    """`total` workers over `procs` processes, as evenly as possible (the first ones get the remainder)."""
    base, extra = divmod(total, procs)
    return [base + (1 if i < extra else 0) for i in range(procs)]


def ideal_streams_per_s(concurrency: int, chunks: int, interval: float) -> float:
    """A closed loop of `concurrency` streams, each chunks * interval long, with zero overhead.

    The first chunk goes at t0, the last at t0 + (chunks - 1) * interval."""
    duration = max(chunks - 1, 1) * interval
    return concurrency / duration


# --- histograms and percentiles ---------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest rank on the sorted values (0.0 for none), as bench/loadgen.py computes it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Histogram:
    """Counts of millisecond values in 0.1 ms bins (sparse: {bin: count}); merge and percentile."""

    __slots__ = ("counts", "n")

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})
        self.n = sum(self.counts.values())

    def add(self, ms: float, times: int = 1) -> None:
        key = math.floor(ms / BIN_MS + 0.5)
        self.counts[key] = self.counts.get(key, 0) + times
        self.n += times

    def merge(self, other: Histogram) -> Histogram:
        for key, count in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        self.n += other.n
        return self

    def percentile(self, q: float) -> float:
        """The value of nearest rank round(q * (n - 1)) in sorted order, to the bin (0.0 if empty)."""
        if not self.n:
            return 0.0
        rank = min(self.n - 1, max(0, round(q * (self.n - 1))))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen > rank:
                return key * BIN_MS
        raise AssertionError("unreachable")

    def max(self) -> float:
        return max(self.counts) * BIN_MS if self.counts else 0.0

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Histogram:
        return cls({int(k): v for k, v in data.items()})


def gaps_minus_pacing(arrivals: list[float], interval: float) -> list[float]:
    """Per consecutive pair of chunk arrivals (seconds): the gap minus the pacing, in ms."""
    return [(b - a - interval) * 1000 for a, b in itertools.pairwise(arrivals)]


# --- costs ------------------------------------------------------------------------------------


def per_chunk_cpu_us(cpu_seconds: float, chunks: int) -> float:
    """CPU microseconds per chunk relayed (0 if no chunk was)."""
    return 1e6 * cpu_seconds / chunks if chunks else 0.0


def rss_per_stream_kb(rss_open_mb: float, rss_idle_mb: float, open_streams: float) -> float:
    """(RSS with N streams open - idle RSS) / N, in KB."""
    return 1024 * (rss_open_mb - rss_idle_mb) / open_streams if open_streams else 0.0


def rss_step_kb(rss_half_mb: float, open_half: float, rss_full_mb: float, open_full: float) -> float:
    """What each stream added from one steady state of the same worker to a fuller one, in KB: (RSS with
    N open - RSS with about N/2 open) / (N - N/2). Growth paid once (pools, caches, the heap's high-water
    mark of earlier cells) is in both and cancels."""
    added = open_full - open_half
    return 1024 * (rss_full_mb - rss_half_mb) / added if added > 0 else 0.0


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float:
    """Share of one core used over a wall-clock window, in %."""
    return 100 * cpu_seconds / wall_seconds if wall_seconds > 0 else 0.0


# --- errors -----------------------------------------------------------------------------------


def error_kind(exc: BaseException | None = None, status: int | None = None) -> str:
    """A short, countable name for what went wrong with one stream."""
    if status is not None and status != 200:
        return f"http_{status}"
    if exc is None:
        return "truncated"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    return type(exc).__name__


def merge_errors(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return dict(sorted(total.items()))


def format_errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items())) or "0"


# --- the report -------------------------------------------------------------------------------

COLUMNS = (
    "| chunks | c | target | streams/s | vs direct | chunks/s | CPU µs/chunk | +PG µs/chunk | TTFT p50 ms "
    "| TTFT p99 ms | no 1st chunk | gap p50 ms | gap p99 ms | gap p99.9 ms | gap max ms | RSS KB/stream "
    "| RSS KB/stream, step | qlaud CPU % | fake CPU % | loadgen CPU % (max proc) | errors |"
)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: list[dict[str, Any]]) -> str:
    """One line per cell; `vs direct` compares with the direct row of the same chunks and c."""
    direct = {(r["chunks"], r["c"]): r for r in rows if r["target"] == "direct"}
    lines = [COLUMNS, "|" + "---|" * (COLUMNS.count("|") - 1)]
    for r in rows:
        base = direct.get((r["chunks"], r["c"]))
        ratio = r["streams_s"] / base["streams_s"] if base and base["streams_s"] and r["streams_s"] else None
        is_direct = r["target"] == "direct"
        lines.append(
            f"| {r['chunks']} | {r['c']} | {r['target']} | {_num(r['streams_s'] or None, '.1f')} "
            f"| {_num(ratio, '.2f')} | {r['chunks_s']:.0f} "
            f"| {_num(None if is_direct else r['cpu_us_per_chunk'], '.1f')} "
            f"| {_num(None if is_direct else r.get('pg_us_per_chunk'), '.1f')} "
            f"| {r['ttft_p50_ms']:.1f} | {r['ttft_p99_ms']:.1f} | {r.get('no_first_chunk', 0)} "
            f"| {r['gap_p50_ms']:.1f} | {r['gap_p99_ms']:.1f} | {r['gap_p999_ms']:.1f} | {r['gap_max_ms']:.1f} "
            f"| {_num(None if is_direct else r['rss_kb_per_stream'], '.0f')} "
            f"| {_num(r.get('rss_step_kb_per_stream'), '.0f')} "
            f"| {_num(None if is_direct else r['server_cpu_pct'], '.0f')} | {r['fake_cpu_pct']:.0f} "
            f"| {r['loadgen_cpu_pct_max']:.0f} | {format_errors(r['errors'])} |"
        )
    return "\n".join(lines)


def retry_after(head: bytes) -> float:
    """The Retry-After of a response head in seconds (0 when absent or not a number)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"retry-after":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 0.0


def gc_summary(times: list[list[float]], start: float, end: float) -> dict[str, float]:
    """The worker's collections (bench.memprobe.gc_times: generation, wall-clock start, ms) that began in [start,
    end): per generation the count and the longest pause, and the share of the window the collector stood still."""
    inside = [(int(g), ms) for g, at, ms in times if start <= at < end]
    out: dict[str, float] = {"gc_pct": 100 * sum(ms for _, ms in inside) / 1000 / (end - start) if end > start else 0}
    for gen in (0, 1, 2):
        pauses = [ms for g, ms in inside if g == gen]
        out[f"gc{gen}_n"] = len(pauses)
        out[f"gc{gen}_max_ms"] = max(pauses, default=0.0)
    return out
