"""Request bodies: Anthropic Messages <-> OpenAI Chat Completions, and same-dialect shaping. Pure, no Django.

- ``Target``: where the request goes (dialect, provider slug, upstream model id, limits, capabilities).
- ``anthropic_to_openai(body, target, *, sealer=None) -> dict``: an Anthropic Messages body as the upstream's
  OpenAI-compatible body.
- ``openai_to_anthropic(body, target, *, sealer=None) -> dict``: the reverse.
- ``shape_openai(body, target, *, sealer=None, reasoning=None)`` / ``shape_anthropic(body, target, *, sealer=None)``:
  same-dialect pass-through with the fields the target does not accept dropped or renamed and ``model`` replaced;
  ``reasoning`` restores remembered DeepSeek reasoning on tool-call turns (else thinking goes off for the request).
- ``TranslationError``: the request cannot be expressed for this target (answer 400 ``invalid_request_error``).

``stream`` is preserved; OpenAI-dialect streaming targets that accept it get ``stream_options.include_usage`` so
billing always has usage (the relay drops the usage chunk if the client did not ask for it). Provider differences
come from the table in ``gateway.translate.shaping``, never from ifs on provider names here. Reasoning replay:
thinking blocks sealed by qlaud go back to the provider that produced them as it requires (DeepSeek:
``reasoning_content`` on the assistant turn), see ``gateway.translate.reasoning``. Message-level conversion lives in
``gateway.translate.history``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.translate import history as msgs
from gateway.translate import shaping
from gateway.translate.answer import thought_signature
from gateway.translate.history import TranslationError
from gateway.translate.reasoning import Sealer, is_anthropic
from gateway.translate.shaping import Rules, Target, rules_for
from lib import jsonio

__all__ = [
    "Target",
    "TranslationError",
    "anthropic_to_openai",
    "openai_to_anthropic",
    "shape_anthropic",
    "shape_openai",
]


# -- Anthropic -> OpenAI ---------------------------------------------------------------------------------------------

_A2O_TOOL_CHOICE = {"auto": "auto", "any": "required", "none": "none"}
_ANTHROPIC_CHOICES = frozenset({*_A2O_TOOL_CHOICE, "tool"})


def anthropic_to_openai(
    body: dict[str, Any],
    target: Target,
    *,
    sealer: Sealer | None = None,
    thought_signatures: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``thought_signatures``: Gemini signatures the gateway stored by tool-call id (``OpenAIToAnthropic``'s
    ``thought_signatures`` from the previous answers), re-attached to those calls for targets that need them."""
    rules = rules_for(target)
    system, rest = msgs.split_anthropic_system(body)
    messages = [{"role": "system", "content": system}] if system else []
    messages += msgs.a2o_messages(rest, target, rules, sealer)
    if rules.thought_signatures and thought_signatures:
        _attach_thought_signatures(messages, thought_signatures)
    out: dict[str, Any] = {"model": target.upstream_model, "messages": messages}
    _copy(body, out, ("temperature", "top_p", "top_k", "stream"))
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id:
        out["user"] = str(user_id)
    if body.get("tools"):
        out["tools"] = [_a2o_tool(tool) for tool in body["tools"]]
        _a2o_tool_choice(body.get("tool_choice"), out)
    _a2o_reasoning(body, target, rules, out)
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if schema is not None:
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
    return _finish_openai(out, target, rules)


def _a2o_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom") or "input_schema" not in tool:
        raise TranslationError(f"tool type {tool.get('type')!r} runs only on Anthropic models", "tools")
    function = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _a2o_tool_choice(choice: dict[str, Any] | None, out: dict[str, Any]) -> None:
    if not choice:
        return
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in _A2O_TOOL_CHOICE:
        out["tool_choice"] = _A2O_TOOL_CHOICE[kind]
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _a2o_reasoning(body: dict[str, Any], target: Target, rules: Rules, out: dict[str, Any]) -> None:
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    if kind is None or not target.supports_reasoning:
        return
    on = kind != "disabled"
    budget = thinking.get("budget_tokens")
    effort = shaping.effort_for_budget(budget) if budget else (body.get("output_config") or {}).get("effort")
    _REASONING_STYLES[rules.reasoning](on, effort, budget, target, out)


def _reasoning_effort(on: bool, effort: str | None, budget: int | None, target: Target, out: dict[str, Any]) -> None:
    if on and effort:
        out["reasoning_effort"] = effort  # _finish_openai remaps or drops it per provider and model


def _reasoning_deepseek(on: bool, effort: str | None, budget: int | None, target: Target, out: dict[str, Any]) -> None:
    out["thinking"] = {"type": "enabled" if on else "disabled"}


