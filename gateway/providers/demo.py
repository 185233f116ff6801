"""The built-in demo upstream, protocol "demo": model `qlaud/demo`, answered in-process, no network, no key.

A newcomer's first request should go through the whole product (key, hold, route, translate, relay, settle,
receipt, live feed) before they own a single provider key. This module is an OpenAI-compatible upstream whose
"server" is a function in this process: `build_request` addresses a reserved host (`.invalid` never resolves) and
`gateway.outbound` hands requests for that host to `answer` instead of a socket. Everything after that (decoding,
translation to the client's surface, metering, billing) is the same code every real upstream goes through.

What it answers, deterministically:
- text, in several streamed chunks, quoting the last user message;
- a tool call when the request offers tools (and does not answer a tool result or say tool_choice "none"), its
  arguments filled from the tool's JSON schema;
- reasoning (`reasoning_content`, DeepSeek's field) when the request asks for it (reasoning_effort, thinking,
  reasoning);
- real usage: about four characters a token, reasoning counted inside completion_tokens as OpenAI does;
- max_tokens honoured (finish_reason "length").
Settings: QLAUD_DEMO (catalog.readiness marks the provider not configured when it is off; `answer` refuses too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from django.conf import settings

from gateway import outbound
from gateway.providers import openai_compat
from gateway.providers.base import Call, UpstreamRequest
from lib import jsonio

DIALECT = "openai"
HOST = "qlaud-demo.invalid"  # RFC 2606: never resolves, so nothing can leave the process by mistake
URL = f"https://{HOST}/v1/chat/completions"
CHUNK_DELAY_SECONDS = 0.01  # a visible stream, not a single burst
REASONING = "The user wants a first answer through qlaud. I will greet them, quote them and say what happened."

prepare = None
iter_events = openai_compat.iter_events
stream_decoder = openai_compat.stream_decoder
parse_response = openai_compat.parse_response
parse_error = openai_compat.parse_error
parse_count_tokens = openai_compat.parse_count_tokens


def build_request(call: Call) -> UpstreamRequest:
    body = {**call.body, "model": call.host.upstream_model, "stream": call.stream}
    headers = {"content-type": "application/json", "accept": "text/event-stream" if call.stream else "application/json"}
    return UpstreamRequest("POST", URL, headers, jsonio.dumps(body))


def build_count_tokens(call: Call) -> UpstreamRequest | None:
    return None  # the gateway's estimator answers, as for every OpenAI-compatible upstream


# --- the in-process upstream -------------------------------------------------------------------


def tokens(text: str) -> int:
    return -(-len(text) // 4) if text else 0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _last(messages: list[Any], role: str) -> dict[str, Any] | None:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == role:
            return message
    return None


def wants_reasoning(body: dict[str, Any]) -> bool:
    effort = body.get("reasoning_effort")
    thinking = body.get("thinking")
    reasoning = body.get("reasoning")
    return (
        (isinstance(effort, str) and effort not in ("none", "minimal"))
        or (isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"))
        or (isinstance(reasoning, dict) and reasoning.get("effort") not in ("none",) and reasoning.get("enabled", True))
    )


def _sample(name: str, schema: Any) -> Any:
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return _arguments(schema)
    return "Paris" if any(w in name.lower() for w in ("city", "location", "place")) else "demo"


def _arguments(schema: Any) -> dict[str, Any]:
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    names = [n for n in schema.get("required") or [] if n in properties] or list(properties)
    return {name: _sample(name, properties[name]) for name in names}


def _tool_result(messages: list[Any]) -> dict[str, Any] | None:
    """The last message when it is a tool's result (the demo then answers in text, ending a tool loop)."""
    last = messages[-1] if messages else None
    return last if isinstance(last, dict) and last.get("role") == "tool" else None


def _tool_to_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the answer calls, or None: no tools, tool_choice none, or the last turn is a tool result."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none" or _tool_result(body.get("messages") or []) is not None:
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        named = [t for t in tools if t["function"].get("name") == choice["function"].get("name")]
        tools = named or tools
    return tools[0]["function"]


