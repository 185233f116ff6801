"""The open-streams mode of the benchmark: `python -m bench.run --streams` (`make bench-streams`).

Many long SSE streams open at once, paced by the upstream like a real model (a chunk every
50 ms), closed loop at each concurrency, through qlaud (one uvicorn worker, the production
command, PostgreSQL + Redis) and, as the baseline, straight against the fake upstream:

    direct          load generator -> bench.paced_upstream (Chat format): the floor
    qlaud-messages  POST /v1/messages, translated to a Chat Completions upstream and back
    qlaud-chat      POST /v1/chat/completions, passed through to the Chat Completions upstream

and, with --floors, through two relays that do nothing but relay (what any Python gateway pays here):

    tcp-relay       bench.tcp_relay: bytes both ways on uvloop, no HTTP
    minimal         bench.minimal_proxy: an HTTP pass-through on qlaud's stack (uvicorn, httpx over aiohttp)

Per cell: streams/s completed (and vs direct), chunks/s, qlaud's CPU per chunk relayed (from
/proc, the server's process tree, over the measured window) and PostgreSQL's beside it, TTFT
and inter-chunk delay percentiles (gap between consecutive chunks at the client minus the
pacing), RSS per open stream ((RSS in the window - idle RSS after the warm-up) / open streams; with
--stream-step also (RSS with c open - RSS with ~c/2 open) / the streams added), errors by kind,
and the CPU of the fake and of each load-generator process (each must stay well under a core for
the numbers to be qlaud's). --stream-memory: what qlaud holds, by allocator (bench/memprobe.py). --stream-gc:
how often the worker's cyclic GC ran in the window, by generation, its longest pauses and its share of the time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import calibrate, memprobe, procstat
from bench.profile import summarise
from bench.servers import (
    PG_DB,
    PYTHON,
    RESULTS,
    ROOT,
    Server,
    base_env,
    minimal_server,
    postgres_ready,
    qlaud_env,
    qlaud_server,
    tcp_relay_server,
)
from bench.streamstats import (
    Histogram,
    cpu_percent,
    gc_summary,
    merge_errors,
    per_chunk_cpu_us,
    rss_per_stream_kb,
    rss_step_kb,
    split,
    table,
)

PROMPT = [{"role": "user", "content": "Tell me a long story."}]
SURFACES = {
    "messages": ("/v1/messages", {"max_tokens": 4096, "stream": True}),
    "chat": ("/v1/chat/completions", {"max_tokens": 4096, "stream": True, "stream_options": {"include_usage": True}}),
}


SMOKE_CHUNKS = 5
PROBE_DIR = RESULTS / "memprobe"


def smoke(server: Any, surface: str, interval_ms: int) -> str:
    """One short stream per surface before the cells: a misconfiguration fails loudly, and qlaud's
    one-off allocations (imports, caches, connections) are in the idle RSS the cells start from."""
    path, extra = SURFACES[surface]
    body = {"model": f"bench-paced-{interval_ms}-{SMOKE_CHUNKS}", "messages": PROMPT, **extra}
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    for header in server.headers:
        name, value = header.split(":", 1)
        request.add_header(name.strip(), value.strip())
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    if response.status != 200 or text.count(b"~") != SMOKE_CHUNKS:
        raise RuntimeError(f"smoke {surface}: {response.status} {text[:300]!r}")
    return f"{response.status}, {SMOKE_CHUNKS} chunks"


def warm(server: Any, surface: str, interval_ms: int, count: int, concurrency: int = 40) -> str:
    """`count` short streams, 40 at a time, before the cells: a worker in service is past its first 1,000
    requests, where it freezes its heap (gateway/asgi.py, `freeze_heap`). That is a one-off, and the streams
    open at that moment stay in the frozen heap (their cyclic garbage is never collected): left to the cells,
    it came in the RSS of the cell that made the 1,000th request (~20 KB per stream then open)."""
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: smoke(server, surface, interval_ms), range(count)))
    return f"{count} streams in {time.monotonic() - started:.1f} s"


def paced_server(procs: int) -> Any:

    stats = RESULTS / "paced-stats"
    stats.mkdir(parents=True, exist_ok=True)
    cmd = [PYTHON, "-m", "bench.paced_upstream", "--port", "{port}", "--procs", str(procs), "--stats-dir", str(stats)]
    return Server("paced-upstream", cmd, base_env())


def seed(db: str, paced_url: str, interval_ms: int, chunks: list[int]) -> str:

    paced = ",".join(f"{interval_ms}:{n}" for n in [SMOKE_CHUNKS, *chunks])
    cmd = [PYTHON, "-m", "bench.seed", "--upstream", paced_url, "--paced-upstream", paced_url, "--paced", paced]
    out = subprocess.run(cmd, env=qlaud_env(db, "aiohttp"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"bench.seed failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["key"]


def fake_stats(fake: Any) -> Histogram:
    """How late each fake process sent its chunks since the last call (SIGUSR1: each writes a file)."""

    stats = RESULTS / "paced-stats"
    pids = procstat.tree(fake.proc.pid)
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    late = Histogram()
    deadline = time.monotonic() + 5
    for pid in pids:
        path = stats / f"late-{pid}.json"
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if path.exists():
            late.merge(Histogram.from_json(json.loads(path.read_text())["late"]))
            path.unlink()
    return late


def settle(pid: int, limit: float = 20.0) -> None:
    """Wait until the server is idle (under 5% of a core for half a second) after the previous cell."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = procstat.tree_cpu_seconds(pid)
        time.sleep(0.5)
        if procstat.tree_cpu_seconds(pid) - before < 0.025:
            return


