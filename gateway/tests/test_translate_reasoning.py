"""Reasoning provenance sealed into thinking-block signatures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.translate.reasoning import (
    PREFIX,
    Sealer,
    ThinkSplitter,
    claimed_details,
    claimed_provider,
    is_anthropic,
    is_qlaud,
    split_think,
    unsealed,
)

SEALER = Sealer(b"secret")


def test_a_seal_verifies_only_for_the_same_text_and_secret() -> None:
    signature = SEALER.seal("deepseek", "thinking text ü")
    assert signature.startswith(PREFIX)
    assert SEALER.open(signature, "thinking text ü") == "deepseek"
    assert SEALER.open(signature, "thinking text u") is None
    assert Sealer(b"other").open(signature, "thinking text ü") is None


def test_a_forged_provider_or_broken_signature_does_not_verify() -> None:
    signature = SEALER.seal("groq", "t")
    forged = signature.replace(PREFIX + "Z3JvcQ", PREFIX + "ZGVlcHNlZWs")
    assert SEALER.open(forged, "t") is None
    assert SEALER.open(PREFIX + "Z3JvcQ.!!!", "t") is None
    assert SEALER.open(PREFIX + "\udcff.x", "t") is None
    assert SEALER.open("EqQBanthropic", "t") is None and SEALER.open(None, "t") is None


def test_unsealed_markers_name_the_provider_but_never_verify() -> None:
    marker = unsealed("deepseek")
    assert claimed_provider(marker) == "deepseek" and SEALER.open(marker, "t") is None
    assert claimed_provider("EqQB") is None and claimed_provider(PREFIX + "%%%") is None


def test_signatures_are_classified_as_ours_or_anthropics() -> None:
    assert is_qlaud(unsealed("x")) and is_qlaud("qlaud:v1:responses-blob")
    assert is_anthropic("EqQBCgIYAh") and not is_anthropic("") and not is_anthropic(None)
    assert not is_anthropic(SEALER.seal("x", "y")) and not is_qlaud(None)


def test_a_sealer_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        Sealer(b"")


def test_think_tags_split_anywhere_route_reasoning_out_of_the_content() -> None:
    assert split_think("<think>\nplan\n</think>\n\nanswer <think> literal") == [
        ("thinking", "\nplan\n"),
        ("text", "answer "),
        ("thinking", " literal"),
    ]
    assert split_think("no tags <thin") == [("text", "no tags "), ("text", "<thin")]
    assert split_think("<think></think>   ") == []
    splitter = ThinkSplitter()
    assert splitter.feed("<") == [] and splitter.feed("think>a</") == [("thinking", "a")]
    assert splitter.feed("think>") == [] and splitter.feed("  b") == [("text", "b")]


@given(st.text(alphabet="ab<>/thinkx \n", max_size=60), st.lists(st.integers(0, 60), max_size=8))
def test_think_splitting_does_not_depend_on_how_the_text_is_chunked(text: str, cuts: list[int]) -> None:
    bounds = sorted({min(c, len(text)) for c in cuts})
    splitter = ThinkSplitter()
    pieces = [p for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True) for p in splitter.feed(text[a:b])]
    pieces += splitter.flush()

    def joined(parts: list[tuple[str, str]]) -> tuple[str, str]:
        return "".join(t for k, t in parts if k == "thinking"), "".join(t for k, t in parts if k == "text")

    assert joined(pieces) == joined(split_think(text))


def test_provider_reasoning_items_are_sealed_with_the_text() -> None:
    items = [{"type": "reasoning.encrypted", "data": "gAAA", "index": 0}]
    signature = SEALER.seal("openrouter", "", items)
    assert SEALER.details(signature, "") == items and SEALER.open(signature, "") == "openrouter"
    assert SEALER.details(signature, "edited") is None
    tampered = signature[: signature.rindex(".") + 1] + unsealed("x", [{"type": "forged"}]).rsplit(".", 1)[1]
    assert SEALER.open(tampered, "") is None
    assert SEALER.details(SEALER.seal("groq", "t"), "t") is None


def test_unsealed_markers_can_carry_items_read_unverified() -> None:
    assert claimed_details(unsealed("openrouter", [{"type": "reasoning.text"}])) == [{"type": "reasoning.text"}]
    assert claimed_details(unsealed("openrouter")) is None and claimed_details("EqQB") is None
    assert claimed_details(PREFIX + "eA..%%%") is None
    assert claimed_details(PREFIX + "eA.." + "eyJhIjoxfQ") is None  # {"a":1} is not a list of items
