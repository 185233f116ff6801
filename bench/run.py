"""The benchmark: direct vs a minimal proxy vs qlaud (aiohttp and httpx transports) vs LiteLLM.

    make bench                                   # everything, a few minutes
    python -m bench.run --quick                  # c=1,16 only, shorter windows, one round
    python -m bench.run --targets qlaud,direct --modes chat-sse --concurrency 16
    python -m bench.run --soak 600               # qlaud's RSS under constant load
    python -m bench.run --write-docs             # also put the tables into docs/benchmarks.md
    python -m bench.run --streams                # open SSE streams, paced (bench/streams.py)
    python -m bench.run --baseline ../qlaud-base # paired against another checkout (docs/benchmarks.md)

Every server is one process (one uvicorn worker; LiteLLM `--num_workers 1`) on 127.0.0.1, all
pointed at the same fast fake upstream; the load generator is its own process. Cells are run
interleaved (for each mode and concurrency, every target in turn, for --rounds rounds) so
background noise on the machine hits all targets alike; the tables show each cell's median.
Raw results go to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from bench import calibrate, procstat
from bench.profile import summarise
from bench.servers import (
    PYTHON,
    RESULTS,
    ROOT,
    UVICORN,
    UVICORN_FAST,
    Server,
    base_env,
    minimal_server,
    postgres_ready,
    qlaud_env,
    qlaud_server,
)
from bench.streams import add_arguments as add_stream_arguments
from bench.streams import run_streams

LITELLM_VENV = ROOT / "bench" / ".litellm-venv"
LITELLM_KEY = "sk-bench-master"
DOCS = ROOT / "docs" / "benchmarks.md"
MARK_START, MARK_END = "<!-- bench:results -->", "<!-- /bench:results -->"

PROMPT = [{"role": "user", "content": "Say hello in five words."}]


def agent_body(model: str, turns: int = 40) -> dict[str, Any]:
    """A Claude Code-sized request (~90 KB): a long system prompt, 16 tools with JSON schemas, and `turns`
    rounds of tool_use / tool_result carrying file contents, ending on the user's next message."""
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Absolute path of the file to work on."},
            "pattern": {"type": "string", "description": "A regular expression, ripgrep syntax."},
            "limit": {"type": "integer", "minimum": 1, "description": "At most this many lines."},
        },
        "required": ["path"],
    }
    tools = [{"name": f"tool_{i}", "description": "Reads, searches or edits files. " * 8, "input_schema": schema}
             for i in range(16)]  # fmt: skip
    code = "def handler(request):\n    return respond(request.json(), status=200)\n" * 12
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing test in tests/test_api.py."}]
    for i in range(turns):
        call = {
            "type": "tool_use",
            "id": f"toolu_{i:04d}",
            "name": f"tool_{i % 16}",
            "input": {"path": f"/src/m{i}.py"},
        }
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "Let me look."}, call]})
        result = {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}", "content": code}
        messages.append({"role": "user", "content": [result]})
    messages[-1]["content"].append({"type": "text", "text": "Go on."})
    system = "You are a coding agent working in a repository. Follow the house rules. " * 100
    return {"model": model, "system": system, "tools": tools, "messages": messages, "max_tokens": 64, "stream": True}


MODES = {
    "chat-json": ("/v1/chat/completions", {"model": "bench-chat", "messages": PROMPT, "max_tokens": 64}),
    "chat-sse": (
        "/v1/chat/completions",
        {"model": "bench-chat", "messages": PROMPT, "max_tokens": 64, "stream": True,
         "stream_options": {"include_usage": True}},
    ),
    "messages-json": ("/v1/messages", {"model": "bench-messages", "messages": PROMPT, "max_tokens": 64}),
    "messages-sse": ("/v1/messages", {"model": "bench-messages", "messages": PROMPT, "max_tokens": 64, "stream": True}),
    # translated: Messages in, Chat Completions upstream (Claude Code on an OpenAI-compatible host)
    "translated-sse": ("/v1/messages", {"model": "bench-chat", "messages": PROMPT, "max_tokens": 64, "stream": True}),
    # the same, agent-sized: a coding agent's system prompt, tools and 40 turns of tool use (agent_body)
    "agent-sse": ("/v1/messages", agent_body("bench-chat")),
}  # fmt: skip