def cell(
    target: str,
    port: int,
    path: str,
    body: dict[str, Any],
    headers: list[str],
    c: int,
    chunks: int,
    args: argparse.Namespace,
    server_pid: int | None,
    fake: Any,
    pg: bool,
    rss_base: float = 0.0,
) -> dict[str, Any]:

    fake_stats(fake)  # reset its lateness histograms
    procs = args.loadgen_procs or max(2, math.ceil(c / args.streams_per_proc))
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
        handle.write(json.dumps(body).encode())
    if server_pid:
        settle(server_pid)
    rss_idle = procstat.rss_mb(server_pid) if server_pid else 0.0
    label = f"{target}-{c}-{chunks}"
    probing = bool(server_pid and (args.stream_memory or args.stream_tracemalloc))
    dumps = {"idle": probe(server_pid, f"idle-{label}")} if probing else {}
    start_at = time.time() + 1.5  # time for the processes to start
    ramp = min(args.ramp, chunks * args.interval_ms / 1000)
    warmup = ramp + 1.0
    # --stream-step: the first half of the load processes start early and hold about c/2 streams open for
    # args.step_seconds (the plateau) before the others start; every process's window is the same.
    step = bool(server_pid and args.stream_step and procs > 1)
    plateau = (start_at + warmup, start_at + warmup + args.step_seconds)
    late = plateau[1] if step else start_at  # when the (second half of the) load starts
    loads = []
    for index, workers in enumerate(split(c, procs)):
        early = step and index < procs // 2
        cmd = [PYTHON, "-m", "bench.streamload", "--port", str(port), "--path", path, "--body-file", handle.name]
        cmd += ["--workers", str(workers), "--total-workers", str(c), "--index", str(index), "--procs", str(procs)]
        cmd += ["--start-at", str(start_at if early else late), "--ramp", str(ramp)]
        cmd += ["--warmup", str(warmup + (late - start_at if early else 0.0))]
        cmd += ["--duration", str(args.window), "--interval-ms", str(args.interval_ms), "--chunks", str(chunks)]
        cmd += ["--plateau", f"{plateau[0]},{plateau[1]}"] if early else []
        cmd += [arg for header in headers for arg in ("--header", header)]
        # Results go to a file, not a pipe: a 300 s window's result came cut off at 64 KB (a pipe's size) while this
        # process was still busy with the server (a --stream-gc probe).
        cmd += ["--out", f"{handle.name}.{index}.out"]
        loads.append(subprocess.Popen(cmd, cwd=ROOT, env=base_env()))
    pids = {"fake": procstat.tree(fake.proc.pid), "loadgen": [p.pid for p in loads]}
    if server_pid:
        pids["qlaud"] = procstat.tree(server_pid)
    rss_half = []
    if step:
        time.sleep(max(0.0, plateau[0] - time.time()))
        while time.time() < plateau[1] - (1.0 if probing else 0.3):
            rss_half.append(procstat.rss_mb(server_pid))  # type: ignore[arg-type]
            time.sleep(0.5)
        if probing:
            dumps["half"] = probe(server_pid, f"half-{label}")  # type: ignore[arg-type]
    time.sleep(max(0.0, late + warmup - time.time()))
    cpu0 = {name: [procstat.cpu_seconds(p) for p in group] for name, group in pids.items()}
    waited0 = procstat.run_delay_seconds(server_pid or fake.proc.pid)
    lg_waited0 = [procstat.run_delay_seconds(p) for p in pids["loadgen"]]
    pg0 = {p: procstat.cpu_seconds(p) for p in procstat.postgres_backends(PG_DB)} if pg else {}
    t0 = time.monotonic()
    spy = profile_start(server_pid, target, c, chunks, args) if server_pid and args.stream_profile else None
    rss_samples = []
    end = late + warmup + args.window
    while time.time() < end - 0.3:
        if probing and time.time() >= end - 1.5 and "full" not in dumps:
            dumps["full"] = probe(server_pid, f"full-{label}")  # type: ignore[arg-type]
        if server_pid and "full" not in dumps:  # the dump's own allocations are no stream's
            rss_samples.append(procstat.rss_mb(server_pid))
        time.sleep(min(0.5, max(0.0, end - 0.3 - time.time())))
    time.sleep(max(0.0, end - time.time()))
    wall = time.monotonic() - t0
    cpu1 = {name: [procstat.cpu_seconds(p) for p in group] for name, group in pids.items()}
    waited = procstat.run_delay_seconds(server_pid or fake.proc.pid) - waited0
    lg_waited = [procstat.run_delay_seconds(p) - w for p, w in zip(pids["loadgen"], lg_waited0, strict=True)]
    pg_cpu = sum(procstat.cpu_seconds(p) - pg0.get(p, 0.0) for p in procstat.postgres_backends(PG_DB)) if pg else 0.0
    if spy is not None:
        profile_report(*spy)
    collector = {}
    if server_pid and args.stream_gc:
        collector = gc_summary(probe(server_pid, f"gc-{label}").get("gc", []), late + warmup, end)
    parts = []
    for index, proc in enumerate(loads):
        proc.wait(timeout=60)
        out = Path(f"{handle.name}.{index}.out")
        parts.append(json.loads(out.read_text()))
        out.unlink()
    os.unlink(handle.name)
    late = fake_stats(fake)
    ttft, gaps = Histogram(), Histogram()
    for part in parts:
        ttft.merge(Histogram.from_json(part["ttft"]))
        gaps.merge(Histogram.from_json(part["gaps"]))
    completed = sum(p["completed"] for p in parts)
    relayed = sum(p["chunks"] for p in parts)
    open_mean = sum(p["open_mean"] for p in parts)
    open_half = sum(p.get("open_mean_plateau", 0.0) for p in parts)
    server_cpu = sum(cpu1.get("qlaud", [])) - sum(cpu0.get("qlaud", []))
    loadgen_pct = [cpu_percent(b - a, wall) for a, b in zip(cpu0["loadgen"], cpu1["loadgen"], strict=True)]
    rss_open = statistics.median(rss_samples) if rss_samples else 0.0
    rss_half_mb = statistics.median(rss_half) if rss_half else 0.0
    if dumps:
        memory_report(label, dumps, {"idle": open_mean, "half": open_mean - open_half})
    return {
        "target": target,
        "c": c,
        "chunks": chunks,
        "interval_ms": args.interval_ms,
        "window_s": wall,
        "loadgen_procs": procs,
        "streams_s": completed / wall,
        "completed": completed,
        "chunks_s": relayed / wall,
        "chunks_relayed": relayed,
        "cpu_us_per_chunk": per_chunk_cpu_us(server_cpu, relayed),
        "pg_us_per_chunk": per_chunk_cpu_us(pg_cpu, relayed),
        "server_cpu_pct": cpu_percent(server_cpu, wall),
        "fake_cpu_pct": cpu_percent(sum(cpu1["fake"]) - sum(cpu0["fake"]), wall),
        "fake_cpu_pct_each": [cpu_percent(b - a, wall) for a, b in zip(cpu0["fake"], cpu1["fake"], strict=True)],
        "loadgen_runq_wait_pct": [cpu_percent(w, wall) for w in lg_waited],
        "runq_wait_pct": cpu_percent(waited, wall),  # the server's loop thread, waiting for a CPU
        "loadgen_cpu_pct": loadgen_pct,
        "loadgen_cpu_pct_max": max(loadgen_pct),
        "ttft_p50_ms": ttft.percentile(0.5),
        "ttft_p99_ms": ttft.percentile(0.99),
        "ttft_n": ttft.n,
        "no_first_chunk": sum(p.get("no_first_chunk", 0) for p in parts),
        "gap_p50_ms": gaps.percentile(0.5),
        "gap_p90_ms": gaps.percentile(0.9),
        "gap_p99_ms": gaps.percentile(0.99),
        "gap_p999_ms": gaps.percentile(0.999),
        "gap_max_ms": gaps.max(),
        "gap_n": gaps.n,
        "fake_late_p50_ms": late.percentile(0.5),
        "fake_late_p99_ms": late.percentile(0.99),
        "fake_late_max_ms": late.max(),
        "open_mean": open_mean,
        "rss_idle_mb": rss_idle,
        "rss_open_mb": rss_open,
        "rss_base_mb": rss_base,
        "rss_kb_per_stream": rss_per_stream_kb(rss_open, rss_base or rss_idle, open_mean) if server_pid else 0.0,
        "rss_half_mb": rss_half_mb,
        "open_half": open_half,
        "rss_step_kb_per_stream": rss_step_kb(rss_half_mb, open_half, rss_open, open_mean) if step else None,
        "errors": merge_errors(p["errors"] for p in parts),
        **collector,
    }


