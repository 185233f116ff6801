"""Where qlaud's memory goes with streams open: `python -m bench.run --streams --stream-memory` (or
`--stream-tracemalloc FRAMES`).

The worker runs as `python -m bench.memprobe <uvicorn arguments>` instead of `python -m uvicorn ...`: the same
server, plus a SIGUSR2 handler that writes what the process holds to `<QLAUD_MEMPROBE_DIR>/<label>.json`, the label
read from `<dir>/label` (the benchmark writes it, then signals). With QLAUD_TRACEMALLOC=N (frames) tracemalloc starts
at the first `idle-*` dump, so it traces only what is allocated from then on (tracing the whole heap from the start
made each snapshot take minutes, with the event loop stopped), and each later dump adds its allocation sites; without
it nothing runs per allocation, so the RSS and allocator figures are those of the production command. With
QLAUD_GC_TIMES=1 (`--stream-gc`) it times every collection of the cyclic GC (`time_gc`, a gc callback). Only the
benchmark starts the worker this way: qlaud's own code has no hook.

A dump holds, all in bytes:
- `rss`, `rss_anon`: /proc/self/status (VmRSS, RssAnon);
- `pymalloc`: Python's small-object allocator (sys._debugmallocstats): its arenas (1 MiB, mmap'd), the bytes in
  allocated blocks, free blocks in used pools, unused pools (all 0 under tracemalloc: Python does not report them);
- `glibc`: mallinfo2(): bytes in use (`uordblks` + `hblkhd`, i.e. what C code and Python's large objects hold)
  and free but kept (`fordblks`);
- `traced`: tracemalloc's total (all Python allocations, small and large) and `sites` (by file:line) and `stacks`
  (by traceback, the largest), when tracing;
- `types`: gc-tracked objects by type (count), and `streams`/`open` from gateway.admission.

`compare(idle, loaded)` divides the growth from one dump to the other by the streams open at the second.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

TOP_STACKS = 400  # tracebacks kept per dump (sites by line are kept whole)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def glibc() -> dict[str, int]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return {}
    return {"in_use": info.uordblks + info.hblkhd, "free": info.fordblks, "mmapped": info.hblkhd}


def pymalloc_stats(text: str) -> dict[str, int]:
    """The arena totals of sys._debugmallocstats()'s report."""
    fields = {
        "arenas": r"^\d+ arenas \* \d+ bytes/arena\s+=\s+([\d,]+)",
        "allocated": r"^# bytes in allocated blocks\s+=\s+([\d,]+)",
        "available": r"^# bytes in available blocks\s+=\s+([\d,]+)",
        "unused_pools": r"^\d+ unused pools \* \d+ bytes\s+=\s+([\d,]+)",
    }
    out = {}
    for name, pattern in fields.items():
        found = re.search(pattern, text, re.M)
        out[name] = int(found.group(1).replace(",", "")) if found else 0
    return out