# --- the servers ------------------------------------------------------------------------------


def fake_server() -> Server:
    return Server("fake", [PYTHON, *UVICORN, *UVICORN_FAST, "--port", "{port}", "bench.fake_upstream:app"], base_env())


def litellm_config(upstream: str) -> Path:
    config = {
        "model_list": [
            {
                "model_name": "bench-chat",
                "litellm_params": {"model": "openai/bench", "api_base": upstream + "/v1", "api_key": "sk-fake"},
            },
            {
                "model_name": "bench-messages",
                "litellm_params": {"model": "anthropic/bench", "api_base": upstream, "api_key": "sk-fake"},
            },
        ],
        "general_settings": {"master_key": LITELLM_KEY},
        "litellm_settings": {"telemetry": False, "drop_params": True},
    }
    path = RESULTS / "litellm.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def litellm_server(upstream: str) -> Server | None:
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        return None
    cmd = [str(binary), "--config", str(litellm_config(upstream)), "--host", "127.0.0.1", "--port", "{port}"]
    cmd += ["--num_workers", "1"]
    env = base_env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False")
    env.pop("PYTHONPATH")
    server = Server("litellm", cmd, env, health="/health/liveliness")
    server.headers = [f"authorization: Bearer {LITELLM_KEY}"]
    return server


# --- qlaud's database -------------------------------------------------------------------------


