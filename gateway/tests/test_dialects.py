"""The chat pass-through makes each provider's answers canonical Chat Completions (gateway.translate.dialects)."""

from __future__ import annotations

import json
from typing import Any

from gateway.tests import fake_upstream as fu
from gateway.translate.dialects import normalise_answer, normaliser_for, reasoning_of_answer

TOOL = ("call_1", "get_weather", {"city": "Paris"})


def _streamed(provider: str, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client accumulates from the normalised chunks, with the checks the openai SDK makes."""
    n = normaliser_for(provider)
    assert n is not None
    out: dict[str, Any] = {"content": "", "reasoning": "", "calls": {}, "finish": None}
    for raw in chunks:
        for choice in n.chunk(raw).get("choices") or ():
            delta = choice["delta"]
            assert not isinstance(delta.get("content"), list)
            out["content"] += delta.get("content") or ""
            out["reasoning"] += delta.get("reasoning_content") or ""
            assert "reasoning" not in delta
            for call in delta.get("tool_calls") or ():
                assert "index" in call, "Expected list delta entry to have an `index` key"
                known = out["calls"].setdefault(call["index"], {"id": None, "type": None, "arguments": ""})
                known["id"] = call.get("id") or known["id"]
                known["type"] = call.get("type") or known["type"]
                known["arguments"] += (call.get("function") or {}).get("arguments") or ""
            out["finish"] = choice.get("finish_reason") or out["finish"]
    return out


def test_a_plain_openai_host_stays_on_the_cheap_path():
    assert normaliser_for("openai") is None
    body = {"choices": [{"message": {"content": "hi"}}]}
    assert normalise_answer(body, "openai") is body


def test_mistral_thinking_parts_become_reasoning_content_and_text_a_string():
    answer = fu.Answer(reasoning="391 = 17 * 23.", text="391")
    got = _streamed("mistral", fu.mistral_chunks(answer, {"model": "mistral/magistral"}))
    assert (got["reasoning"], got["content"], got["finish"]) == ("391 = 17 * 23.", "391", "stop")


def test_mistral_tool_calls_get_an_index_and_a_type():
    answer = fu.Answer(tools=[TOOL, ("call_2", "get_weather", {"city": "Rome"})])
    got = _streamed("mistral", fu.mistral_chunks(answer, {"model": "mistral/x"}))
    assert got["calls"] == {
        0: {"id": "call_1", "type": "function", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_2", "type": "function", "arguments": '{"city": "Rome"}'},
    }
    assert got["finish"] == "tool_calls"


def test_a_whole_mistral_answer_has_string_content_and_reasoning():
    body = fu.openai_message(fu.Answer(reasoning="Think.", text="391"), {"model": "mistral/magistral"})
    assert isinstance(body["choices"][0]["message"]["content"], list)
    message = normalise_answer(body, "mistral")["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("391", "Think.")


def test_mistral_model_length_is_length():
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "model_length"}]}
    assert normaliser_for("mistral").chunk(chunk)["choices"][0]["finish_reason"] == "length"  # type: ignore[union-attr]


def test_gemini_parallel_calls_reusing_index_0_get_their_own_indexes_and_finish_with_tool_calls():
    chunks = [
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}}
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    got = _streamed("google-ai-studio", chunks)
    assert [got["calls"][i]["id"] for i in (0, 1)] == ["a", "b"]
    assert got["finish"] == "tool_calls"


def test_groq_and_openrouter_reasoning_arrives_as_reasoning_content():
    for provider in ("groq", "openrouter", "cerebras"):
        body = {"model": f"{provider}/x"}
        chunks = fu.openai_chunks(fu.Answer(reasoning="Hmm.", text="ok"), body, include_usage=False)
        if provider == "cerebras":
            chunks = [json.loads(json.dumps(c).replace("reasoning_content", "reasoning")) for c in chunks]
        got = _streamed(provider, chunks)
        assert (got["reasoning"], got["content"]) == ("Hmm.", "ok"), provider


def test_empty_tool_call_lists_mean_no_tool_data():
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi", "tool_calls": []}}]}
    assert "tool_calls" not in normaliser_for("groq").chunk(chunk)["choices"][0]["delta"]  # type: ignore[union-attr]


def test_workers_ai_inline_think_is_split_even_across_chunks():
    parts = ["<thi", "nk>pond", "er</th", "ink>answer"]
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in parts]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    got = _streamed("workers-ai", chunks)
    assert (got["reasoning"], got["content"]) == ("ponder", "answer")
    whole = normalise_answer({"choices": [{"message": {"content": "<think>a</think>b"}}]}, "workers-ai")
    assert whole["choices"][0]["message"] == {"content": "b", "reasoning_content": "a"}


def test_the_reasoning_behind_tool_calls_is_remembered_by_id():
    n = normaliser_for("deepseek", remember=True)
    answer = fu.Answer(reasoning="Use the tool.", tools=[TOOL])
    for chunk in fu.openai_chunks(answer, {"model": "deepseek/x"}, include_usage=True):
        n.chunk(chunk)  # type: ignore[union-attr]
    assert n.reasoning_by_tool() == {"call_1": "Use the tool."}  # type: ignore[union-attr]
    whole = fu.openai_message(answer, {"model": "deepseek/x"})
    assert reasoning_of_answer(whole) == {"call_1": "Use the tool."}