def _reasoning_openrouter(
    on: bool, effort: str | None, budget: int | None, target: Target, out: dict[str, Any]
) -> None:
    if not on:
        out["reasoning"] = {"enabled": False}
    elif budget:
        out["reasoning"] = {"max_tokens": budget}
    else:
        out["reasoning"] = {"effort": effort} if effort else {"enabled": True}


def _reasoning_groq(on: bool, effort: str | None, budget: int | None, target: Target, out: dict[str, Any]) -> None:
    if "gpt-oss" in target.upstream_model:
        out["include_reasoning"] = on
        _reasoning_effort(on, effort, budget, target, out)
    else:
        out["reasoning_format"] = "parsed" if on else "hidden"


# (on, effort, budget_tokens, target, out): writes the reasoning fields of one upstream style into `out`.
_ReasoningStyle = Callable[[bool, str | None, int | None, Target, dict[str, Any]], None]
_REASONING_STYLES: dict[str, _ReasoningStyle] = {
    "effort": _reasoning_effort,
    "deepseek": _reasoning_deepseek,
    "openrouter": _reasoning_openrouter,
    "groq": _reasoning_groq,
    "none": lambda *args: None,
}

# -- OpenAI-dialect shaping (shared by translation and pass-through) ------------------------------------------------

_MESSAGE_REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details")


def shape_openai(
    body: dict[str, Any],
    target: Target,
    *,
    sealer: Sealer | None = None,
    reasoning: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """``reasoning``: tool-call id -> (provider, reasoning) the gateway remembered (``gateway.reasoning_memory``),
    restored on assistant turns the client sent back without it, for targets that require it (DeepSeek)."""
    out = jsonio.copy(body)
    out["model"] = target.upstream_model
    if "max_completion_tokens" in out and "max_tokens" not in out:
        out["max_tokens"] = out.pop("max_completion_tokens")
    out.pop("max_completion_tokens", None)
    rules = rules_for(target)
    out = _finish_openai(out, target, rules)
    if rules.reasoning_replay == "reasoning_content" and target.supports_reasoning:
        _restore_reasoning(out, target, reasoning or {})
    return out


def _restore_reasoning(out: dict[str, Any], target: Target, remembered: Mapping[str, tuple[str, str]]) -> None:
    # DeepSeek thinking mode refuses a tool-call turn without reasoning_content. What cannot be restored (expired,
    # made by another provider) turns thinking off for this request: without thinking the field is not required.
    if (out.get("thinking") or {}).get("type") == "disabled":
        return
    for message in out.get("messages") or ():
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        if isinstance(message.get("reasoning_content"), str):
            continue
        found = [remembered.get(call.get("id")) for call in message["tool_calls"]]
        mine = next((entry[1] for entry in found if entry and entry[0] == target.provider), None)
        if mine is None:
            out["thinking"] = {"type": "disabled"}
            out.pop("reasoning_effort", None)
            return
        message["reasoning_content"] = mine


def _finish_openai(out: dict[str, Any], target: Target, rules: Rules) -> dict[str, Any]:
    out["messages"] = [_shape_message(m, rules) for m in out.get("messages") or ()]
    _shape_limits(out, target, rules)
    _shape_tools(out, rules)
    _shape_reasoning(out, target, rules)
    if out.get("stream") and rules.stream_usage:
        out["stream_options"] = {**(out.get("stream_options") or {}), "include_usage": True}
    else:
        out.pop("stream_options", None)
    if "seed" in out and rules.seed_field != "seed":
        out[rules.seed_field] = out.pop("seed")
    for name, accepted in (("user", rules.user), ("top_k", rules.top_k)):
        if not accepted:
            out.pop(name, None)
    if target.supports_reasoning:
        for name in rules.reasoning_drops:
            out.pop(name, None)
    if rules.max_stop and isinstance(out.get("stop"), list):
        out["stop"] = out["stop"][: rules.max_stop]
    for name in [name for name in out if _rejected(name, rules)]:
        del out[name]
    return out


def _rejected(name: str, rules: Rules) -> bool:
    return name in rules.drop or (rules.allowed is not None and name not in rules.allowed)


def _attach_thought_signatures(messages: list[dict[str, Any]], signatures: Mapping[str, str]) -> None:
    for message in messages:
        for call in message.get("tool_calls") or ():
            if call.get("id") in signatures:
                call["extra_content"] = {"google": {"thought_signature": signatures[call["id"]]}}


# Gemini 3 validates the thought signature of the first call of each step; calls that came from another model have
# none, and Google documents this placeholder for them.
_GEMINI_PLACEHOLDER = "skip_thought_signature_validator"


def _ensure_thought_signature(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not calls or any(thought_signature(call) for call in calls):
        return calls
    return [{**calls[0], "extra_content": {"google": {"thought_signature": _GEMINI_PLACEHOLDER}}}, *calls[1:]]


def _shape_message(message: dict[str, Any], rules: Rules) -> dict[str, Any]:
    message = dict(message)
    if message.get("role") == "developer" and not rules.developer_role:
        message["role"] = "system"
    if not rules.message_names:
        message.pop("name", None)
    for name in _MESSAGE_REASONING_FIELDS:
        if name != rules.reasoning_replay:
            message.pop(name, None)
    if rules.thought_signatures and message.get("tool_calls"):
        message["tool_calls"] = _ensure_thought_signature(message["tool_calls"])
    if not rules.image_detail and isinstance(message.get("content"), list):
        message["content"] = [_without_detail(part) for part in message["content"]]
    if rules.tool_id == "mistral9":
        if message.get("tool_call_id"):
            message["tool_call_id"] = shaping.mistral_tool_id(message["tool_call_id"])
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "id": shaping.mistral_tool_id(call.get("id") or "")} for call in message["tool_calls"]
            ]
    return message


