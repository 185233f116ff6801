"""The open-streams benchmark's arithmetic: pacing, ramp, histograms, delays, costs, errors, the table."""

import pytest

from bench.paced_upstream import FIRST, NEXT, framed, tail
from bench.streamstats import (
    Histogram,
    delay_until,
    error_kind,
    gaps_minus_pacing,
    ideal_streams_per_s,
    per_chunk_cpu_us,
    percentile,
    ramp_offsets,
    retry_after,
    rss_per_stream_kb,
    rss_step_kb,
    split,
    table,
)


def test_chunk_deadlines_are_absolute_so_a_late_wake_up_does_not_delay_the_next_chunks():
    # Chunk 3 went out 30 ms late (at 0.180 instead of 0.150): chunk 4 is still due at 0.200.
    assert delay_until(now=0.180, t0=0.0, interval=0.05, k=4) == pytest.approx(0.020)
    # Two intervals late: the overdue chunk goes at once, no waiting and no drift.
    assert delay_until(now=0.320, t0=0.0, interval=0.05, k=5) == 0.0


def test_a_thousand_chunks_sent_with_overshooting_sleeps_end_on_schedule():
    now, t0, interval = 0.0, 0.0, 0.05
    for k in range(1000):
        now += delay_until(now, t0, interval, k) + 0.0007  # every wake-up 0.7 ms late
    assert now == pytest.approx(999 * interval + 0.0007, abs=1e-9)


def test_workers_ramp_up_evenly_across_all_load_processes():
    everyone = sorted(x for i in range(3) for x in ramp_offsets(10, 5.0, i, 3))
    assert everyone == pytest.approx([i * 0.5 for i in range(10)])
    assert ramp_offsets(10, 5.0, 1, 3) == pytest.approx([0.5, 2.0, 3.5])
    assert split(1000, 3) == [334, 333, 333]


def test_the_ideal_closed_loop_rate_counts_the_intervals_between_the_first_and_last_chunk():
    assert ideal_streams_per_s(1000, 101, 0.05) == pytest.approx(200.0)


def test_histogram_percentiles_match_nearest_rank_on_the_raw_values_to_the_bin():
    values = [0.03 * i - 5 for i in range(1001)]
    hist = Histogram()
    for v in values:
        hist.add(v)
    for q in (0.0, 0.5, 0.9, 0.99, 0.999, 1.0):
        assert hist.percentile(q) == pytest.approx(percentile(values, q), abs=0.05)
    assert Histogram().percentile(0.99) == 0.0


def test_histograms_from_several_processes_merge_through_json():
    a, b = Histogram(), Histogram()
    a.add(1.0, times=99)
    b.add(250.0)
    merged = Histogram.from_json(a.to_json()).merge(Histogram.from_json(b.to_json()))
    assert (merged.n, merged.percentile(0.5), merged.percentile(1.0), merged.max()) == (100, 1.0, 250.0, 250.0)


def test_the_delay_added_is_the_gap_between_chunks_minus_the_pacing():
    arrivals = [1.000, 1.050, 1.103, 1.150, 1.150]  # on time, 3 ms late, early, and a burst
    assert gaps_minus_pacing(arrivals, 0.05) == pytest.approx([0.0, 3.0, -3.0, -50.0])


def test_cpu_per_chunk_and_rss_per_open_stream():
    assert per_chunk_cpu_us(cpu_seconds=2.0, chunks=40_000) == pytest.approx(50.0)
    assert per_chunk_cpu_us(1.0, 0) == 0.0
    assert rss_per_stream_kb(rss_open_mb=230.0, rss_idle_mb=130.0, open_streams=1000) == pytest.approx(102.4)
    assert rss_per_stream_kb(200.0, 100.0, 0) == 0.0


def test_the_step_measure_divides_the_growth_between_two_steady_states_by_the_streams_added():
    # 500 open: 180 MB, of which 120 MB were there before any stream (and 20 MB paid once); 1,000 open: 200 MB.
    assert rss_step_kb(rss_half_mb=180.0, open_half=500, rss_full_mb=200.0, open_full=1000) == pytest.approx(40.96)
    assert rss_step_kb(180.0, 500, 200.0, 500) == 0.0  # nothing added: no figure


def test_errors_are_named_by_kind():
    assert error_kind(status=503) == "http_503"
    assert error_kind(ConnectionResetError()) == "reset"
    assert error_kind(TimeoutError()) == "timeout"
    assert error_kind(ConnectionRefusedError()) == "refused"
    assert error_kind(None, 200) == "truncated"


def test_a_refusals_retry_after_is_read_from_its_head_whatever_the_case():
    assert retry_after(b"HTTP/1.1 529 \r\ncontent-type: application/json\r\nRetry-After: 1") == 1.0
    assert retry_after(b"HTTP/1.1 503 \r\nretry-after: 2.5") == 2.5
    assert retry_after(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream") == 0.0
    assert retry_after(b"HTTP/1.1 503 \r\nretry-after: Wed, 21 Oct 2026 07:28:00 GMT") == 0.0


def test_the_fake_upstream_speaks_chunked_openai_chat_completion_chunks():
    assert FIRST.split(b"\r\n", 1)[0] == b"%x" % (len(FIRST.split(b"\r\n", 1)[1]) - 2)
    assert b'"object":"chat.completion.chunk"' in NEXT and NEXT.count(b"~") == 1
    end = tail(100)
    assert end.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n") and b'"completion_tokens":100' in end
    assert b"~" not in end and framed(b"ab") == b"2\r\nab\r\n"


def test_the_table_compares_each_target_with_direct_at_the_same_size():
    common = dict(chunks=100, c=200, chunks_s=3900.0, ttft_p50_ms=1.0, ttft_p99_ms=9.0, gap_p50_ms=0.1,
                  gap_p99_ms=2.0, gap_p999_ms=5.0, gap_max_ms=9.0, fake_cpu_pct=10.0, loadgen_cpu_pct_max=12.0,
                  cpu_us_per_chunk=80.0, pg_us_per_chunk=2.0, rss_kb_per_stream=40.0, server_cpu_pct=30.0)  # fmt: skip
    rows = [
        {**common, "target": "direct", "streams_s": 40.0, "errors": {}},
        {
            **common,
            "target": "qlaud-chat",
            "streams_s": 30.0,
            "no_first_chunk": 3,
            "errors": {"reset": 2, "http_503": 1},
        },
    ]
    lines = table(rows).splitlines()
    assert lines[2].startswith("| 100 | 200 | direct | 40.0 | 1.00 | 3900 | - | - |")
    assert lines[3].startswith("| 100 | 200 | qlaud-chat | 30.0 | 0.75 | 3900 | 80.0 | 2.0 |")
    assert "| 1.0 | 9.0 | 3 | 0.1 |" in lines[3] and "| 1.0 | 9.0 | 0 | 0.1 |" in lines[2]
    assert lines[3].endswith("| 40 | - | 30 | 10 | 12 | http_503 1, reset 2 |")
    rows[1]["rss_step_kb_per_stream"] = 22.4
    assert table(rows).splitlines()[3].endswith("| 40 | 22 | 30 | 10 | 12 | http_503 1, reset 2 |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
