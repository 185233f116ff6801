"""Every provider's usage, in the shape it really sends (providers.md), normalised to what it bills.

The table behind these cases is docs/usage-semantics.md. `output` always includes reasoning: every provider bills
reasoning as output, whether it reports it inside (OpenAI, DeepSeek, ...) or outside (xAI) `completion_tokens`.
"""

from __future__ import annotations

import pytest

from gateway import usage as u
from gateway.providers.bedrock.converse import usage_from_converse
from gateway.tests import fake_upstream as fu
from gateway.translate.stream import OpenAIUsageMeter
from gateway.usage import Usage

REASONING = fu.Answer(reasoning="think", text="ok")  # 30 completion tokens, 12 of reasoning (or 30 + 12 on xAI)
PLAIN = fu.Answer(text="ok")

# provider -> what it bills for the REASONING answer: uncached input, cache reads, output (with reasoning), reasoning
BILLED = {
    "openai": Usage(input=100, cache_read=20, output=30, reasoning=12),
    "deepseek": Usage(input=100, cache_read=20, output=30, reasoning=12),
    "xai": Usage(input=100, cache_read=20, output=42, reasoning=12),
    "openrouter": Usage(input=100, cache_read=20, output=30, reasoning=12),
    "mistral": Usage(input=120, output=30),
    "groq": Usage(input=120, output=30),
}


@pytest.mark.parametrize("provider", sorted(BILLED))
def test_each_providers_usage_shape_normalises_to_what_it_bills(provider):
    assert u.from_openai(fu.openai_usage(REASONING, provider)) == BILLED[provider]


def test_xai_reasoning_outside_completion_tokens_is_billed_as_output():
    raw = {
        "prompt_tokens": 12,
        "completion_tokens": 2,
        "total_tokens": 354,
        "completion_tokens_details": {"reasoning_tokens": 340},
    }
    usage = u.from_openai(raw)
    assert (usage.output, usage.reasoning) == (342, 340)
    assert u.to_anthropic(usage)["output_tokens"] == 342  # Anthropic's output_tokens includes thinking
    assert u.to_openai(usage)["completion_tokens"] == 342  # OpenAI's completion_tokens includes reasoning
    assert u.to_openai(usage)["total_tokens"] == 354


def test_reasoning_inside_completion_tokens_is_not_counted_twice():
    raw = {"prompt_tokens": 12, "completion_tokens": 342, "total_tokens": 354}
    raw["completion_tokens_details"] = {"reasoning_tokens": 340}
    assert u.from_openai(raw).output == 342


def test_a_usage_without_a_total_keeps_completion_tokens():
    raw = {"prompt_tokens": 12, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 12}}
    assert u.from_openai(raw).output == 30


def test_deepseek_cache_fields_alone_are_read():
    raw = {"prompt_tokens": 120, "completion_tokens": 9, "prompt_cache_hit_tokens": 100, "prompt_cache_miss_tokens": 20}
    assert u.from_openai(raw) == Usage(input=20, cache_read=100, output=9)


def test_groq_stream_usage_in_x_groq_is_metered():
    meter = OpenAIUsageMeter()
    for chunk in fu.openai_chunks(PLAIN, {"model": "groq/x"}, include_usage=False):
        meter.feed(chunk)
    assert meter.usage == BILLED["groq"]


def test_xai_usage_before_the_empty_choices_chunk_is_metered():
    meter = OpenAIUsageMeter()
    for chunk in fu.openai_chunks(REASONING, {"model": "xai/x"}, include_usage=True):
        meter.feed(chunk)
    assert meter.usage == BILLED["xai"]


def test_mistral_usage_on_the_last_chunk_without_asking_is_metered():
    meter = OpenAIUsageMeter()
    for chunk in fu.mistral_chunks(PLAIN, {"model": "mistral/x"}):
        meter.feed(chunk)
    assert meter.usage == BILLED["mistral"]


def test_anthropic_output_tokens_include_thinking_and_cache_is_separate():
    raw = {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50, "output_tokens": 340}
    assert u.from_anthropic(raw) == Usage(input=10, cache_read=100, cache_write=50, output=340)


def test_bedrock_converse_input_tokens_exclude_cache_like_anthropic():
    raw = {
        "inputTokens": 10,
        "outputTokens": 40,
        "totalTokens": 200,
        "cacheReadInputTokens": 100,
        "cacheWriteInputTokens": 50,
    }
    assert u.from_anthropic(usage_from_converse(raw)) == Usage(input=10, cache_read=100, cache_write=50, output=40)