def compose(body: dict[str, Any]) -> dict[str, Any]:
    """The whole answer: text, tool call, reasoning, finish reason and usage, before framing."""
    found = body.get("messages")
    messages: list[Any] = found if isinstance(found, list) else []
    prompt = tokens(jsonio.dumps(messages).decode()) + tokens(jsonio.dumps(body.get("tools") or []).decode())
    reasoning = REASONING if wants_reasoning(body) else ""
    function = _tool_to_call(body)
    arguments = ""
    tool_call: dict[str, Any] | None = None
    if function is not None:
        arguments = jsonio.dumps(_arguments(function.get("parameters"))).decode()
        named = {"name": function.get("name"), "arguments": arguments}
        tool_call = {"id": "call_demo_1", "type": "function", "function": named}
        text = ""
    else:
        last_tool = _tool_result(messages)
        if last_tool is not None:
            text = f"The tool answered: {_text_of(last_tool.get('content'))[:200]}. That is all the demo knows."
        else:
            user = _last(messages, "user")
            said = " ".join(_text_of(user.get("content") if user else "").split())[:120]
            text = (
                f'Hello from qlaud/demo. You said: "{said}". This answer went through the whole gateway: your key, '
                "a hold on your wallet, routing, translation, streaming, settlement and a receipt. "
                "Add a provider key to talk to real models."
            )
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    finish = "tool_calls" if tool_call else "stop"
    if isinstance(limit, int) and limit >= 0 and tokens(reasoning) + tokens(text) > limit:
        reasoning = reasoning[: limit * 4]
        text = text[: max(limit - tokens(reasoning), 0) * 4]
        finish = "length"
    output = tokens(reasoning) + tokens(text) + (tokens(arguments) + 5 if tool_call else 0)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": tokens(reasoning)}
    return {"text": text, "reasoning": reasoning, "tool_call": tool_call, "finish": finish, "usage": usage}


def _words(text: str, size: int = 4) -> list[str]:
    words = text.split(" ")
    return [" ".join(words[i : i + size]) + (" " if i + size < len(words) else "") for i in range(0, len(words), size)]


def chunks(body: dict[str, Any], answer: dict[str, Any], created: int) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": created, "model": body.get("model")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning_content": part}) for part in _words(answer["reasoning"]) if answer["reasoning"]]
    out += [chunk({"content": part}) for part in _words(answer["text"]) if answer["text"]]
    if answer["tool_call"]:
        call = answer["tool_call"]
        opening = {"name": call["function"]["name"], "arguments": ""}
        first = {"index": 0, "id": call["id"], "type": "function", "function": opening}
        out.append(chunk({"tool_calls": [first]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]}))
    out.append(chunk({}, answer["finish"]))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": answer["usage"]})
    return out


def completion(body: dict[str, Any], answer: dict[str, Any], created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer["text"] or None}
    if answer["reasoning"]:
        message["reasoning_content"] = answer["reasoning"]
    if answer["tool_call"]:
        message["tool_calls"] = [answer["tool_call"]]
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": answer["finish"]}],
        "usage": answer["usage"],
    }


class _Stream(httpx.AsyncByteStream):
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, event in enumerate(self.events):
            if i:
                await asyncio.sleep(CHUNK_DELAY_SECONDS)
            yield b"data: " + jsonio.dumps(event) + b"\n\n"
        yield b"data: [DONE]\n\n"


def _json(status: int, value: dict[str, Any], request: httpx.Request) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx.Response(status, headers=headers, content=jsonio.dumps(value), request=request)


async def answer(request: httpx.Request) -> httpx.Response:
    """The demo upstream's answer to one request, as an upstream's HTTP response."""
    if not settings.QLAUD_DEMO:
        message = "demo is not configured: set QLAUD_DEMO=1"
        return _json(503, {"error": {"message": message, "type": "server_error"}}, request)
    try:
        body = jsonio.loads(request.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _json(400, {"error": {"message": "body is not a JSON object", "type": "invalid_request_error"}}, request)
    composed, created = compose(body), int(time.time())
    if body.get("stream"):
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Stream(chunks(body, composed, created)), request=request)
    return _json(200, completion(body, composed, created), request)


outbound.LOCAL[HOST] = answer
