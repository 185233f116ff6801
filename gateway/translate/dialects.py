"""Canonical Chat Completions out of each provider's dialect, for the same-dialect pass-through. Pure, no Django.

"Pass-through" means no translation between APIs, never the raw bytes of a quirky provider: a client of
``/v1/chat/completions`` always gets string ``content``, ``reasoning_content`` for reasoning, and ``tool_calls`` with
``index``, ``id`` and ``type``. ``QUIRKS`` lists, per provider family, what its answers get wrong (providers.md);
a provider not listed (OpenAI itself) needs nothing and stays on the cheap path (``normaliser_for`` gives None).

- ``normaliser_for(provider, *, remember=False) -> ChunkNormaliser | None``: one per streamed answer;
  ``chunk(data) -> data`` rewrites a parsed chunk (the choices only; usage is the relay's); ``reasoning_by_tool()``
  (with ``remember``): this answer's reasoning by tool-call id, for DeepSeek's replay memory.
- ``normalise_answer(body, provider) -> body``: the same for a whole ``chat.completion``.
- ``reasoning_of_answer(body) -> dict``: a whole answer's reasoning by tool-call id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.translate.reasoning import ThinkSplitter, split_think

__all__ = ["QUIRKS", "ChunkNormaliser", "Quirks", "normalise_answer", "normaliser_for", "reasoning_of_answer"]


@dataclass(frozen=True, slots=True)
class Quirks:
    content_parts: bool = False  # content may be a list of text / thinking parts (Mistral Magistral)
    reasoning_field: str | None = None  # reasoning under another name ("reasoning": Groq, Cerebras, OpenRouter)
    inline_think: bool = False  # reasoning as <think>...</think> inside content (Workers AI R1-style models)
    tool_fields: bool = False  # streamed tool calls may lack index / type (Mistral, Gemini; Gemini reuses index 0)
    stop_with_tools: bool = False  # finish_reason "stop" on a tool-call answer (Gemini, streaming)
    finish: dict[str, str] = field(default_factory=dict)  # non-standard finish reasons
    usage: bool = False  # usage not in the canonical shape (x_groq, DeepSeek cache fields, xAI reasoning outside)


_GEMINI = Quirks(tool_fields=True, stop_with_tools=True)

QUIRKS: dict[str, Quirks] = {
    "mistral": Quirks(content_parts=True, tool_fields=True, finish={"model_length": "length"}, usage=True),
    "groq": Quirks(reasoning_field="reasoning", usage=True),
    "cerebras": Quirks(reasoning_field="reasoning"),
    "openrouter": Quirks(reasoning_field="reasoning", usage=True),
    "xai": Quirks(usage=True),
    "deepseek": Quirks(usage=True),
    "workers-ai": Quirks(inline_think=True),
    "google-ai-studio": _GEMINI,
    "vertex": _GEMINI,
}
_NONE = Quirks()


def quirks_of(provider: str) -> Quirks:
    return QUIRKS.get(provider, _NONE)


def normaliser_for(provider: str, *, remember: bool = False) -> ChunkNormaliser | None:
    quirks = QUIRKS.get(provider)
    if quirks is None and not remember:
        return None
    return ChunkNormaliser(quirks or _NONE, remember)


class ChunkNormaliser:
    """One streamed answer: tool-call indexes handed out by id, <think> split across chunks, reasoning remembered."""

    def __init__(self, quirks: Quirks, remember: bool = False) -> None:
        self.quirks = quirks
        self.remember = remember
        self._ids: dict[str, int] = {}  # tool-call id -> canonical index
        self._by_upstream: dict[Any, int] = {}  # upstream index -> canonical index
        self._last = 0
        self._think = ThinkSplitter() if quirks.inline_think else None
        self._reasoning: list[str] = []

    def chunk(self, data: dict[str, Any]) -> dict[str, Any]:
        choices = data.get("choices")
        if not choices:
            return data
        return {**data, "choices": [self._choice(c) if isinstance(c, dict) else c for c in choices]}

    def reasoning_by_tool(self) -> dict[str, str]:
        if not self.remember:
            return {}
        reasoning = "".join(self._reasoning)
        return {tool_id: reasoning for tool_id in self._ids}

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        delta = choice.get("delta")
        finish = choice.get("finish_reason")
        if not isinstance(delta, dict):
            delta = {}
        delta = _message(delta, self.quirks, self._split)
        if finish and self._think is not None:
            _add_parts(delta, self._think.flush())
        if "tool_calls" in delta:
            calls = [self._call(c) for c in delta.get("tool_calls") or () if isinstance(c, dict)]
            if calls:
                delta["tool_calls"] = calls
            else:
                del delta["tool_calls"]  # Groq via proxies: [] on every chunk means "no tool data"
        if self.remember and isinstance(delta.get("reasoning_content"), str):
            self._reasoning.append(delta["reasoning_content"])
        return {**choice, "delta": delta, "finish_reason": _finish(finish, self.quirks, bool(self._ids))}

    def _split(self, text: str) -> list[tuple[str, str]]:
        return self._think.feed(text) if self._think is not None else [("text", text)]

    def _call(self, call: dict[str, Any]) -> dict[str, Any]:
        call_id = call.get("id")
        if call_id:
            index = self._ids.setdefault(call_id, len(self._ids))
            if call.get("index") is not None:
                self._by_upstream[call["index"]] = index
        else:
            index = self._by_upstream.get(call.get("index"), self._last)
        self._last = index
        out = {**call, "index": index}
        if call_id and not out.get("type"):
            out["type"] = "function"
        return _string_arguments(out)


def normalise_answer(body: dict[str, Any], provider: str) -> dict[str, Any]:
    quirks = QUIRKS.get(provider)
    if quirks is None or not isinstance(body.get("choices"), list):
        return body
    choices = []
    for choice in body["choices"]:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            choices.append(choice)
            continue
        message = _message(message, quirks, _whole_think if quirks.inline_think else _plain)
        calls = [_whole_call(c) for c in message.get("tool_calls") or () if isinstance(c, dict)]
        if calls:
            message["tool_calls"] = calls
        else:
            message.pop("tool_calls", None)
        finish = _finish(choice.get("finish_reason"), quirks, bool(calls))
        choices.append({**choice, "message": message, "finish_reason": finish})
    return {**body, "choices": choices}


def reasoning_of_answer(body: dict[str, Any]) -> dict[str, str]:
    message = ((body.get("choices") or [{}])[0] or {}).get("message") or {}
    reasoning = message.get("reasoning_content")
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict) and c.get("id")]
    return {c["id"]: reasoning for c in calls} if isinstance(reasoning, str) else {}


# -- shared steps ----------------------------------------------------------------------------------------------------


def _plain(text: str) -> list[tuple[str, str]]:
    return [("text", text)]


def _whole_think(text: str) -> list[tuple[str, str]]:
    return split_think(text)


def _message(message: dict[str, Any], quirks: Quirks, split: Any) -> dict[str, Any]:
    """A message or delta with string content and reasoning under reasoning_content."""
    out = dict(message)
    name = quirks.reasoning_field
    if name and name in out:
        moved = out.pop(name)
        if isinstance(moved, str) and moved and not out.get("reasoning_content"):
            out["reasoning_content"] = moved
    content = out.get("content")
    if isinstance(content, list) and quirks.content_parts:
        out["content"] = None
        _add_parts(out, _parts(content))
    elif isinstance(content, str) and content and quirks.inline_think:
        out["content"] = None
        _add_parts(out, split(content))
    return out


def _add_parts(message: dict[str, Any], parts: list[tuple[str, str]]) -> None:
    for kind, text in parts:
        key = "reasoning_content" if kind == "thinking" else "content"
        message[key] = (message.get(key) or "") + text


def _parts(content: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append(("text", part["text"]))
        elif part.get("type") == "thinking":
            inner = part.get("thinking")
            if not isinstance(inner, str):
                inner = "".join(p.get("text") or "" for p in inner or () if isinstance(p, dict))
            out.append(("thinking", inner))
    return out


def _finish(finish: Any, quirks: Quirks, saw_tool: bool) -> Any:
    if not finish:
        return finish
    finish = quirks.finish.get(finish, finish)
    return "tool_calls" if quirks.stop_with_tools and saw_tool and finish == "stop" else finish


def _whole_call(call: dict[str, Any]) -> dict[str, Any]:
    out = {**call}
    out.setdefault("type", "function")
    out.pop("index", None)
    return _string_arguments(out)


def _string_arguments(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    if isinstance(function, dict) and function.get("arguments") is not None:
        arguments = function["arguments"]
        if not isinstance(arguments, str):
            call["function"] = {**function, "arguments": json.dumps(arguments, ensure_ascii=False)}
    return call
