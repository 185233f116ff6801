"""Message lists, Anthropic <-> OpenAI: the part of request translation that walks conversation history. Pure.

Used by ``gateway.translate.request`` (which owns the top-level fields and the public API):
- ``split_anthropic_system(body, as_blocks=False)``: top-level ``system`` plus ``role: "system"`` messages found inside
  ``messages`` (Claude Code sends them mid-conversation), and the remaining messages.
- ``a2o_messages(messages, target, rules, sealer)``: Anthropic -> OpenAI (tool results first as ``tool``
  messages, images moved out of tool results, ``is_error`` prefix, reasoning replay, same-role merging).
- ``o2a_messages(messages)``: OpenAI -> Anthropic (system/developer hoisted, tool messages -> ``tool_result`` blocks
  merged with the next user turn, tool results first).
- ``filter_thinking(messages, keep)``: drop thinking blocks an upstream would reject.
- ``TranslationError``: re-exported by ``gateway.translate.request``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway.translate.reasoning import Sealer, claimed_details, claimed_provider
from gateway.translate.shaping import Rules, Target
from lib import jsonio

Block = dict[str, Any]
Message = dict[str, Any]

TOOL_ERROR_PREFIX = "[tool error] "
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_FIRST_USER_TURN = "Continue."


class TranslationError(ValueError):
    """The request cannot be expressed for the target: a 400 invalid_request_error in the surface's shape."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _blocks(content: Any) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [block for block in content or () if isinstance(block, dict)]


def system_blocks(system: Any) -> list[Block]:
    return [block for block in _blocks(system) if block.get("type") == "text" and block.get("text")]


def split_anthropic_system(body: dict[str, Any], *, as_blocks: bool = False) -> tuple[Any, list[Message]]:
    blocks = system_blocks(body.get("system"))
    rest: list[Message] = []
    for message in body.get("messages") or ():
        if message.get("role") == "system":
            blocks += system_blocks(message.get("content"))
        else:
            rest.append(message)
    if as_blocks:
        return blocks, rest
    return "\n\n".join(block["text"] for block in blocks), rest


# -- Anthropic -> OpenAI ---------------------------------------------------------------------------------------------


def a2o_messages(messages: list[Message], target: Target, rules: Rules, sealer: Sealer | None) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        blocks = _blocks(message.get("content"))
        if message.get("role") == "assistant":
            out.append(_a2o_assistant(blocks, target, rules, sealer))
        else:
            out += _a2o_user(blocks, rules)
    return _merge_openai(out)


def _a2o_user(blocks: list[Block], rules: Rules) -> list[Message]:
    out: list[Message] = []
    moved: list[Block] = []  # images from tool results: a tool message cannot hold them
    for block in blocks:
        if block.get("type") == "tool_result":
            text, images = _tool_result(block)
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
            moved += images
    parts = [part for block in moved + blocks if (part := _a2o_part(block, rules)) is not None]
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _tool_result(block: Block) -> tuple[str, list[Block]]:
    inner = _blocks(block.get("content"))
    text = "".join(b.get("text") or "" for b in inner if b.get("type") == "text")
    if block.get("is_error"):
        text = TOOL_ERROR_PREFIX + text
    return text, [b for b in inner if b.get("type") == "image"]


def _a2o_part(block: Block, rules: Rules) -> Block | None:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block["text"]} if block.get("text") else None
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _image_url(block.get("source") or {})}}
    if kind == "document":
        return _a2o_document(block.get("source") or {}, rules)
    return None  # tool_result (handled above), search results and other Anthropic-only blocks


def _image_url(source: Block) -> str:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    return str(source.get("url") or "")


def _a2o_document(source: Block, rules: Rules) -> Block:
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": source.get("data") or ""}
    if kind == "content":
        return {"type": "text", "text": "".join(b.get("text") or "" for b in _blocks(source.get("content")))}
    if kind == "base64" and source.get("media_type") == "application/pdf" and rules.pdf:
        data = f"data:application/pdf;base64,{source.get('data')}"
        return {"type": "file", "file": {"file_data": data, "filename": "document.pdf"}}
    raise TranslationError("this model cannot read PDF documents", "messages")


