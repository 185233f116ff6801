"""Usage normalisation: cache never counted twice, streamed and non-streamed bill alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.estimate import MAX_RATIO, MIN_RATIO, TokenEstimator, estimate_tokens, heuristic_tokens, learn
from gateway.usage import (
    Usage,
    from_anthropic,
    from_openai,
    merge,
    to_anthropic,
    to_openai,
    update_anthropic,
)


def test_openai_prompt_tokens_include_the_cached_part_which_is_subtracted() -> None:
    u = from_openai({"prompt_tokens": 80, "completion_tokens": 40, "prompt_tokens_details": {"cached_tokens": 64}})
    assert u == Usage(input=16, cache_read=64, output=40)


def test_deepseek_cache_hit_tokens_count_as_cache_reads() -> None:
    raw = {"prompt_tokens": 120, "completion_tokens": 9, "prompt_cache_hit_tokens": 100, "prompt_cache_miss_tokens": 20}
    assert from_openai(raw) == Usage(input=20, cache_read=100, output=9)


def test_when_deepseek_sends_both_cache_fields_the_cache_is_counted_once() -> None:
    raw = {"prompt_tokens": 120, "prompt_cache_hit_tokens": 100, "prompt_tokens_details": {"cached_tokens": 100}}
    assert from_openai(raw).prompt == 120


def test_reasoning_tokens_are_part_of_output_not_added_to_it() -> None:
    u = from_openai({"prompt_tokens": 1, "completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 7}})
    assert (u.output, u.reasoning, u.total) == (9, 7, 10)


def test_cache_write_tokens_are_split_out_of_the_prompt() -> None:
    u = from_openai({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 30}})
    assert u == Usage(input=20, cache_read=50, cache_write=30)


def test_missing_null_or_garbage_usage_is_empty_never_an_error() -> None:
    assert from_openai(None) == Usage() == from_anthropic({})
    assert not from_openai({"prompt_tokens": None, "completion_tokens": "x", "prompt_tokens_details": None})
    assert from_openai({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}}) == Usage(cache_read=5)


def test_anthropic_input_tokens_already_exclude_the_cache() -> None:
    raw = {
        "input_tokens": 50,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 31,
        "output_tokens_details": {"thinking_tokens": 12},
    }
    assert from_anthropic(raw) == Usage(50, 100, 20, 31, 12)


def test_anthropic_stream_usage_is_overwritten_by_non_null_cumulative_values() -> None:
    start = from_anthropic({"input_tokens": 50, "cache_read_input_tokens": 100, "output_tokens": 1})
    final = update_anthropic(start, {"output_tokens": 89, "input_tokens": None})
    assert final == Usage(input=50, cache_read=100, output=89)
    assert update_anthropic(final, None) is final
    assert update_anthropic(final, {"output_tokens_details": {"thinking_tokens": 4}}).reasoning == 4


def test_merge_takes_the_later_non_zero_fields() -> None:
    assert merge(Usage(input=5, output=1), Usage(output=9)) == Usage(input=5, output=9)


def test_to_openai_reports_the_whole_prompt_with_its_cached_subset() -> None:
    assert to_openai(Usage(16, 64, 0, 40, 3)) == {
        "prompt_tokens": 80,
        "completion_tokens": 40,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert to_openai(Usage(cache_write=2))["prompt_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 2}


def test_to_anthropic_reports_uncached_input_and_both_cache_fields() -> None:
    assert to_anthropic(Usage(16, 64, 2, 40)) == {
        "input_tokens": 16,
        "cache_creation_input_tokens": 2,
        "cache_read_input_tokens": 64,
        "output_tokens": 40,
    }


counts = st.integers(min_value=0, max_value=10**7)


@given(counts, counts, counts, counts, counts)
def test_usage_round_trips_through_both_dialects(i: int, cr: int, cw: int, o: int, r: int) -> None:
    u = Usage(i, cr, cw, o, r)
    assert from_openai(to_openai(u)) == u
    assert from_anthropic(to_anthropic(u)) == u


def test_estimate_counts_text_tools_and_images() -> None:
    text_only = {"messages": [{"role": "user", "content": "x" * 400}]}
    assert heuristic_tokens(text_only) == 100 + 4
    with_tools = {**text_only, "system": "s" * 40, "tools": [{"name": "t", "input_schema": {"type": "object"}}]}
    assert heuristic_tokens(with_tools) > heuristic_tokens(text_only) + 10
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 100000}}
    with_image = {"messages": [{"role": "user", "content": [image, {"type": "text", "text": "hi"}]}]}
    assert 1600 <= heuristic_tokens(with_image) < 1700
    assert heuristic_tokens({"messages": [{"role": "user", "content": [1.5, None]}]}) == 5


def test_the_estimator_learns_a_model_ratio_and_measures_its_error() -> None:
    estimator = TokenEstimator(alpha=0.5)
    body = {"messages": [{"role": "user", "content": "y" * 4000}]}
    assert estimator.mape("m") is None
    first = estimator.estimate("m", body)
    for _ in range(12):
        estimator.observe("m", heuristic_tokens(body), int(first * 1.3))
    assert abs(estimator.estimate("m", body) - first * 1.3) / (first * 1.3) < 0.01
    assert 0 < estimator.mape("m") < 0.3
    estimator.observe("m", 0, 10)  # nothing learnt from an empty estimate
    assert estimator.ratio("other") == 1.0


def test_answers_arriving_after_the_ratio_moved_cannot_run_it_away() -> None:
    # 64 requests in flight, all estimated before any answer: the upstream counts 3x the heuristic.
    estimator = TokenEstimator()
    body = {"messages": [{"role": "user", "content": "hi"}]}
    for _ in range(50):
        in_flight = [heuristic_tokens(body) for _ in range(64)]
        for heuristic in in_flight:
            estimator.observe("m", heuristic, heuristic * 3)
    assert abs(estimator.ratio("m") - 3.0) < 0.01


def test_a_wild_upstream_count_moves_the_ratio_only_within_its_band() -> None:
    estimator = TokenEstimator()
    for _ in range(200):
        estimator.observe("m", 2, 10_000_000)
        estimator.observe("n", 10_000_000, 1)
    assert estimator.ratio("m") == pytest.approx(MAX_RATIO)
    assert estimator.ratio("n") == pytest.approx(MIN_RATIO)


def test_the_process_wide_estimator_starts_at_the_heuristic_and_learns() -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "z" * 800}]}
    before = estimate_tokens(body, model="test-model-a")
    assert before == heuristic_tokens(body)
    learn(before, before * 2, model="test-model-a")
    assert estimate_tokens(body, model="test-model-a") > before
    learn(5, 5)