def _without_detail(part: Any) -> Any:
    image = part.get("image_url") if isinstance(part, dict) else None
    if not isinstance(image, dict) or "detail" not in image:
        return part
    return {**part, "image_url": {key: value for key, value in image.items() if key != "detail"}}


def _shape_limits(out: dict[str, Any], target: Target, rules: Rules) -> None:
    limit = out.pop("max_tokens", None)
    if limit is None:
        return
    if target.max_output_tokens:
        limit = min(limit, target.max_output_tokens)
    out[rules.max_tokens_field] = limit


def _shape_tools(out: dict[str, Any], rules: Rules) -> None:
    if not out.get("tools"):
        out.pop("tool_choice", None)
        out.pop("parallel_tool_calls", None)
        out.pop("tools", None)
        return
    out["tools"] = [_strip_schema_keys(tool) for tool in out["tools"]]
    if not rules.parallel_tool_calls:
        out.pop("parallel_tool_calls", None)
    choice = out.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in _ANTHROPIC_CHOICES:  # Cursor's Claude bodies
        _a2o_tool_choice(out.pop("tool_choice"), out)
    if not rules.forced_tool_choice and out.get("tool_choice") not in (None, "auto", "none"):
        out["tool_choice"] = "auto"


def _strip_schema_keys(tool: dict[str, Any]) -> dict[str, Any]:
    # Claude Code's schemas carry "$schema"; Gemini and others reject the key, nobody needs it.
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("parameters"), dict):
        return tool
    return {**tool, "function": {**function, "parameters": _without_dollar_schema(function["parameters"])}}


def _without_dollar_schema(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_dollar_schema(value) for key, value in node.items() if key != "$schema"}
    if isinstance(node, list):
        return [_without_dollar_schema(value) for value in node]
    return node


def _shape_reasoning(out: dict[str, Any], target: Target, rules: Rules) -> None:
    effort = out.pop("reasoning_effort", None)
    if effort is None:
        return
    accepted = (
        target.supports_reasoning
        and rules.reasoning in ("effort", "groq", "deepseek")
        and (not rules.effort_models or any(model in target.upstream_model for model in rules.effort_models))
    )
    if accepted:
        out["reasoning_effort"] = rules.efforts.get(effort, effort)


# -- OpenAI -> Anthropic ---------------------------------------------------------------------------------------------

_O2A_TOOL_CHOICE = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "any": {"type": "any"},
    "none": {"type": "none"},
}
_NO_THINKING = ("none", "minimal")
_MIN_BUDGET = 1024