def _a2o_assistant(blocks: list[Block], target: Target, rules: Rules, sealer: Sealer | None) -> Message:
    text = "".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: Message = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    mine = [b for b in blocks if b.get("type") == "thinking" and _provider_of(b, sealer) == target.provider]
    if rules.reasoning_replay == "reasoning_content" and (mine or calls):
        # DeepSeek thinking mode rejects a tool-call turn without the field, even an empty one is accepted.
        message["reasoning_content"] = "".join(b.get("thinking") or "" for b in mine)
    elif rules.reasoning_replay == "reasoning_details":
        details = [item for b in mine for item in _details_of(b, sealer) or ()]
        if details:
            message["reasoning_details"] = details  # OpenRouter wants them back verbatim
    return message


def _details_of(block: Block, sealer: Sealer | None) -> list[dict[str, Any]] | None:
    if sealer is None:
        return claimed_details(block.get("signature"))
    return sealer.details(block.get("signature"), block.get("thinking") or "")


def _provider_of(block: Block, sealer: Sealer | None) -> str | None:
    signature = block.get("signature")
    if sealer is None:
        return claimed_provider(signature)  # no key configured: trust the marker, nothing to verify against
    return sealer.open(signature, block.get("thinking") or "")


def _tool_call(block: Block) -> Block:
    arguments = jsonio.dumps(block.get("input") or {}).decode()  # every tool call of the history, every request
    return {"id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": arguments}}


def _merge_openai(messages: list[Message]) -> list[Message]:
    # Some providers reject successive same-role turns; Anthropic allows them.
    out: list[Message] = []
    for message in messages:
        previous = out[-1] if out else None
        if previous is None or previous["role"] != message["role"] or message["role"] not in ("user", "assistant"):
            out.append(message)
        elif message["role"] == "user":
            previous["content"] = previous["content"] + message["content"]
        else:
            _merge_assistant(previous, message)
    for message in out:
        if message["role"] == "user" and all(part["type"] == "text" for part in message["content"]):
            # Text-only turns as a plain string: several OpenAI-compatible hosts reject part lists.
            message["content"] = "\n\n".join(part["text"] for part in message["content"])
    return out


def _merge_assistant(into: Message, message: Message) -> None:
    text = (into.get("content") or "") + (message.get("content") or "")
    calls = (into.get("tool_calls") or []) + (message.get("tool_calls") or [])
    into["content"] = text or (None if calls else "")
    if calls:
        into["tool_calls"] = calls
    if "reasoning_content" in message:
        into["reasoning_content"] = into.get("reasoning_content", "") + message["reasoning_content"]


# -- OpenAI -> Anthropic ---------------------------------------------------------------------------------------------


def o2a_messages(messages: list[Message]) -> tuple[list[Block], list[Message]]:
    system: list[Block] = []
    out: list[Message] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system += _o2a_system(message.get("content"))
        elif role in _O2A_ROLES:
            converted = _O2A_ROLES[role](message)
            if converted["content"]:
                out.append(converted)
        else:
            raise TranslationError(f"messages with role {role!r} are not supported for this model", "messages")
    out = _merge_anthropic(out)
    if out and out[0]["role"] == "assistant":
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": _FIRST_USER_TURN}]})
    _strip_prefill(out)
    return system, out


