"""Responses API request -> Chat Completions (R->C) or Anthropic Messages (R->A) request. Pure, no Django.

What is accepted and how it is mapped, in short:
- `input` as a string or a list of items; message items with or without `type` (the AI SDK omits it);
  `input_text` / `input_image` / `input_file` / `output_text` / `refusal` parts; `function_call`,
  `function_call_output`, `custom_tool_call(_output)`, `reasoning` items. `web_search_call` items are dropped;
  `item_reference` must be resolved by the caller (the view, from the response store) before translation.
- `instructions`, `system` and `developer` messages become the system prompt.
- Tools: `function` and `custom` (freeform: one string parameter `input`) are forwarded; `namespace` tools are
  flattened to `<namespace>__<name>` and mapped back on the way out (`ToolNames`). Built-in tools that only run at
  OpenAI (`web_search`, `web_search_preview`, `file_search`, `code_interpreter`, `image_generation`, `computer*`,
  `mcp`, `local_shell`, `shell`, `apply_patch`, `tool_search`, ...) are DROPPED without failing the request
  (Codex sends `web_search` on every turn); their names are returned in `Translated.dropped_tools`.
- Reasoning items carrying a qlaud-sealed `encrypted_content` are restored for the upstream that can take them back:
  `reasoning_content` on the next assistant message for DeepSeek-style chat upstreams, signed `thinking` /
  `redacted_thinking` blocks for Anthropic. Anything else is dropped.
- `max_output_tokens` absent -> the host's maximum (Codex never sends it, and a truncated turn breaks it).
- `metadata`, `store`, `include`, `prompt_cache_key` (non-OpenAI), `service_tier`, `truncation`, unknown fields:
  not forwarded (echoed by the response side where the spec says so).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Unsealer = Callable[[object], "dict[str, Any] | None"]

NAMESPACE_SEPARATOR = "__"
UNSUPPORTED_FIELDS = ("conversation", "prompt", "background")
# Chat upstreams that understand `reasoning_content` on an assistant message (needed on DeepSeek tool turns).
REASONING_CONTENT_PROVIDERS = frozenset({"deepseek"})
EFFORT_BUDGET = {"low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576, "max": 24576}
EFFORT_OFF = frozenset({"none", "minimal"})
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
_DROPPED_ITEMS = frozenset({"web_search_call"})


class RequestError(Exception):
    """A client error, answered as a 400 in the OpenAI error shape."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


@dataclass(frozen=True, slots=True)
class ToolNames:
    """Upstream tool name -> (namespace, client name, kind "function" | "custom")."""

    by_upstream: dict[str, tuple[str | None, str, str]] = field(default_factory=dict)

    def to_client(self, upstream_name: str) -> tuple[str | None, str, str]:
        return self.by_upstream.get(upstream_name, (None, upstream_name, "function"))


@dataclass(frozen=True, slots=True)
class Translated:
    body: dict[str, Any]
    tools: ToolNames
    dropped_tools: tuple[str, ...] = ()


# --- shared: input normalisation, tools ------------------------------------------------------


def normalize_input(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The input as a list of typed items; raises RequestError on what qlaud cannot serve."""
    for name in UNSUPPORTED_FIELDS:
        if body.get(name):
            raise RequestError(f"'{name}' is not supported by qlaud.", param=name)
    raw = body.get("input")
    if raw is None:
        raise RequestError("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise RequestError("'input' must be a string or a list of items.", param="input")
    return [_typed(item, i) for i, item in enumerate(raw)]


def _typed(item: object, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise RequestError(f"Invalid input item at index {index}.", param=f"input[{index}]")
    if "type" not in item and "role" in item:
        return {**item, "type": "message"}
    if "type" not in item and "id" in item:
        return {**item, "type": "item_reference"}
    return item


def text_of(content: object) -> str:
    """The text of a string or a part list (images and files ignored)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [p.get("text") or p.get("refusal") or "" for p in content if isinstance(p, dict)]
    return "".join(t for t in texts if isinstance(t, str))


def _flat_name(namespace: str | None, name: str) -> str:
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def collect_tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], ToolNames, tuple[str, ...]]:
    """Function-like tools flattened as (name, description, parameters), the name map, the dropped built-ins.
    A `tool_choice` of type `allowed_tools` keeps only the tools it lists."""
    flat, names, dropped = _flatten_tools(body.get("tools"))
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = {_flat_name(t.get("namespace"), t.get("name") or "") for t in choice.get("tools") or []}
        flat = [t for t in flat if t["name"] in allowed]
    return flat, names, dropped


