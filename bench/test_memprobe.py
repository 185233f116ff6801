"""bench.memprobe: what the worker's dump reads, and the per-stream comparison of two dumps."""

import gc
import time
import tracemalloc

from bench import memprobe
from bench.streamstats import gc_summary


def test_a_dump_reads_the_allocators_and_the_rss_of_this_process():
    class Held:
        pass

    held = [Held() for _ in range(100)]
    dump = memprobe.dump()
    assert dump["rss"] >= dump["rss_anon"] > 0
    assert dump["pymalloc"]["arenas"] >= dump["pymalloc"]["allocated"] > 0
    assert dump["glibc"]["in_use"] > 0  # the test image runs glibc
    assert (
        dump["types"]["test_a_dump_reads_the_allocators_and_the_rss_of_this_process.<locals>.Held"] == len(held)
        and "traced" not in dump
    )


def test_with_tracemalloc_a_dump_has_the_allocation_sites_but_no_pymalloc_figures():
    tracemalloc.start(1)
    try:
        held = [bytearray(1000) for _ in range(100)]
        dump = memprobe.dump()
    finally:
        tracemalloc.stop()
    assert dump["traced"] >= 100_000 and any(site.endswith("test_memprobe.py:29") for site in dump["sites"])
    assert dump["pymalloc"]["arenas"] == 0  # Python reports nothing of pymalloc under tracemalloc's hooks
    assert len(held) == 100


def test_the_comparison_divides_each_growth_by_the_streams_open():
    def dump(rss_mb: int, site_kb: int, tasks: int) -> dict:
        pymalloc = {"arenas": rss_mb << 20, "allocated": rss_mb << 19, "available": 0, "unused_pools": 0}
        sites = {"/x/site-packages/aiohttp/client.py:10": [site_kb << 10, site_kb]}
        stacks = [{"stack": ["/x/site-packages/aiohttp/client.py:10"], "size": site_kb << 10, "count": site_kb}]
        return {"rss": rss_mb << 20, "rss_anon": rss_mb << 20, "pymalloc": pymalloc, "glibc": {}, "traced": 0,
                "sites": sites, "stacks": stacks, "types": {"Task": tasks}}  # fmt: skip

    report = memprobe.compare(dump(100, 0, 10), dump(120, 2000, 2010), streams=1000)
    assert "  RSS                        20.48" in report
    assert "    2.00    2.0  aiohttp/client.py:10" in report
    assert "      2.0  Task" in report


def test_a_collecting_dump_counts_the_cyclic_garbage_by_type_and_frees_it():
    class Node:
        pass

    for _ in range(50):
        a, b = Node(), Node()
        a.other, b.other = b, a
    del a, b
    dump = memprobe.dump("collect")
    kind = "test_a_collecting_dump_counts_the_cyclic_garbage_by_type_and_frees_it.<locals>.Node"
    assert dump["collected"] >= 100 and dump["garbage"][kind] == 100 and kind not in dump["types"]


def test_with_gc_timing_on_every_collection_is_noted_with_its_generation_start_and_pause():
    memprobe.gc_times.clear()
    gc.callbacks.append(memprobe.time_gc)
    try:
        before = time.time()
        gc.collect(2)
        gc.collect(0)
    finally:
        gc.callbacks.remove(memprobe.time_gc)
    (full, at, ms), (young, _, _) = memprobe.gc_times[-2:]
    assert (full, young) == (2, 0) and before <= at <= time.time() and ms > 0

    summary = gc_summary([list(t) for t in memprobe.gc_times], before, before + 10)
    assert (summary["gc2_n"], summary["gc0_n"], summary["gc1_n"]) == (1, 1, 0)
    assert summary["gc2_max_ms"] == ms and summary["gc_pct"] > 0
    assert gc_summary([[2, before - 1, 50.0]], before, before + 10)["gc2_n"] == 0  # before the window
