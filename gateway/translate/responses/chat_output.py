"""Responses output -> Chat Completions output (R->C out). Pure, no Django.

Cursor's "Override OpenAI Base URL" posts a Responses API body to /v1/chat/completions and reads the answer as Chat
Completions (`chat.completion.chunk` deltas, then `[DONE]`). qlaud serves such a body through the Responses
translation and presents its output here:

- `response_to_completion(response, include)`: a whole Response object -> a `chat.completion`.
- `ResponsesToChat(include_usage)`: one per stream; `feed(event) -> list[chunk]` for each Responses event, a chunk
  being a dict to send as one SSE `data:` line, or `DONE` after the last one.

Function calls become `tool_calls` of type `function`; freeform (custom) tool calls become tool calls of type
`custom` with `custom: {name, input}` (the raw input, delivered whole when the call is done). Reasoning summaries
become `reasoning_content`. The usage (with qlaud's `cost` / `cost_micros` when present) is mapped to Chat names.
"""

from __future__ import annotations

from typing import Any

DONE = "[DONE]"
INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def chat_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Responses usage object in Chat Completions names; qlaud's cost fields ride along."""
    if not usage:
        return None
    prompt, completion = usage.get("input_tokens") or 0, usage.get("output_tokens") or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)},
        "completion_tokens_details": {
            "reasoning_tokens": (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
        },
    }
    for name in ("cost", "cost_micros"):
        if name in usage:
            out[name] = usage[name]
    return out


def finish_reason(response: dict[str, Any], called: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return INCOMPLETE_FINISH.get(reason or "", "length")
    return "tool_calls" if called else "stop"


def tool_call(item: dict[str, Any]) -> dict[str, Any] | None:
    """A function_call or custom_tool_call output item as a Chat tool call (None for other items)."""
    if item.get("type") == "function_call":
        function = {"name": item.get("name", ""), "arguments": item.get("arguments") or ""}
        return {"id": item.get("call_id", ""), "type": "function", "function": function}
    if item.get("type") == "custom_tool_call":
        custom = {"name": item.get("name", ""), "input": item.get("input") or ""}
        return {"id": item.get("call_id", ""), "type": "custom", "custom": custom}
    return None


def completion_id(response: dict[str, Any]) -> str:
    return "chatcmpl-" + str(response.get("id", "")).removeprefix("resp_")


def response_to_completion(response: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.get("output") or []:
        if item.get("type") == "message":
            texts += [p.get("text") or "" for p in item.get("content") or [] if p.get("type") == "output_text"]
        elif item.get("type") == "reasoning":
            reasoning += [s.get("text") or "" for s in item.get("summary") or []]
        else:
            call = tool_call(item)
            calls += [call] if call else []
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(response, bool(calls))}
    return {
        "id": completion_id(response),
        "object": "chat.completion",
        "created": response.get("created_at", 0),
        "model": response.get("model", ""),
        "choices": [choice],
        "usage": chat_usage(response.get("usage")),
    }


class ResponsesToChat:
    """Responses stream events in, Chat Completions chunks out; state: the open tool calls and the envelope."""

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.envelope: dict[str, Any] = {}
        self.calls: dict[str, int] = {}  # Responses item id -> Chat tool call index
        self.ended = False

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        if self.ended:
            return []
        handler = _HANDLERS.get(event.get("type", ""))
        return handler(self, event) if handler else []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self.envelope, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def _created(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        response = event.get("response") or {}
        self.envelope = {
            "id": completion_id(response),
            "object": "chat.completion.chunk",
            "created": response.get("created_at", 0),
            "model": response.get("model", ""),
        }
        return [self._chunk({"role": "assistant", "content": ""})]

    def _text(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        return [self._chunk({"content": event.get("delta", "")})]

    def _reasoning(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        return [self._chunk({"reasoning_content": event.get("delta", "")})]

    def _item_added(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []  # a custom tool call's input comes whole when it is done
        return [self._call_delta(item, tool_call(item))]

    def _arguments(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        index = self.calls.get(event.get("item_id", ""))
        if index is None:
            return []
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": event.get("delta", "")}}]})]

    def _item_done(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        item = event.get("item") or {}
        if item.get("type") != "custom_tool_call":
            return []
        return [self._call_delta(item, tool_call(item))]

    def _call_delta(self, item: dict[str, Any], call: dict[str, Any] | None) -> dict[str, Any]:
        index = self.calls.setdefault(item.get("id", ""), len(self.calls))
        return self._chunk({"tool_calls": [{"index": index, **(call or {})}]})

    def _terminal(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        self.ended = True
        response = event.get("response") or {}
        out: list[dict[str, Any] | str] = [self._chunk({}, finish_reason(response, bool(self.calls)))]
        if self.include_usage:
            out.append({**self.envelope, "choices": [], "usage": chat_usage(response.get("usage"))})
        return [*out, DONE]

    def _error(self, event: dict[str, Any]) -> list[dict[str, Any] | str]:
        self.ended = True
        error = event.get("error") or {}
        message = error.get("message") or event.get("message") or "The upstream failed."
        return [{"error": {"message": message, "type": error.get("type", "server_error"), "param": None, "code": None}}]


_HANDLERS = {
    "response.created": ResponsesToChat._created,
    "response.output_text.delta": ResponsesToChat._text,
    "response.reasoning_summary_text.delta": ResponsesToChat._reasoning,
    "response.output_item.added": ResponsesToChat._item_added,
    "response.function_call_arguments.delta": ResponsesToChat._arguments,
    "response.output_item.done": ResponsesToChat._item_done,
    "response.completed": ResponsesToChat._terminal,
    "response.incomplete": ResponsesToChat._terminal,
    "response.failed": ResponsesToChat._error,
    "error": ResponsesToChat._error,
}