def pymalloc() -> dict[str, int]:
    """sys._debugmallocstats() writes to the C stderr: lend it a file for the call."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile("w+") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return pymalloc_stats(capture.read())


def proc_status() -> dict[str, int]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon"):
            values[name] = int(rest.split()[0]) * 1024
    return {"rss": values.get("VmRSS", 0), "rss_anon": values.get("RssAnon", 0)}


def admission() -> dict[str, int]:
    module = sys.modules.get("gateway.admission")
    counts = getattr(module, "counts", None)
    return {"streams": counts.streams, "open": counts.open} if counts is not None else {}


def traces() -> dict[str, Any]:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, __file__)])
    sites = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        sites[f"{frame.filename}:{frame.lineno}"] = [stat.size, stat.count]
    stacks = [
        {"stack": [f"{f.filename}:{f.lineno}" for f in s.traceback], "size": s.size, "count": s.count}
        for s in snapshot.statistics("traceback")[:TOP_STACKS]
    ]
    return {"traced": tracemalloc.get_traced_memory()[0], "sites": sites, "stacks": stacks}


def collect() -> tuple[int, dict[str, int]]:
    """A full collection: how many objects it found unreachable, and of which types."""
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep them in gc.garbage to be counted, then let them go
    try:
        found = gc.collect()
        garbage = collections.Counter(_kind(o) for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    gc.collect()
    return found, dict(garbage.most_common(60))


def _kind(o: object) -> str:
    """A type's name; a function's own name too (a closure is often what holds a cycle together)."""
    if isinstance(o, types.FunctionType | types.MethodType):
        return f"{type(o).__qualname__} {o.__module__}.{o.__qualname__}"
    return type(o).__qualname__


def dump(collecting: str = "") -> dict[str, Any]:
    """`collecting`: first "collect" (the cyclic garbage waiting for a full collection) or "unfreeze" (give
    the objects gc.freeze() put out of the collector's reach back to it, then collect: the worker freezes its
    heap once, gateway.asgi.freeze_heap; what of the frozen heap was garbage)."""
    frozen = gc.get_freeze_count()
    collected, garbage = 0, {}
    if collecting == "unfreeze":
        gc.unfreeze()
    if collecting:
        collected, garbage = collect()
    types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    out: dict[str, Any] = {**proc_status(), **admission(), "pymalloc": pymalloc(), "glibc": glibc()}
    out.update(frozen=frozen, collected=collected, garbage=garbage)
    out["types"] = dict(types.most_common(300))
    if tracemalloc.is_tracing():
        out.update(traces())
    return out


# With QLAUD_GC_TIMES=1 (`--stream-gc`): every collection of the cyclic GC, as (generation, wall-clock start,
# milliseconds), from gc.callbacks; a dump labelled `gc-*` holds only these (no heap walk, no pause of its own).
gc_times: list[tuple[int, float, float]] = []
_gc_started = [0.0, 0.0]


def time_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[:] = time.time(), time.perf_counter()
    else:
        gc_times.append((info["generation"], _gc_started[0], (time.perf_counter() - _gc_started[1]) * 1000))


def on_signal(_signum: int, _frame: Any) -> None:
    directory = Path(os.environ["QLAUD_MEMPROBE_DIR"])
    label = (directory / "label").read_text().strip()
    if label.startswith("gc-"):
        data = json.dumps({"gc": gc_times})
    else:
        started = time.perf_counter()
        found = dump(label.rpartition("-")[2] if label.endswith(("-collect", "-unfreeze")) else "")
        found["seconds"] = time.perf_counter() - started  # the event loop stood still this long
        data = json.dumps(found)
        frames = int(os.environ.get("QLAUD_TRACEMALLOC") or 0)
        if frames and label.startswith("idle-") and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
    (directory / f"{label}.tmp").write_text(data)
    (directory / f"{label}.tmp").rename(directory / f"{label}.json")  # whole, or not there yet


def per_stream_kb(before: float, after: float, streams: float) -> float:
    return (after - before) / 1024 / streams if streams else 0.0


def compare(idle: dict[str, Any], loaded: dict[str, Any], streams: float, top: int = 25) -> str:
    """The growth from `idle` to `loaded`, in KB per open stream (`streams` open at `loaded`)."""

    def kb(before: float, after: float) -> str:
        return f"{per_stream_kb(before, after, streams):7.2f}"

    took = f"dumps took {idle.get('seconds', 0):.1f} s and {loaded.get('seconds', 0):.1f} s"
    lines = [f"growth per open stream ({streams:.0f} streams; {took}), KB:"]
    lines.append(f"  RSS                      {kb(idle['rss'], loaded['rss'])}")
    lines.append(f"  RSS anonymous            {kb(idle['rss_anon'], loaded['rss_anon'])}")
    a, b = idle["pymalloc"], loaded["pymalloc"]
    if a["arenas"] and b["arenas"]:  # none under tracemalloc
        lines.append(f"  pymalloc arenas          {kb(a['arenas'], b['arenas'])}")
        lines.append(f"    in allocated blocks    {kb(a['allocated'], b['allocated'])}")
        free_a = a["available"] + a["unused_pools"]
        lines.append(f"    free in arenas         {kb(free_a, b['available'] + b['unused_pools'])}")
    if idle["glibc"] and loaded["glibc"]:
        lines.append(f"  glibc malloc in use      {kb(idle['glibc']['in_use'], loaded['glibc']['in_use'])}")
        lines.append(f"  glibc malloc free, kept  {kb(idle['glibc']['free'], loaded['glibc']['free'])}")
    if "traced" in loaded:  # none at the idle dump when tracing starts there
        lines.append(f"  tracemalloc (Python)     {kb(idle.get('traced', 0), loaded['traced'])}")
        lines.append("top sites (file:line), KB per stream, allocations per stream:")
        lines += _top(idle.get("sites", {}), loaded["sites"], streams, top)
        lines.append("top stacks, KB per stream, allocations per stream:")
        before = {tuple(s["stack"]): (s["size"], s["count"]) for s in idle.get("stacks", [])}
        after = {tuple(s["stack"]): (s["size"], s["count"]) for s in loaded["stacks"]}
        for line in _top(before, after, streams, top // 2, joiner=" <- "):
            lines.append(line)
    lines.append("objects per stream (gc-tracked, by type):")
    grown = {t: n - idle["types"].get(t, 0) for t, n in loaded["types"].items()}
    for name, n in sorted(grown.items(), key=lambda kv: -kv[1])[:top]:
        if n / streams >= 0.5:
            lines.append(f"  {n / streams:7.1f}  {name}")
    return "\n".join(lines)


def _top(before: dict, after: dict, streams: float, top: int, joiner: str = "") -> list[str]:
    grown = []
    for key, (size, count) in after.items():
        was_size, was_count = before.get(key, (0, 0))
        grown.append((size - was_size, count - was_count, key))
    grown.sort(key=lambda g: -g[0])
    name = (lambda k: joiner.join(_short(f) for f in k)) if joiner else _short
    return [f"  {d / 1024 / streams:7.2f} {n / streams:6.1f}  {name(k)}" for d, n, k in grown[:top]]


def _short(where: str) -> str:
    return re.sub(r"^.*/(site-packages|lib/python3\.\d+|wt-[^/]+|main)/", "", where)


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGUSR2, on_signal)
    if os.environ.get("QLAUD_GC_TIMES"):
        gc.callbacks.append(time_gc)
    import uvicorn

    uvicorn.main(args=argv, prog_name="uvicorn")


if __name__ == "__main__":
    main(sys.argv[1:])