def probe(pid: int, label: str, timeout: float = 120.0) -> dict[str, Any]:
    """What the worker holds now (bench.memprobe: SIGUSR2, then its dump file); {} if none came."""
    out = PROBE_DIR / f"{label}.json"
    out.unlink(missing_ok=True)
    (PROBE_DIR / "label").write_text(label)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return json.loads(out.read_text()) if out.exists() else {}


def memory_report(label: str, dumps: dict[str, dict[str, Any]], added: dict[str, float]) -> None:
    """Growth per open stream from idle to full and, with --stream-step, from the plateau to full. Streams are
    counted at the clients (`added`: open in the window, less those of the plateau), as RSS KB/stream counts
    them: the worker's own count of requests in flight (`open` in the dumps) leaves out those still waiting
    for their key check and hold, which hold memory too."""
    full = dumps.get("full") or {}
    parts = []
    for start in ("idle", "half"):
        before = dumps.get(start) or {}
        if not full or not before:
            continue
        head = f"== {label}: {start} -> full, {added[start]:.0f} streams more at the clients "
        head += f"(in flight in qlaud: {before.get('open', 0)} -> {full.get('open', 0)}) =="
        parts.append(f"{head}\n{memprobe.compare(before, full, added[start])}")
    report = "\n\n".join(parts) or f"== {label}: no memory dumps =="
    (RESULTS / f"memory-{label}.txt").write_text(report + "\n")
    print(report, flush=True)