def _o2a_system(content: Any) -> list[Block]:
    """System text as blocks; a block list (Cursor's Claude bodies, Cline's OpenAI-format parts) keeps its
    `cache_control` markers."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    parts = [part for part in content or () if isinstance(part, dict)]
    blocks = [_cached(part, {"type": "text", "text": _text_of(part)}) for part in parts if _text_of(part)]
    if blocks and not blocks[-1].get("cache_control") and _cache_control(parts):
        blocks[-1]["cache_control"] = _cache_control(parts)  # the mark sat on a part that had no text
    return blocks


def _text_of(part: Block) -> str:
    return part.get("text") or part.get("refusal") or ""


def _cache_control(parts: Any) -> Any:
    """The last cache_control among OpenAI-format content parts (Cline's and OpenRouter's convention)."""
    marks = [p["cache_control"] for p in parts or () if isinstance(p, dict) and p.get("cache_control")]
    return marks[-1] if marks else None


def _cached(part: Block, block: Block) -> Block:
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [part.get("text") or part.get("refusal") or "" for part in content or () if isinstance(part, dict)]


def _o2a_user(message: Message) -> Message:
    content = message.get("content")
    if isinstance(content, str):
        return {"role": "user", "content": [{"type": "text", "text": content}] if content else []}
    return {
        "role": "user",
        "content": [_cached(part, b) for part in content or () if (b := _o2a_part(part)) is not None],
    }


def _o2a_part(part: Block) -> Block | None:
    kind = part.get("type")
    if kind == "text":
        return _cached(part, {"type": "text", "text": part["text"]}) if part.get("text") else None
    if kind == "image_url":
        image = part.get("image_url")
        return _o2a_image(image if isinstance(image, str) else (image or {}).get("url") or "")
    if kind == "file":
        return _o2a_file(part.get("file") or {})
    raise TranslationError(f"content part {kind!r} is not supported for this model", "messages")


def _o2a_image(url: str) -> Block:
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url[5:].partition(",")
    media_type = header.removesuffix(";base64")
    if media_type not in _IMAGE_TYPES or not header.endswith(";base64"):
        raise TranslationError(f"image type {media_type!r} is not supported (jpeg, png, gif, webp)", "messages")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _o2a_file(file: Block) -> Block:
    data = str(file.get("file_data") or "")
    prefix = "data:application/pdf;base64,"
    if not data.startswith(prefix):
        raise TranslationError("only PDF files sent inline as file_data are supported", "messages")
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": data[len(prefix) :]},
    }


def _o2a_assistant(message: Message) -> Message:
    text = "".join(_texts(message.get("content")))
    blocks: list[Block] = [{"type": "text", "text": text}] if text else []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": _input(function)}
        )
    mark = _cache_control(message.get("content") if isinstance(message.get("content"), list) else ())
    if mark and blocks:
        blocks[-1]["cache_control"] = mark
    return {"role": "assistant", "content": blocks}


def _input(function: Block) -> dict[str, Any]:
    arguments = function.get("arguments") or "{}"
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}  # keep the turn rather than 400 a whole agent run over one bad call
    return value if isinstance(value, dict) else {"_raw": arguments}


def _o2a_tool(message: Message) -> Message:
    text = "".join(_texts(message.get("content")))
    result: Block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": text}
    content = message.get("content")
    mark = _cache_control(content if isinstance(content, list) else ())
    if mark:
        result["cache_control"] = mark
    return {"role": "user", "content": [result]}


_O2A_ROLES: dict[str, Callable[[Message], Message]] = {
    "user": _o2a_user,
    "assistant": _o2a_assistant,
    "tool": _o2a_tool,
}


def _merge_anthropic(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        if out and out[-1]["role"] == message["role"]:
            out[-1]["content"] = out[-1]["content"] + message["content"]
        else:
            out.append(message)
    for message in out:
        if message["role"] == "user":  # tool results must come first in their turn
            content = message["content"]
            message["content"] = [b for b in content if b["type"] == "tool_result"] + [
                b for b in content if b["type"] != "tool_result"
            ]
    return out


def _strip_prefill(messages: list[Message]) -> None:
    # Anthropic rejects a final assistant (prefill) turn that ends in whitespace.
    last = messages[-1] if messages else None
    if last is None or last["role"] != "assistant" or last["content"][-1]["type"] != "text":
        return
    text = last["content"][-1]["text"].rstrip()
    if text:
        last["content"][-1]["text"] = text
    else:
        last["content"].pop()
        if not last["content"]:
            messages.pop()


def restore_thinking(messages: list[Message], blocks_by_tool_id: Any) -> None:
    """Put stored signed thinking back in front of the assistant turns whose tool calls it belongs to."""
    for message in messages:
        content = message["content"]
        if message["role"] != "assistant" or any(b["type"] in _THINKING for b in content):
            continue
        ids = [b.get("id") for b in content if b["type"] == "tool_use"]
        stored = next((blocks_by_tool_id[i] for i in ids if i in blocks_by_tool_id), None)
        if stored:
            message["content"] = [dict(b) for b in stored] + content


def tool_turn_lacks_thinking(messages: list[Message]) -> bool:
    """Is the last assistant turn a tool call without its thinking (which Anthropic requires with thinking on)?"""
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last is None:
        return False
    kinds = {b["type"] for b in last["content"]}
    return "tool_use" in kinds and not kinds & _THINKING


_THINKING = frozenset({"thinking", "redacted_thinking"})


def filter_thinking(messages: list[Message], keep: Callable[[Block], bool]) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            out.append(message)
            continue
        kept = [b for b in content if b.get("type") != "thinking" or keep(b)]
        if kept:
            out.append({**message, "content": kept})
    return out