def _flatten_tools(tools: object) -> tuple[list[dict[str, Any]], ToolNames, tuple[str, ...]]:
    flat: list[dict[str, Any]] = []
    names: dict[str, tuple[str | None, str, str]] = {}
    dropped: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "namespace":
            for inner in tool.get("tools") or []:
                _add_tool(flat, names, inner, tool.get("name"), tool.get("description"))
        elif kind in ("function", "custom"):
            _add_tool(flat, names, tool, None, None)
        else:
            dropped.append(str(kind))
    return flat, ToolNames(names), tuple(dropped)


def _add_tool(flat: list, names: dict, tool: dict, namespace: str | None, ns_description: str | None) -> None:
    kind = tool.get("type", "function")
    if kind not in ("function", "custom"):
        return
    if not tool.get("name") or not isinstance(tool["name"], str):
        raise RequestError("Function and custom tools need a name (a string).", param="tools")
    upstream = _flat_name(namespace, tool["name"])
    description = tool.get("description") or ""
    if ns_description:
        description = f"{ns_description}\n\n{description}".strip()
    if kind == "custom":
        params: Any = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
    else:
        params = tool.get("parameters") or {"type": "object", "properties": {}}
    flat.append({"name": upstream, "description": description, "parameters": params, "strict": tool.get("strict")})
    names[upstream] = (namespace, tool["name"], kind)


def _choice_name(choice: dict[str, Any], names: ToolNames) -> str | None:
    wanted = _flat_name(choice.get("namespace"), choice.get("name") or "")
    return wanted if wanted in names.by_upstream else None


def _call_arguments(item: dict[str, Any]) -> str:
    if item["type"] == "custom_tool_call":
        return json.dumps({"input": item.get("input", "")})
    return item.get("arguments") or "{}"


def _call_name(item: dict[str, Any]) -> str:
    return _flat_name(item.get("namespace"), item.get("name", ""))


def _output_parts(output: object) -> tuple[str, list[dict[str, Any]]]:
    """A tool output as (text, image parts)."""
    if isinstance(output, str):
        return output, []
    parts = output if isinstance(output, list) else []
    images = [p for p in parts if isinstance(p, dict) and p.get("type") == "input_image"]
    return text_of(parts), images


def _check_item(item: dict[str, Any], index: int) -> None:
    if item.get("type") == "item_reference":
        raise RequestError(
            f"Item with id '{item.get('id')}' not found. Send the full item, or set store to true on the turn "
            "that produced it.",
            param=f"input[{index}]",
        )
    if "file_id" in item:
        raise RequestError("file_id references are not supported; send the file inline.", param=f"input[{index}]")


def _reasoning_payload(item: dict[str, Any], unseal: Unsealer) -> dict[str, Any]:
    payload = unseal(item.get("encrypted_content"))
    if payload is not None:
        return payload
    summary = "".join(text_of([s]) for s in item.get("summary") or [] if isinstance(s, dict))
    return {"p": None, "k": "summary", "t": summary}


# --- R -> C ------------------------------------------------------------------------------------