def frozen_garbage(pid: int) -> None:
    """After the last cell: what the worker still holds; then a full collection (the cyclic garbage of ended
    streams waiting for one); then the same after giving the frozen heap back to the collector (garbage it
    kept out of reach). These change the worker, so they are the last step."""
    settle(pid)
    dumps = [probe(pid, f"end-{step}") for step in ("held", "collect", "unfreeze")]
    if not all(dumps):
        return
    mb = 1 / 1024 / 1024
    lines = [f"== end of run: RSS {dumps[0]['rss'] * mb:.1f} MB, {dumps[0]['frozen']} objects frozen =="]
    for what, before, after in (("a full collection", *dumps[:2]), ("unfrozen, then collected", *dumps[1:])):
        lines.append(
            f"{what}: {after['collected']} objects unreachable, pymalloc in allocated blocks "
            f"{before['pymalloc']['allocated'] * mb:.1f} -> {after['pymalloc']['allocated'] * mb:.1f} MB, "
            f"glibc in use {before['glibc'].get('in_use', 0) * mb:.1f} -> {after['glibc'].get('in_use', 0) * mb:.1f}"
            f" MB; by type: {', '.join(f'{t} {n}' for t, n in list(after['garbage'].items())[:60])}"
        )
    print("\n".join(lines), flush=True)