def openai_to_anthropic(
    body: dict[str, Any],
    target: Target,
    *,
    sealer: Sealer | None = None,
    thinking_blocks: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """``thinking_blocks``: signed thinking the gateway stored by tool-call id (``AnthropicToOpenAI.thinking_blocks``);
    OpenAI clients cannot carry it, Anthropic needs it back in a tool loop with thinking on."""
    if (body.get("n") or 1) > 1:
        raise TranslationError("n > 1 is not supported for this model", "n")
    system, messages = msgs.o2a_messages(body.get("messages") or [])
    if thinking_blocks:
        msgs.restore_thinking(messages, thinking_blocks)
    limit = (
        body.get("max_completion_tokens")
        or body.get("max_tokens")
        or target.max_output_tokens
        or target.default_max_tokens
    )
    out: dict[str, Any] = {"model": target.upstream_model, "messages": messages, "max_tokens": limit}
    format_hint = _o2a_response_format(body.get("response_format"), out)
    if format_hint:
        system.append({"type": "text", "text": format_hint})
    if system:
        out["system"] = system
    if body.get("temperature") is not None:
        out["temperature"] = min(max(float(body["temperature"]), 0.0), 1.0)
    elif body.get("top_p") is not None:
        out["top_p"] = body["top_p"]  # newer Claude models reject temperature and top_p together
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    user = body.get("user") or body.get("safety_identifier")
    if user:
        out["metadata"] = {"user_id": str(user)}
    if body.get("stream"):
        out["stream"] = True
    _o2a_tools(body, out)
    _o2a_thinking(body.get("reasoning_effort"), target, out)
    if out.get("thinking") and msgs.tool_turn_lacks_thinking(messages):
        # Anthropic rejects a tool-loop continuation whose last assistant turn lost its thinking: answer without.
        del out["thinking"]
    return shape_anthropic(out, target, sealer=sealer)


def _o2a_response_format(response_format: dict[str, Any] | None, out: dict[str, Any]) -> str | None:
    kind = (response_format or {}).get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}  # type: ignore[union-attr]
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif kind == "json_object":
        return "Answer with a single valid JSON object and nothing else."
    return None


def _o2a_tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = [_o2a_tool(tool) for tool in body.get("tools") or ()]
    tools += [_o2a_function(function) for function in body.get("functions") or ()]
    if not tools:
        return
    out["tools"] = tools
    choice = body.get("tool_choice", body.get("function_call"))
    if isinstance(choice, str):
        out["tool_choice"] = dict(_O2A_TOOL_CHOICE.get(choice, {"type": "auto"}))
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        # Anthropic-style objects ({"type": "any"}, Cursor's Claude bodies) keep their meaning; allowed_tools /
        # custom choices have no Anthropic form: let the model choose among the tools.
        plain = _O2A_TOOL_CHOICE.get(choice.get("type") or "", {"type": "auto"})
        out["tool_choice"] = {"type": "tool", "name": name} if name else dict(plain)
    if body.get("parallel_tool_calls") is False:
        out.setdefault("tool_choice", {"type": "auto"})["disable_parallel_tool_use"] = True


def _o2a_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type", "function") != "function":
        raise TranslationError(f"tool type {tool.get('type')!r} is not supported for this model", "tools")
    function = tool.get("function") or {}
    out = _o2a_function(function)
    mark = tool.get("cache_control") or function.get("cache_control")
    if mark:
        out["cache_control"] = mark
    return out


def _o2a_function(function: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _o2a_thinking(effort: str | None, target: Target, out: dict[str, Any]) -> None:
    if not effort or effort in _NO_THINKING or not target.supports_reasoning:
        return
    budget = shaping.budget_for_effort(effort)
    ceiling = target.max_output_tokens
    if ceiling and budget + out["max_tokens"] > ceiling:
        budget = max(_MIN_BUDGET, min(budget, ceiling - out["max_tokens"]))
    out["max_tokens"] = budget + out["max_tokens"]
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    # Extended thinking forbids changed sampling and forced tool use.
    for name in ("temperature", "top_p", "top_k"):
        out.pop(name, None)
    choice = out.get("tool_choice")
    if choice and choice["type"] in ("any", "tool"):
        out["tool_choice"] = {key: value for key, value in choice.items() if key == "disable_parallel_tool_use"}
        out["tool_choice"]["type"] = "auto"


# -- Anthropic-dialect shaping ---------------------------------------------------------------------------------------


def shape_anthropic(body: dict[str, Any], target: Target, *, sealer: Sealer | None = None) -> dict[str, Any]:
    rules = rules_for(target)
    out = jsonio.copy({name: value for name, value in body.items() if name in shaping.ANTHROPIC_BODY_FIELDS})
    out["model"] = target.upstream_model
    if target.max_output_tokens and out.get("max_tokens", 0) > target.max_output_tokens:
        out["max_tokens"] = target.max_output_tokens
    if not target.supports_reasoning:
        out.pop("thinking", None)
    if not rules.system_messages:
        extra, out["messages"] = msgs.split_anthropic_system({"messages": out.get("messages") or []}, as_blocks=True)
        if extra:
            out["system"] = msgs.system_blocks(out.get("system")) + extra
    keep = (lambda block: True) if rules.foreign_thinking else _signed_by_anthropic
    out["messages"] = msgs.filter_thinking(out.get("messages") or [], keep)
    return out


def _signed_by_anthropic(block: dict[str, Any]) -> bool:
    return is_anthropic(block.get("signature"))


def _copy(src: dict[str, Any], dst: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if src.get(name) is not None:
            dst[name] = src[name]