def responses_to_chat(
    body: dict[str, Any], *, provider: str, max_output_tokens: int | None, unseal: Unsealer
) -> Translated:
    items = normalize_input(body)
    flat, names, dropped = collect_tools(body)
    out: dict[str, Any] = {"model": body.get("model"), "messages": _chat_messages(body, items, provider, unseal)}
    if flat:
        out["tools"] = [_chat_tool(t) for t in flat]
        out["tool_choice"] = _chat_tool_choice(body.get("tool_choice"), names)
        if body.get("parallel_tool_calls") is not None:
            out["parallel_tool_calls"] = bool(body["parallel_tool_calls"])
    limit = body.get("max_output_tokens") or max_output_tokens
    if limit:
        out["max_tokens"] = int(limit)  # the core's shaping renames it per upstream (max_completion_tokens)
    _chat_options(body, out, provider)
    return Translated(out, names, dropped)


def _chat_options(body: dict[str, Any], out: dict[str, Any], provider: str) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    user = body.get("safety_identifier") or body.get("user")
    if user:
        out["user"] = user
    effort = (body.get("reasoning") or {}).get("effort")
    if effort and effort not in EFFORT_OFF:
        out["reasoning_effort"] = effort  # the core's shaping remaps values per upstream (xhigh -> max, ...)
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    if provider == "openai" and body.get("prompt_cache_key"):
        out["prompt_cache_key"] = body["prompt_cache_key"]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


def _chat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = {k: tool[k] for k in ("name", "description", "parameters") if tool[k] != ""}
    if tool.get("strict") is True:
        function["strict"] = True
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: object, names: ToolNames) -> object:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        name = _choice_name(choice, names)
        return {"type": "function", "function": {"name": name}} if name else "auto"
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"
    return "auto"


def _chat_messages(body: dict[str, Any], items: list[dict[str, Any]], provider: str, unseal: Unsealer) -> list:
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    pending_reasoning: str | None = None
    for index, item in enumerate(items):
        _check_item(item, index)
        kind = item.get("type")
        if kind == "reasoning":
            pending_reasoning = _chat_reasoning(item, provider, unseal) or pending_reasoning
        elif kind == "message":
            _chat_message(messages, item, pending_reasoning)
            pending_reasoning = None if item.get("role") == "assistant" else pending_reasoning
        elif kind in ("function_call", "custom_tool_call"):
            _chat_call(messages, item, pending_reasoning)
            pending_reasoning = None
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _chat_tool_output(messages, item)
        elif kind not in _DROPPED_ITEMS:
            raise RequestError(f"Input items of type '{kind}' are not supported.", param=f"input[{index}]")
    return _merge_leading_system(messages)


def _chat_reasoning(item: dict[str, Any], provider: str, unseal: Unsealer) -> str | None:
    payload = _reasoning_payload(item, unseal)
    same_origin = payload.get("p") == provider and payload.get("k") == "text"
    if provider in REASONING_CONTENT_PROVIDERS or same_origin:
        return payload.get("t") or None
    return None


def _chat_message(messages: list, item: dict[str, Any], reasoning: str | None) -> None:
    role = item.get("role")
    content = item.get("content")
    if role in ("system", "developer"):
        messages.append({"role": "system", "content": text_of(content)})
    elif role == "assistant":
        message = {"role": "assistant", "content": text_of(content) or None}
        if reasoning:
            message["reasoning_content"] = reasoning
        messages.append(message)
    elif role == "user":
        messages.append({"role": "user", "content": _chat_user_content(content)})
    else:
        raise RequestError(f"Invalid message role '{role}'.", param="input")


def _chat_user_content(content: object) -> object:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "input_image":
            parts.append(_chat_image(part))
        elif kind == "input_file" and part.get("file_data"):
            parts.append({"type": "file", "file": {"file_data": part["file_data"], "filename": part.get("filename")}})
        else:
            raise RequestError(f"Content parts of type '{kind}' are not supported here.", param="input")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _chat_image(part: dict[str, Any]) -> dict[str, Any]:
    if not part.get("image_url"):
        raise RequestError("input_image needs an image_url (file_id is not supported).", param="input")
    image: dict[str, Any] = {"url": part["image_url"]}
    if part.get("detail") in ("low", "high", "auto"):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _chat_call(messages: list, item: dict[str, Any], reasoning: str | None) -> None:
    call = {
        "id": item.get("call_id"),
        "type": "function",
        "function": {"name": _call_name(item), "arguments": _call_arguments(item)},
    }
    last = messages[-1] if messages else None
    if last is None or last["role"] != "assistant" or reasoning:
        last = {"role": "assistant", "content": None}
        messages.append(last)
    last.setdefault("tool_calls", []).append(call)
    if reasoning:
        last["reasoning_content"] = reasoning