def profile_start(pid: int, target: str, c: int, chunks: int, args: argparse.Namespace) -> tuple[Any, Path]:
    """py-spy on qlaud's worker during the window (GIL-holding samples: where the CPU goes)."""

    out = RESULTS / f"profile-streams-{target}-{c}-{chunks}.txt"
    seconds = max(1, int(min(args.stream_profile, args.window - 1)))
    cmd = [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--gil"]
    cmd += ["--rate", "200", "--duration", str(seconds), "--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def profile_report(spy: Any, out: Path) -> None:

    spy.wait(120)
    print(f"== {out.name} ==\n{summarise(out) if out.exists() else 'no profile (py-spy needs root)'}\n", flush=True)


def fake_table(rows: list[dict[str, Any]]) -> str:
    """The machine per cell: how long the server's (for direct: the fake's) event-loop thread was
    runnable but waiting for a CPU, how late the fake sent its chunks (sent - due), the open
    streams and each load process's CPU."""
    lines = [
        "| chunks | c | target | server's loop waiting for a CPU % | fake late p50 ms | p99 ms | max ms "
        "| open streams (mean) | fake CPU % each | loadgen CPU % each | loadgen waiting for a CPU % each |"
    ]
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lines.append(
            f"| {r['chunks']} | {r['c']} | {r['target']} | {r.get('runq_wait_pct', 0):.0f} "
            f"| {r['fake_late_p50_ms']:.1f} | {r['fake_late_p99_ms']:.1f} "
            f"| {r['fake_late_max_ms']:.1f} | {r['open_mean']:.0f} | {_pcts(r.get('fake_cpu_pct_each', []))} "
            f"| {_pcts(r['loadgen_cpu_pct'])} | {_pcts(r.get('loadgen_runq_wait_pct', []))} |"
        )
    return "\n".join(lines)


def _pcts(values: list[float]) -> str:
    return ", ".join(f"{x:.0f}" for x in values) or "-"


def run_streams(args: argparse.Namespace) -> int:

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every server started below
    RESULTS.mkdir(parents=True, exist_ok=True)
    db = "postgres" if args.db == "postgres" and postgres_ready() else "sqlite"
    chunk_counts = [int(x) for x in args.stream_chunks.split(",")]
    concurrencies = [int(x) for x in args.stream_concurrency.split(",")]
    surfaces = [s for s in args.surfaces.split(",") if s]
    speed = calibrate.machine()  # before any server starts
    fake = paced_server(args.fake_procs).start()
    qlaud = None
    floors: list[Server] = []
    rows: list[dict[str, Any]] = []
    try:
        if args.floors:
            floors = [tcp_relay_server(fake.port), minimal_server(fake.url)]
            for floor in floors:
                floor.start()
        if surfaces:
            key = seed(db, fake.url, args.interval_ms, chunk_counts)
            qlaud = qlaud_server("qlaud", db, "aiohttp", key, probe=probe_env(args)).start(timeout=180)
            for surface in surfaces:
                print(f"smoke {surface}: {smoke(qlaud, surface, args.interval_ms)}", flush=True)
            if args.stream_warm:
                print(f"warm-up: {warm(qlaud, surfaces[0], args.interval_ms, args.stream_warm)}", flush=True)
        rss_base = 0.0
        if qlaud:
            settle(qlaud.proc.pid)  # type: ignore[union-attr]
            rss_base = procstat.rss_mb(qlaud.proc.pid)  # type: ignore[union-attr]
        # Concurrency outermost and rising: RSS only grows to the high-water mark of the largest
        # cell so far, so each cell's (RSS open - idle after the smoke) / N is its own.
        for c in concurrencies:
            for chunks in chunk_counts:
                model = f"bench-paced-{args.interval_ms}-{chunks}"
                paced = f"/paced/{args.interval_ms}/{chunks}/v1/chat/completions"
                cells: list[tuple[str, Server, str, str]] = [("direct", fake, paced, "chat")]
                cells += [(floor.name, floor, paced, "chat") for floor in floors]
                cells += [(f"qlaud-{s}", qlaud, SURFACES[s][0], s) for s in surfaces]  # type: ignore[misc]
                for target, server, path, surface in cells:
                    if args.skip_direct and target == "direct":
                        continue
                    body = {"model": model, "messages": PROMPT, **SURFACES[surface][1]}
                    is_qlaud = server is qlaud
                    headers = qlaud.headers if is_qlaud else []  # type: ignore[union-attr]
                    pid = server.proc.pid if server is not fake else None  # type: ignore[union-attr]
                    pg = is_qlaud and db == "postgres"
                    base = rss_base if is_qlaud else 0.0
                    row = cell(target, server.port, path, body, headers, c, chunks, args, pid, fake, pg, base)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        peak = procstat.peak_rss_mb(qlaud.proc.pid) if qlaud else 0.0  # type: ignore[union-attr]
        if qlaud and (args.stream_memory or args.stream_tracemalloc):
            frozen_garbage(qlaud.proc.pid)  # type: ignore[union-attr]
    finally:
        for server in [*floors, *([qlaud] if qlaud else [])]:
            server.stop()
        fake.stop()
    machine = {"before": speed, "after": calibrate.machine()}
    report = render(rows, peak, db, args, machine)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = {"rows": rows, "peak_rss_mb": peak, "machine": machine}
    (RESULTS / f"streams-{stamp}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "streams-latest.md").write_text(report)
    print(report)
    return 0


def probe_env(args: argparse.Namespace) -> dict[str, str] | None:
    if not (args.stream_memory or args.stream_tracemalloc or args.stream_gc):
        return None
    PROBE_DIR.mkdir(parents=True, exist_ok=True)
    env = {"QLAUD_MEMPROBE_DIR": str(PROBE_DIR), "QLAUD_TRACEMALLOC": str(args.stream_tracemalloc)}
    return {**env, "QLAUD_GC_TIMES": "1"} if args.stream_gc else env


def render(
    rows: list[dict[str, Any]],
    peak: float,
    db: str,
    args: argparse.Namespace,
    machine: dict[str, dict[str, float]] | None = None,
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()
    head = (
        f"Run {when}: qlaud on {db}, {os.cpu_count()} CPUs (load average {load[0]:.1f} at the end), "
        f"chunks {args.interval_ms} ms apart, window {args.window:.0f} s per cell after a ramp of up to "
        f"{args.ramp:.0f} s; qlaud peak RSS {peak:.0f} MB."
    )
    if machine:
        head += f" {calibrate.describe(machine['before'], machine['after'])}."
    parts = [head, "", table(rows), "", fake_table(rows)]
    if any("gc_pct" in r for r in rows):
        parts += ["", gc_table(rows)]
    return "\n".join(parts)


def gc_table(rows: list[dict[str, Any]]) -> str:
    """--stream-gc: the worker's collections that began in the window."""
    lines = ["| chunks | c | target | GC % of window | collections gen 0 / 1 / 2 | longest pause gen 0 / 1 / 2 ms |"]
    lines.append("|---|---|---|---|---|---|")
    for r in rows:
        if "gc_pct" in r:
            lines.append(
                f"| {r['chunks']} | {r['c']} | {r['target']} | {r['gc_pct']:.1f} "
                f"| {r['gc0_n']} / {r['gc1_n']} / {r['gc2_n']} "
                f"| {r['gc0_max_ms']:.1f} / {r['gc1_max_ms']:.1f} / {r['gc2_max_ms']:.1f} |"
            )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("open streams (--streams)")
    group.add_argument("--streams", action="store_true", help="the open-streams mode (this module's docstring)")
    group.add_argument("--stream-concurrency", default="200,1000,2000", help="open streams per cell")
    group.add_argument("--stream-chunks", default="100,600", help="chunks per stream (600: the long variant)")
    group.add_argument("--interval-ms", type=int, default=50, help="the upstream's pacing")
    group.add_argument("--surfaces", default="messages,chat", help="qlaud's surfaces: messages (translated), chat")
    group.add_argument("--window", type=float, default=15.0, help="measured seconds per cell")
    group.add_argument("--ramp", type=float, default=5.0, help="seconds over which the streams start")
    group.add_argument("--streams-per-proc", type=int, default=500, help="load generator processes: c / this")
    group.add_argument("--loadgen-procs", type=int, default=0, help="force the number of load processes")
    group.add_argument("--fake-procs", type=int, default=2, help="processes of the paced fake upstream")
    group.add_argument("--stream-profile", type=float, default=0.0, help="seconds of py-spy on qlaud per qlaud cell")
    group.add_argument("--skip-direct", action="store_true", help="no baseline cells")
    group.add_argument(
        "--floors",
        action="store_true",
        help="also relay each cell through bench.tcp_relay (bytes on uvloop) and bench.minimal_proxy (HTTP on "
        "qlaud's stack): what any Python relay costs here, below qlaud",
    )
    group.add_argument(
        "--stream-warm",
        type=int,
        default=1000,
        help="short streams qlaud serves before the cells (past its heap freeze at the 1,000th request; 0: none)",
    )
    group.add_argument(
        "--stream-step",
        action="store_true",
        help="half the load starts early and holds c/2 streams open for --step-seconds: RSS KB/stream, step",
    )
    group.add_argument("--step-seconds", type=float, default=6.0, help="the c/2 plateau of --stream-step")
    group.add_argument(
        "--stream-memory",
        action="store_true",
        help="qlaud under bench.memprobe: what it holds at idle and with the streams open (memory-*.txt)",
    )
    group.add_argument(
        "--stream-gc",
        action="store_true",
        help="qlaud under bench.memprobe timing its cyclic GC: collections and pauses in the window, by generation",
    )
    group.add_argument(
        "--stream-tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="--stream-memory with tracemalloc (FRAMES per trace) from the first idle dump: allocation sites",
    )