def seed_qlaud(db: str, upstream: str, root: Path = ROOT) -> str:
    out = subprocess.run(
        [PYTHON, "-m", "bench.seed", "--upstream", upstream],
        env=qlaud_env(db, "aiohttp", root),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    if root != ROOT:
        grant_tools(db, root)
    return json.loads(out.stdout.strip().splitlines()[-1])["key"]


def grant_tools(db: str, root: Path) -> None:
    """A baseline's bench.seed may predate agent-sse, whose tools need a host that serves tools: say so in its
    database (the column has been the same list of capabilities since the catalog began)."""
    sql = "UPDATE catalog_model SET capabilities = '[\"tools\"]' WHERE public_id LIKE 'bench-%'"
    if db == "postgres":
        with psycopg.connect(qlaud_env(db, "aiohttp", root)["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(sql)
    else:
        with sqlite3.connect(qlaud_env(db, "aiohttp", root)["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
            conn.execute(sql)


# --- one measurement --------------------------------------------------------------------------


def measure(server: Server, mode: str, concurrency: int, args: argparse.Namespace, pg: bool) -> dict[str, Any]:
    path, body = MODES[mode]
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
        handle.write(json.dumps(body).encode())
    cmd = [PYTHON, "-m", "bench.loadgen", "--url", server.url + path, "--body-file", handle.name]
    cmd += ["--concurrency", str(concurrency), "--duration", str(args.duration), "--warmup", str(args.warmup)]
    cmd += server.headers_args()
    assert server.proc is not None
    pid = server.proc.pid
    proc = subprocess.Popen(cmd, cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    cpu0 = sys0 = pg0 = 0.0
    pg_start: dict[int, float] = {}
    result: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("MEASURE_START"):
            cpu0, sys0 = procstat.tree_cpu_seconds(pid), procstat.tree_sys_seconds(pid)
            pg_start = {p: procstat.cpu_seconds(p) for p in procstat.postgres_backends(server.db_name)} if pg else {}
        elif line.startswith("MEASURE_END"):
            cpu1 = procstat.tree_cpu_seconds(pid)
            pg0 = sum(
                procstat.cpu_seconds(p) - pg_start.get(p, 0.0) for p in procstat.postgres_backends(server.db_name)
            ) if pg else 0.0  # fmt: skip
            result["cpu_s"] = cpu1 - cpu0
            result["sys_s"] = procstat.tree_sys_seconds(pid) - sys0
            result["pg_cpu_s"] = pg0
        elif line.startswith("{"):
            result.update(json.loads(line))
    proc.wait()
    os.unlink(handle.name)
    done = max(1, result.get("requests", 0))
    result["cpu_ms_per_req"] = 1000 * result.get("cpu_s", 0.0) / done
    result["pg_cpu_ms_per_req"] = 1000 * result.get("pg_cpu_s", 0.0) / done
    result["sys_ms_per_req"] = 1000 * result.get("sys_s", 0.0) / done
    result["rss_mb"] = procstat.rss_mb(pid)
    return result


def smoke(server: Server, mode: str) -> str:
    """One request, so a misconfigured target fails loudly instead of measuring errors."""
    path, body = MODES[mode]
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    for header in server.headers:
        name, value = header.split(":", 1)
        request.add_header(name.strip(), value.strip())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return f"{response.status}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code}: {exc.read()[:300]!r}"
    except OSError as exc:
        return f"error: {exc}"


# --- reports ----------------------------------------------------------------------------------


def medians(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, c, target): the median of each measure over its rounds (errors: the sum).

    This machine is shared and noisy: one window can catch a slow spell that the next one misses.
    Rounds are interleaved like the targets, so a median compares like with like."""
    cells: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rounds:
        cells.setdefault((row["mode"], row["c"], row["target"]), []).append(row)
    out = []
    for (mode, c, target), rows in cells.items():
        merged: dict[str, Any] = {"mode": mode, "c": c, "target": target, "rounds": len(rows)}
        for key, value in rows[0].items():
            if key in merged or key == "round" or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
            merged[key] = sum(values) if key == "errors" else statistics.median(values)
        out.append(merged)
    return out


def table(results: list[dict[str, Any]]) -> str:
    head = "| mode | c | target | req/s | p50 ms | p99 ms | TTFT p50 | TTFT p99 | CPU ms/req | +PG ms/req | errors |"
    lines = [head, "|" + "---|" * 11]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['c']} | {r['target']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['ttft_p50_ms']:.1f} | {r['ttft_p99_ms']:.1f} | {r['cpu_ms_per_req']:.2f} "
            f"| {r['pg_cpu_ms_per_req']:.2f} | {r['errors']} |"
        )
    return "\n".join(lines)


def memory_table(peaks: dict[str, float]) -> str:
    lines = ["| target | peak RSS (VmHWM) MB |", "|---|---|"]
    lines += [f"| {name} | {mb:.0f} |" for name, mb in peaks.items()]
    return "\n".join(lines)


def targets_table(results: list[dict[str, Any]], peaks: dict[str, float]) -> str:
    """The issue's targets, computed from the rows."""

    def row(mode: str, c: int, target: str) -> dict[str, Any] | None:
        return next((r for r in results if (r["mode"], r["c"], r["target"]) == (mode, c, target)), None)

    lines = ["| check | mode | value | target | met |", "|---|---|---|---|---|"]
    for mode in MODES:
        for c in (16, 64):
            q, lite = row(mode, c, "qlaud"), row(mode, c, "litellm")
            if q and lite and lite["rps"]:
                ratio = q["rps"] / lite["rps"]
                lines.append(f"| throughput vs LiteLLM, c={c} | {mode} | {ratio:.1f}x | >= 10x | {_yes(ratio >= 10)} |")
        q, direct = row(mode, 1, "qlaud"), row(mode, 1, "direct")
        if q and direct:
            added = q["ttft_p50_ms"] - direct["ttft_p50_ms"]
            lines.append(f"| added TTFT p50, c=1 | {mode} | {added:.2f} ms | <= 3 ms | {_yes(added <= 3)} |")
        q, direct, lite = row(mode, 16, "qlaud"), row(mode, 16, "direct"), row(mode, 16, "litellm")
        if q and direct and lite:
            ours, theirs = q["p99_ms"] - direct["p99_ms"], lite["p99_ms"] - direct["p99_ms"]
            ok = theirs > 0 and ours <= theirs / 10
            lines.append(
                f"| added p99, c=16 | {mode} | {ours:.1f} ms vs LiteLLM {theirs:.1f} ms | <= 1/10 | {_yes(ok)} |"
            )
    if "qlaud" in peaks:
        lines.append(
            f"| peak RSS per worker | all | {peaks['qlaud']:.0f} MB | <= 150 MB | {_yes(peaks['qlaud'] <= 150)} |"
        )
    return "\n".join(lines)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def write_docs(markdown: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    if MARK_START not in text:
        text += f"\n{MARK_START}\n{MARK_END}\n"
    head, rest = text.split(MARK_START, 1)
    tail = rest.split(MARK_END, 1)[1] if MARK_END in rest else ""
    DOCS.write_text(f"{head}{MARK_START}\n{markdown}\n{MARK_END}{tail}")


# --- main -------------------------------------------------------------------------------------


def start_targets(
    names: list[str], upstream: str, db: str, notes: list[str], servers: dict[str, Server], baseline: Path | None
) -> None:
    """Fills `servers` before each one starts, so the caller can stop them all whatever happens."""
    key = seed_qlaud(db, upstream) if any(n in ("qlaud", "qlaud-httpx") for n in names) else ""
    base_key = seed_qlaud(db, upstream, baseline) if baseline and "qlaud-base" in names else ""
    makers = {
        "minimal": lambda: minimal_server(upstream),
        "qlaud": lambda: qlaud_server("qlaud", db, "aiohttp", key),
        "qlaud-httpx": lambda: qlaud_server("qlaud-httpx", db, "httpx", key),
        "qlaud-base": lambda: qlaud_server("qlaud-base", db, "aiohttp", base_key, baseline or ROOT),
        "litellm": lambda: litellm_server(upstream),
    }
    for name in names:
        if name == "direct":
            servers[name] = Server("direct", [], {}, port=int(upstream.rsplit(":", 1)[1]))
            continue
        server = makers[name]()
        if server is None:
            notes.append("LiteLLM skipped: bench/.litellm-venv is not installed (see docs/benchmarks.md).")
            continue
        servers[name] = server
        try:
            server.start(timeout=180)
        except RuntimeError as exc:
            if name != "litellm":
                raise
            server.stop()
            del servers[name]
            notes.append(f"LiteLLM skipped: {exc}")


def run(args: argparse.Namespace) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops every server
    if args.streams:
        return run_streams(args)
    db = "postgres" if args.db == "postgres" and postgres_ready() else "sqlite"
    names = args.targets.split(",")
    notes: list[str] = []
    speed = calibrate.machine()  # before any server starts
    fake = fake_server().start()
    servers: dict[str, Server] = {}
    try:
        start_targets(names, fake.url, db, notes, servers, args.baseline)
        if args.soak:
            return soak(servers["qlaud"], args)
        if args.profile:
            return profile(servers[names[0]], args)
        for name, server in servers.items():
            for mode in args.modes.split(","):
                print(f"smoke {name} {mode}: {smoke(server, mode)}", flush=True)
        rounds: list[dict[str, Any]] = []
        for mode in args.modes.split(","):
            for c in [int(x) for x in args.concurrency.split(",")]:
                for round_ in range(args.rounds):
                    order = list(servers.items())
                    for name, server in order if round_ % 2 == 0 else order[::-1]:  # no target always goes first
                        target = fake if name == "direct" else server
                        row = measure(target, mode, c, args, pg=name.startswith("qlaud") and db == "postgres")
                        row.update(mode=mode, c=c, target=name, round=round_)
                        rounds.append(row)
                        print(json.dumps(row), flush=True)
        results = medians(rounds)
        peaks = {n: procstat.peak_rss_mb(s.proc.pid) for n, s in servers.items() if s.proc} | {
            "fake upstream": procstat.peak_rss_mb(fake.proc.pid)  # type: ignore[union-attr]
        }
    finally:
        for server in servers.values():
            server.stop()
        fake.stop()
    notes.append(calibrate.describe(speed, calibrate.machine()))
    report = render(results, rounds, peaks, notes, db, args)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"results-{stamp}.json").write_text(
        json.dumps({"results": results, "rounds": rounds, "peaks": peaks}, indent=1)
    )
    (RESULTS / "latest.md").write_text(report)
    print(report)
    if args.write_docs:
        write_docs(report)
    return 0


def render(
    results: list[dict[str, Any]],
    rounds: list[dict[str, Any]],
    peaks: dict[str, float],
    notes: list[str],
    db: str,
    args: Any,
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [
        f"Run {when}: qlaud on {db}, {os.cpu_count()} CPUs, window {args.duration}s after {args.warmup}s warm-up; "
        f"each cell the median of {args.rounds} interleaved round(s).",
        *notes,
        "",
        table(results),
        "",
        memory_table(peaks),
        "",
        targets_table(results, peaks),
    ]
    if "qlaud-base" in peaks:
        parts += ["", paired_table(rounds, args.baseline)]
    return "\n".join(parts)


def paired_table(rounds: list[dict[str, Any]], baseline: Path) -> str:
    """qlaud against the baseline checkout, round by round: each ratio compares two windows run back to back,
    so a slow spell of the machine hits both; the table shows the median ratio and its range over rounds."""
    ref = subprocess.run(["git", "-C", str(baseline), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    cells: dict[tuple[str, int], dict[int, dict[str, dict[str, Any]]]] = {}
    for row in rounds:
        cells.setdefault((row["mode"], row["c"]), {}).setdefault(row["round"], {})[row["target"]] = row
    lines = [
        f"Paired against the baseline `{ref.stdout.strip()[:72]}` (new / baseline, per round; median [min-max]):",
        "",
        "| mode | c | req/s | CPU ms/req | p99 ms | errors new / base |",
        "|---|---|---|---|---|---|",
    ]

    def ratio(pairs: list[tuple[dict[str, Any], dict[str, Any]]], key: str) -> str:
        values = sorted(new[key] / base[key] for new, base in pairs if base.get(key))
        return f"{statistics.median(values):.3f} [{values[0]:.2f}-{values[-1]:.2f}]" if values else "-"

    for (mode, c), by_round in cells.items():
        pairs = [(r["qlaud"], r["qlaud-base"]) for r in by_round.values() if "qlaud" in r and "qlaud-base" in r]
        errors = f"{sum(n['errors'] for n, _ in pairs)} / {sum(b['errors'] for _, b in pairs)}"
        lines.append(
            f"| {mode} | {c} | {ratio(pairs, 'rps')} | {ratio(pairs, 'cpu_ms_per_req')} | {ratio(pairs, 'p99_ms')} "
            f"| {errors} |"
        )
    return "\n".join(lines)


def profile(server: Server, args: argparse.Namespace) -> int:
    """py-spy on qlaud while the load generator keeps it busy; prints where the time goes."""
    for mode in args.modes.split(","):
        out = RESULTS / f"profile-{server.name}-{mode}.txt"
        path, body = MODES[mode]
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
            handle.write(json.dumps(body).encode())
        cmd = [PYTHON, "-m", "bench.loadgen", "--url", server.url + path, "--body-file", handle.name]
        cmd += ["--concurrency", args.concurrency.split(",")[-1], "--duration", str(args.profile + 2)]
        load = subprocess.Popen([*cmd, "--warmup", "1", *server.headers_args()], cwd=ROOT, stdout=subprocess.DEVNULL)
        time.sleep(1.5)
        spy = [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(server.proc.pid), "--format", "raw"]  # type: ignore[union-attr]
        spy += ["--duration", str(int(args.profile)), "--rate", "250", "--output", str(out), "--nonblocking"]
        spy += ["--idle"] if args.wall else ["--gil"]  # wall: where a request waits; gil: where CPU goes
        subprocess.run(spy, check=True, capture_output=True)
        load.wait()
        os.unlink(handle.name)
        print(f"== {mode} ==\n{summarise(out)}\n", flush=True)
    return 0


def soak(server: Server, args: argparse.Namespace) -> int:
    """Constant load (chat-sse, c=16) for SOAK seconds; RSS sampled every 5 s must stay flat."""
    path, body = MODES["chat-sse"]
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
        handle.write(json.dumps(body).encode())
    cmd = [PYTHON, "-m", "bench.loadgen", "--url", server.url + path, "--body-file", handle.name]
    cmd += ["--concurrency", "16", "--duration", str(args.soak), "--warmup", "5", *server.headers_args()]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    while proc.poll() is None:
        samples.append((time.monotonic() - started, procstat.rss_mb(server.proc.pid)))  # type: ignore[union-attr]
        time.sleep(5)
    summary = json.loads(proc.stdout.read().strip().splitlines()[-1])  # type: ignore[union-attr]
    settled = [mb for t, mb in samples if t >= min(60.0, args.soak / 4)] or [mb for _, mb in samples]
    growth = settled[-1] - settled[0]
    flat = growth <= max(5.0, 0.05 * settled[0])
    report = (
        f"Soak {args.soak:.0f}s, chat-sse c=16: {summary['requests']} requests, {summary['rps']:.0f} req/s, "
        f"{summary['errors']} errors. RSS after warm-up {settled[0]:.1f} MB -> end {settled[-1]:.1f} MB "
        f"(max {max(settled):.1f} MB, growth {growth:+.1f} MB): {'flat' if flat else 'GROWING'}."
    )
    (RESULTS / "soak.json").write_text(json.dumps({"samples": samples, "summary": summary}))
    print(report)
    return 0 if flat else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="direct,minimal,qlaud,qlaud-httpx,litellm")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per cell; the tables show medians")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of constant load on qlaud; RSS must stay flat")
    parser.add_argument("--profile", type=float, default=0.0, help="seconds of py-spy on qlaud per mode")
    parser.add_argument("--wall", action="store_true", help="with --profile: sample waiting threads too")
    parser.add_argument("--quick", action="store_true", help="c=1,16 and 3 s windows")
    parser.add_argument("--write-docs", action="store_true", help="replace the results block of docs/benchmarks.md")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (git worktree add --detach DIR REF) served as target qlaud-base, for paired runs",
    )
    add_stream_arguments(parser)
    args = parser.parse_args(argv)
    if args.baseline:
        args.baseline = args.baseline.resolve()
        if "qlaud-base" not in args.targets:
            args.targets = "qlaud,qlaud-base" if args.targets == parser.get_default("targets") else args.targets
    if args.quick:
        args.concurrency, args.duration, args.warmup, args.rounds = "1,16", 3.0, 1.0, 1
    if args.soak or args.profile:  # one qlaud: this tree's, or the baseline's with --targets qlaud-base
        args.targets = "qlaud-base" if args.baseline and args.targets == "qlaud-base" else "qlaud"
    return args


if __name__ == "__main__":
    if shutil.which("uvicorn", path=str(ROOT / ".venv" / "bin")) is None:
        sys.exit("uvicorn is missing from .venv")
    sys.exit(run(parse(sys.argv[1:])))