def _chat_tool_output(messages: list, item: dict[str, Any]) -> None:
    text, images = _output_parts(item.get("output"))
    messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
    if images:
        messages.append({"role": "user", "content": [_chat_image(p) for p in images]})


def _merge_leading_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lead = 0
    while lead < len(messages) and messages[lead]["role"] == "system":
        lead += 1
    if lead < 2:
        return messages
    merged = "\n\n".join(m["content"] for m in messages[:lead] if m["content"])
    return [{"role": "system", "content": merged}, *messages[lead:]]


# --- R -> A ------------------------------------------------------------------------------------


ANTHROPIC_DEFAULT_MAX_TOKENS = 8192
_ANTHROPIC_REASONING_KINDS = frozenset({"thinking", "redacted"})


def responses_to_anthropic(
    body: dict[str, Any], *, provider: str, max_output_tokens: int | None, unseal: Unsealer
) -> Translated:
    items = normalize_input(body)
    flat, names, dropped = collect_tools(body)
    system, messages = _anthropic_messages(body, items, unseal)
    limit = body.get("max_output_tokens") or max_output_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS
    out: dict[str, Any] = {"model": body.get("model"), "max_tokens": int(limit), "messages": messages}
    if system:
        out["system"] = [{"type": "text", "text": text} for text in system]
    if flat:
        out["tools"] = [
            {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]} for t in flat
        ]
        out["tools"] = [{k: v for k, v in t.items() if v != ""} for t in out["tools"]]
        out["tool_choice"] = _anthropic_tool_choice(body, names)
    _anthropic_options(body, out)
    _anthropic_thinking(body, out)
    return Translated(out, names, dropped)


def _anthropic_options(body: dict[str, Any], out: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = min(max(float(body[key]), 0.0), 1.0)
    user = body.get("safety_identifier") or body.get("user")
    if user:
        out["metadata"] = {"user_id": user}
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema" and fmt.get("schema"):
        out["output_config"] = {"format": {"type": "json_schema", "schema": fmt["schema"]}}
    if body.get("stream"):
        out["stream"] = True


def _anthropic_thinking(body: dict[str, Any], out: dict[str, Any]) -> None:
    budget = EFFORT_BUDGET.get((body.get("reasoning") or {}).get("effort") or "")
    if not budget or _last_tool_turn_lacks_thinking(out["messages"]):
        return  # Anthropic refuses a tool continuation whose assistant turn lost its signed thinking
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if out["max_tokens"] <= budget:
        out["max_tokens"] = budget + out["max_tokens"]
    out.pop("temperature", None)
    out.pop("top_p", None)
    if isinstance(out.get("tool_choice"), dict) and out["tool_choice"].get("type") in ("any", "tool"):
        out["tool_choice"] = {**out["tool_choice"], "type": "auto"}
        out["tool_choice"].pop("name", None)


def _last_tool_turn_lacks_thinking(messages: list[dict[str, Any]]) -> bool:
    assistants = [m for m in messages if m["role"] == "assistant"]
    if not assistants:
        return False
    blocks = assistants[-1]["content"]
    has_tool = any(b["type"] == "tool_use" for b in blocks)
    return has_tool and blocks[0]["type"] not in ("thinking", "redacted_thinking")


def _anthropic_tool_choice(body: dict[str, Any], names: ToolNames) -> dict[str, Any]:
    choice = body.get("tool_choice")
    mapped: dict[str, Any] = {"type": "auto"}
    if choice == "none":
        mapped = {"type": "none"}
    elif choice == "required" or (isinstance(choice, dict) and choice.get("mode") == "required"):
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") in ("function", "custom") and _choice_name(choice, names):
        mapped = {"type": "tool", "name": _choice_name(choice, names)}
    if body.get("parallel_tool_calls") is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _anthropic_messages(
    body: dict[str, Any], items: list[dict[str, Any]], unseal: Unsealer
) -> tuple[list[str], list[dict[str, Any]]]:
    system = [body["instructions"]] if body.get("instructions") else []
    messages: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        _check_item(item, index)
        kind, role = item.get("type"), item.get("role")
        if kind == "reasoning":
            thinking.extend(_anthropic_reasoning(item, unseal))
        elif kind == "message" and role in ("system", "developer"):
            system.append(text_of(item.get("content")))
        elif kind == "message" and role in ("user", "assistant"):
            blocks = _anthropic_user_blocks(item.get("content")) if role == "user" else _assistant_text(item)
            thinking = _append(messages, role, blocks, thinking if role == "assistant" else [])
        elif kind in ("function_call", "custom_tool_call"):
            thinking = _append(messages, "assistant", [_tool_use(item)], thinking)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _append(messages, "user", _tool_result(item), [])
        elif kind not in _DROPPED_ITEMS:
            raise RequestError(f"Input items of type '{kind}' are not supported.", param=f"input[{index}]")
    return [s for s in system if s], [m for m in messages if m["content"]]


def _append(messages: list, role: str, blocks: list[dict[str, Any]], thinking: list[dict[str, Any]]) -> list:
    """Append blocks to the last message when the role repeats; returns the reasoning still pending."""
    last = messages[-1] if messages else None
    if last is None or last["role"] != role or (thinking and role == "assistant"):
        last = {"role": role, "content": [*thinking]}
        messages.append(last)
        thinking = []
    if role == "user":  # tool_results must lead a user turn
        results = [b for b in [*last["content"], *blocks] if b["type"] == "tool_result"]
        last["content"] = results + [b for b in [*last["content"], *blocks] if b["type"] != "tool_result"]
    else:
        last["content"].extend(blocks)
    return thinking


def _anthropic_reasoning(item: dict[str, Any], unseal: Unsealer) -> list[dict[str, Any]]:
    payload = unseal(item.get("encrypted_content"))
    if payload is None or payload.get("k") not in _ANTHROPIC_REASONING_KINDS:
        return []
    if payload["k"] == "redacted":
        return [{"type": "redacted_thinking", "data": payload.get("d", "")}]
    return [{"type": "thinking", "thinking": payload.get("t", ""), "signature": payload.get("s", "")}]


def _assistant_text(item: dict[str, Any]) -> list[dict[str, Any]]:
    text = text_of(item.get("content"))
    return [{"type": "text", "text": text}] if text else []


def _tool_use(item: dict[str, Any]) -> dict[str, Any]:
    try:
        arguments = json.loads(_call_arguments(item) or "{}")
    except ValueError:
        arguments = {}
    return {"type": "tool_use", "id": item.get("call_id"), "name": _call_name(item), "input": arguments}


def _tool_result(item: dict[str, Any]) -> list[dict[str, Any]]:
    text, images = _output_parts(item.get("output"))
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [_anthropic_image(p) for p in images]
    return [{"type": "tool_result", "tool_use_id": item.get("call_id"), "content": content}]


def _anthropic_user_blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            blocks.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "input_image":
            blocks.append(_anthropic_image(part))
        elif kind == "input_file" and str(part.get("file_data", "")).startswith("data:application/pdf;base64,"):
            data = part["file_data"].split(",", 1)[1]
            blocks.append(
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}
            )
        else:
            raise RequestError(f"Content parts of type '{kind}' are not supported here.", param="input")
    return blocks


def _anthropic_image(part: dict[str, Any]) -> dict[str, Any]:
    url = part.get("image_url")
    if not url:
        raise RequestError("input_image needs an image_url (file_id is not supported).", param="input")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0]
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}
