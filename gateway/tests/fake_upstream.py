"""A real HTTP server that plays upstream LLM providers, for tests.

It speaks OpenAI-compatible Chat Completions (DeepSeek's `reasoning_content`, usage in the
final chunk when `stream_options.include_usage` asks) and Anthropic Messages (SSE events as
the spec orders them), on 127.0.0.1 with an ephemeral port, in its own thread and loop.

The scenario comes from the `x-fake-scenario` header or from the upstream model id
(`fake-text`, `deepseek/fake-reasoning`, ...: the part after `fake-`). Every request is
recorded (path, headers, JSON body) so tests can assert what qlaud sent upstream.

A provider prefix on the upstream model id (`xai/fake-reasoning`, `mistral/fake-tool`) selects
that provider's documented quirks (providers.md): its usage shape (`USAGE_SHAPES`), Mistral's
content parts and index-less tool calls, Groq's `x_groq.usage`, xAI's usage before an
empty-choices chunk, and DeepSeek's thinking-mode validation (a 400 when an assistant tool-call
turn comes back without `reasoning_content`).

Bedrock and other protocols hook in through `ROUTES` (a path-suffix -> handler dict):
    ROUTES["/converse-stream"] = my_handler   # async (fake, request, body, scenario) -> response
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PROMPT_TOKENS = 120
CACHED_TOKENS = 20
COMPLETION_TOKENS = 30
REASONING_TOKENS = 12
IGNORED_MAX_COMPLETION = 5000
COUNT_TOKENS_BASE = 7


@dataclass
class Answer:
    """What the model 'says', independent of the wire format."""

    reasoning: str = ""
    text: str = ""
    tools: list[tuple[str, str, dict]] = field(default_factory=list)  # (id, name, input)
    completion_tokens: int = COMPLETION_TOKENS
    usage: bool = True
    prompt_tokens: int = PROMPT_TOKENS  # reported prompt size (cache reads included)

    @property
    def finish(self) -> str:
        return "tool_calls" if self.tools else "stop"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


Handler = Callable[["FakeUpstream", web.Request, Any, str], Awaitable[web.StreamResponse]]
ROUTES: dict[str, Handler] = {}
REFUSED_KEY = "refused"  # any provider key containing this is answered 401
ERROR_STATUSES = {"429": 429, "500": 500, "503": 503, "overloaded": 529, "401": 401, "400": 400}


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.url = ""
        # What the `agent` scenario asks the client to run: (tool name, input).
        self.agent_tool: tuple[str, dict] = ("Bash", {"command": "echo hello-from-qlaud", "description": "Say hi"})
        self.delay = 0.05  # between chunks in the `slow` scenario
        self.aborted = 0  # streams whose client (qlaud) went away before the end
        self.broken = False  # the `flip` scenario answers 500 while this is set
        self.stall_seconds = 30.0  # how long the `stall` scenarios stay silent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name="fake-upstream")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start_site())
        ready.set()
        self._loop.run_forever()

    async def _start_site(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)  # type: ignore[union-attr]
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def reset(self) -> None:
        self.requests.clear()
        self.broken = False
        self.stall_seconds = 30.0
        self.aborted = 0

    def bodies(self, suffix: str = "") -> list[Any]:
        return [r.body for r in self.requests if r.path.endswith(suffix)]

    # --- dispatch -------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        credential = request.headers.get("authorization", "") + request.headers.get("x-api-key", "")
        if REFUSED_KEY in credential:  # a provider key the provider refuses (BYOK tests)
            return anthropic_error(401) if request.headers.get("x-api-key") else openai_error(401)
        if request.method == "GET" and request.path.endswith("/models"):  # the cheap call that checks a key
            return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        scenario = scenario_of(request, body)
        for suffix, handler in ROUTES.items():
            if request.path.endswith(suffix):
                return await handler(self, request, body, scenario)
        if request.path.endswith("/chat/completions"):
            return await self._openai(request, body, scenario)
        if request.path.endswith("/messages/count_tokens"):
            return web.json_response({"input_tokens": count_tokens(body)})
        if request.path.endswith("/messages"):
            return await self._anthropic(request, body, scenario)
        return web.json_response({"error": {"message": "no such fake route"}}, status=404)

    def fault(self, scenario: str, body: Any) -> int | None:
        """The error status this request gets, if any (fixed and stateful error scenarios)."""
        if scenario in ERROR_STATUSES:
            return ERROR_STATUSES[scenario]
        if scenario == "flip" and self.broken:
            return 500
        prompt = json.dumps(body.get("messages") if isinstance(body, dict) else body)
        if scenario == "poisonable" and "poison" in prompt:
            return 500  # the upstream chokes on this one prompt; every other prompt is fine
        return None

    async def _openai(self, request: web.Request, body: dict, scenario: str) -> web.StreamResponse:
        if scenario == "leaky":
            return web.json_response({"error": LEAKY_ERROR}, status=500)
        status = self.fault(scenario, body)
        if status is not None:
            return openai_error(status)
        refusal = deepseek_refusal(body)
        if refusal is not None:
            return refusal
        answer = self.answer(scenario, body, openai_has_tool_result(body))
        if provider_of(body) == "deepseek" and not deepseek_thinking(body):
            answer.reasoning = ""
        if not body.get("stream"):
            if scenario == "stall":  # headers, then silence where the JSON body should be
                return await self._stream(request, [], scenario, content_type="application/json")
            return web.json_response(openai_message(answer, body))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = [f"data: {json.dumps(c)}\n\n".encode() for c in openai_chunks(answer, body, include_usage)]
        if scenario == "leaky-mid":  # some output, then an OpenRouter-style error chunk quoting secrets
            chunks = [*chunks[:3], f"data: {json.dumps(openai_leaky_chunk(body))}\n\n".encode()]
        return await self._stream(request, [*chunks, b"data: [DONE]\n\n"], scenario)

    async def _anthropic(self, request: web.Request, body: dict, scenario: str) -> web.StreamResponse:
        status = self.fault(scenario, body)
        if status is not None:
            return anthropic_error(status)
        answer = self.answer(scenario, body, anthropic_has_tool_result(body))
        if not body.get("stream"):
            return web.json_response(anthropic_message(answer, body))
        events = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in anthropic_events(answer, body)]
        if scenario == "leaky-mid":  # some output, then an error event quoting secrets
            leak = {"type": "error", "error": {"type": "api_error", "message": LEAKY_STREAM_MESSAGE}}
            first_text = next(i for i, e in enumerate(events) if e.startswith(b"event: content_block_delta"))
            events = [*events[: first_text + 1], f"event: error\ndata: {json.dumps(leak)}\n\n".encode()]
        return await self._stream(request, events, scenario)

    async def _stream(
        self, request: web.Request, frames: list[bytes], scenario: str, content_type: str = "text/event-stream"
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": content_type, "cache-control": "no-cache"})
        await response.prepare(request)
        if content_type == "text/event-stream":
            await response.write(b": keep-alive comment\n\n")
        if scenario == "disconnect":
            frames = frames[: max(2, len(frames) // 2)]
        try:
            if scenario in ("stall", "stall-mid"):  # headers (and maybe some output), then silence
                for frame in frames[: 3 if scenario == "stall-mid" else 0]:
                    await response.write(frame)
                deadline = time.monotonic() + self.stall_seconds
                while time.monotonic() < deadline:  # silent, until the time is up or the caller left
                    if request.transport is None or request.transport.is_closing():
                        self.aborted += 1
                        return response
                    await asyncio.sleep(0.05)
            for frame in frames:
                await response.write(frame)
                if scenario == "slow":
                    await asyncio.sleep(self.delay)
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted += 1
            raise
        if scenario == "disconnect":
            await asyncio.sleep(0.2)  # let the client read what was sent before the line drops
            request.transport.close()  # type: ignore[union-attr]  # no end chunk: a broken stream
            return response
        await response.write_eof()
        return response

    # --- what the model says ------------------------------------------------------------
    def answer(self, scenario: str, body: dict, has_tool_result: bool) -> Answer:
        if scenario == "agent":
            return self._agent(body, has_tool_result)
        if scenario == "measured":  # the prompt's real size, as 4 characters a token: long prompts bill long
            return Answer(
                text="Read it all.", prompt_tokens=max(len(json.dumps(body.get("messages"))) // 4, CACHED_TOKENS)
            )
        if scenario == "loop":
            return _loop(body)
        return SCENARIOS.get(scenario, SCENARIOS["text"])()

    def _agent(self, body: dict, has_tool_result: bool) -> Answer:
        if has_tool_result:
            return Answer(reasoning="The tool ran.", text="Done: the tool said hello-from-qlaud.")
        if not body.get("tools"):
            return Answer(text="ok")
        name, args = self.agent_tool
        # A fresh id per call, as real upstreams do: clients drop a tool_use whose id they already saw.
        return Answer(reasoning="I should use a tool.", tools=[(f"call_{uuid.uuid4().hex[:12]}", name, args)])


SCENARIOS: dict[str, Callable[[], Answer]] = {
    "text": lambda: Answer(text="Hello from the fake upstream."),
    "slow": lambda: Answer(text="Slow and steady."),
    "disconnect": lambda: Answer(text="This answer will be cut short by a broken connection."),
    "tool": lambda: Answer(tools=[("call_w1", "get_weather", {"city": "Paris"})]),
    "parallel": lambda: Answer(
        text="Checking both.",
        tools=[("call_A", "get_weather", {"city": "Oslo"}), ("call_B", "get_weather", {"city": "Rome"})],
    ),
    "reasoning": lambda: Answer(reasoning="2+2: add the numbers.", text="4"),
    "ignore-max": lambda: Answer(text="I talk a lot.", completion_tokens=IGNORED_MAX_COMPLETION),
    "no-usage": lambda: Answer(text="No usage from me.", usage=False),
}


LOOP_TURNS = 3


def _loop(body: dict) -> Answer:
    """A tool loop: one tool call per turn (a fresh id each) until LOOP_TURNS tool results came back."""
    done = sum(1 for m in body.get("messages") or () if m.get("role") == "tool")
    if done >= LOOP_TURNS:
        return Answer(reasoning="All steps ran.", text=f"Finished {done} steps.")
    return Answer(
        reasoning=f"Step {done + 1} needs the tool.", tools=[(f"call_{uuid.uuid4().hex[:12]}", "step", {"n": done + 1})]
    )


def provider_of(body: Any) -> str:
    """The provider whose quirks this request gets: the prefix of the upstream model id (`xai/fake-text`)."""
    model = str((body or {}).get("model", "")) if isinstance(body, dict) else ""
    return model.split("/", 1)[0] if "/" in model else ""


def deepseek_thinking(body: dict) -> bool:
    return (body.get("thinking") or {}).get("type", "enabled") != "disabled"  # on by default (providers.md)


def deepseek_refusal(body: Any) -> web.Response | None:
    """DeepSeek thinking mode: an assistant turn that made tool calls must carry reasoning_content back."""
    if provider_of(body) != "deepseek" or not deepseek_thinking(body):
        return None
    for index, message in enumerate(body.get("messages") or ()):
        if message.get("role") == "assistant" and message.get("tool_calls"):
            if not isinstance(message.get("reasoning_content"), str):
                text = f"Missing reasoning_content field in the assistant message at message index {index}"
                error = {
                    "message": text,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_request_error",
                }
                return web.json_response({"error": error}, status=400)
    return None


def scenario_of(request: web.Request, body: Any) -> str:
    if request.headers.get("x-fake-scenario"):
        return request.headers["x-fake-scenario"]
    model = str((body or {}).get("model", "")) if isinstance(body, dict) else ""
    name = model.rsplit("/", 1)[-1]
    return name.split("fake-", 1)[1] if "fake-" in name else "text"


def count_tokens(body: Any) -> int:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return COUNT_TOKENS_BASE + len(json.dumps(messages)) // 4


def openai_has_tool_result(body: dict) -> bool:
    """A tool message after the last assistant turn (clients may add a user note after it)."""
    tail: list[dict] = []
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "assistant":
            break
        tail.append(message)
    return any(m.get("role") == "tool" for m in tail)


def anthropic_has_tool_result(body: dict) -> bool:
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1].get("content"), list):
        return False
    return any(b.get("type") == "tool_result" for b in messages[-1]["content"])


# --- OpenAI wire format ------------------------------------------------------------------
def _openai_usage(answer: Answer) -> dict:
    reasoning = REASONING_TOKENS if answer.reasoning else 0
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _deepseek_usage(answer: Answer) -> dict:
    # prompt_cache_hit + miss = prompt_tokens; newer answers also carry prompt_tokens_details.cached_tokens.
    hits = {"prompt_cache_hit_tokens": CACHED_TOKENS, "prompt_cache_miss_tokens": answer.prompt_tokens - CACHED_TOKENS}
    return {**_openai_usage(answer), **hits}


def _xai_usage(answer: Answer) -> dict:
    # Reasoning OUTSIDE completion_tokens: total = prompt + completion + reasoning (billed as output).
    usage = _openai_usage(answer)
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    return {**usage, "total_tokens": answer.prompt_tokens + answer.completion_tokens + reasoning}


def _mistral_usage(answer: Answer) -> dict:
    total = answer.prompt_tokens + answer.completion_tokens
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens, "total_tokens": total}


def _groq_usage(answer: Answer) -> dict:
    total = answer.prompt_tokens + answer.completion_tokens
    times = {"queue_time": 0.01, "prompt_time": 0.002, "completion_time": 0.03, "total_time": 0.042}
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": total,
        **times,
    }


def _openrouter_usage(answer: Answer) -> dict:
    return {**_openai_usage(answer), "cost": 0.00021}


USAGE_SHAPES: dict[str, Callable[[Answer], dict]] = {
    "deepseek": _deepseek_usage,
    "xai": _xai_usage,
    "mistral": _mistral_usage,
    "groq": _groq_usage,
    "openrouter": _openrouter_usage,
}


def openai_usage(answer: Answer, provider: str = "") -> dict:
    """The usage object of `provider`'s answers as that provider shapes it (OpenAI's by default)."""
    return USAGE_SHAPES.get(provider, _openai_usage)(answer)


def openai_tool_call(i: int, call: tuple[str, str, dict]) -> dict:
    return {"id": call[0], "type": "function", "function": {"name": call[1], "arguments": json.dumps(call[2])}}


def openai_message(answer: Answer, body: dict) -> dict:
    provider = provider_of(body)
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if provider == "mistral" and answer.reasoning:
        message["content"] = _mistral_parts(answer.reasoning, answer.text)
    elif provider in ("groq", "openrouter") and answer.reasoning:
        message["reasoning"] = answer.reasoning
    elif answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    if answer.tools:
        message["tool_calls"] = [openai_tool_call(i, t) for i, t in enumerate(answer.tools)]
    out: dict[str, Any] = {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish, "logprobs": None}],
    }
    if answer.usage:
        out["usage"] = openai_usage(answer, provider)
    return out


def _mistral_parts(reasoning: str, text: str) -> list[dict]:
    """Magistral: content as a list of a thinking part (holding text parts) and text parts."""
    parts: list[dict] = [{"type": "thinking", "thinking": [{"type": "text", "text": reasoning}]}] if reasoning else []
    return parts + ([{"type": "text", "text": text}] if text else [])


def _chunk(body: dict, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": body.get("model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def openai_chunks(answer: Answer, body: dict, include_usage: bool) -> list[dict]:
    provider = provider_of(body)
    if provider == "mistral":
        return mistral_chunks(answer, body)
    chunks = _standard_chunks(answer, body, "reasoning" if provider in ("groq", "openrouter") else "reasoning_content")
    usage = openai_usage(answer, provider)
    if provider == "groq" and answer.usage:
        chunks[-1] = {**chunks[-1], "x_groq": {"id": "req_fake", "usage": usage}}  # the legacy place, always
    if include_usage and answer.usage and provider == "xai":
        # xAI: usage on the second-to-last chunk, then an empty-choices chunk (LiteLLM #17136).
        chunks[-1] = {**chunks[-1], "usage": usage}
        chunks.append({**_chunk(body, {}), "choices": []})
    elif include_usage and answer.usage:
        chunks.append({**_chunk(body, {}), "choices": [], "usage": usage})
    return chunks


def mistral_chunks(answer: Answer, body: dict) -> list[dict]:
    """Mistral: thinking as content parts, whole tool calls without index or type, usage always on the last chunk."""
    chunks = [_chunk(body, {"role": "assistant", "content": ""})]
    for part in _halves(answer.reasoning):
        chunks.append(_chunk(body, {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": part}]}]}))
    for part in _halves(answer.text):
        chunks.append(_chunk(body, {"content": [{"type": "text", "text": part}] if answer.reasoning else part}))
    for call_id, name, args in answer.tools:
        call = {"id": call_id, "function": {"name": name, "arguments": json.dumps(args)}}
        chunks.append(_chunk(body, {"tool_calls": [call]}))
    last = _chunk(body, {}, answer.finish)
    chunks.append({**last, "usage": openai_usage(answer, "mistral")} if answer.usage else last)
    return chunks


def _standard_chunks(answer: Answer, body: dict, reasoning_field: str) -> list[dict]:
    chunks = [_chunk(body, {"role": "assistant", "content": None, reasoning_field: ""})]
    for part in _halves(answer.reasoning):
        chunks.append(_chunk(body, {"content": None, reasoning_field: part}))
    for part in _halves(answer.text):
        chunks.append(_chunk(body, {"content": part}))
    for i, (call_id, name, args) in enumerate(answer.tools):
        head = {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(_chunk(body, {"tool_calls": [head]}))
        for part in _halves(json.dumps(args)):
            chunks.append(_chunk(body, {"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    chunks.append(_chunk(body, {}, answer.finish))
    return chunks


def _halves(text: str) -> list[str]:
    """Split text in two so every stream has more than one delta per block."""
    if not text:
        return []
    mid = max(1, len(text) // 2)
    return [p for p in (text[:mid], text[mid:]) if p]


# An AWS access key id's shape, built at runtime: AWS's documented example id, written out, trips secret scanners.
FAKE_AWS_KEY_ID = "AKIA" + "X" * 16

# A provider error quoting what must never reach a customer (the operator's key, org, account, email).
LEAKY_ERROR = {
    "message": (
        "Incorrect API key provided: sk-proj-abcDEF1234567890xyz. Organization org-AbC123xyz456 "
        f"(account_id=998877665544, owner ops@operator.example) exceeded quota; AWS key {FAKE_AWS_KEY_ID}, "
        "header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig, "
        "url ?key=AIzaSyA1234567890abcdefghijklmnop"
    ),
    "type": "insufficient_quota",
    "code": "insufficient_quota",
}


# The same, sent inside a stream after some output, also naming the operator's internal endpoints.
LEAKY_STREAM_MESSAGE = (
    LEAKY_ERROR["message"] + " while calling https://inference.internal.operator.example:8443/v1/998877665544/chat"
    " via 10.20.30.40:8443 (gateway 0123456789abcdef0123456789abcdef)"
)


def openai_leaky_chunk(body: dict) -> dict:
    """An OpenRouter-style error chunk after a 200: the error, the provider's raw answer in metadata, finish 'error'."""
    error = {**LEAKY_ERROR, "message": LEAKY_STREAM_MESSAGE, "metadata": {"raw": LEAKY_STREAM_MESSAGE}}
    return {
        "id": "gen-leaky",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": body.get("model"),
        "error": error,
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }


def openai_error(status: int) -> web.Response:
    body = {"error": {"message": f"fake upstream error {status}", "type": "server_error", "code": None}}
    headers = {"retry-after": "1"} if status == 429 else {}
    return web.json_response(body, status=status, headers=headers)


# --- Anthropic wire format -----------------------------------------------------------------
def anthropic_usage(answer: Answer) -> dict:
    return {
        "input_tokens": answer.prompt_tokens - CACHED_TOKENS,
        "cache_read_input_tokens": CACHED_TOKENS,
        "cache_creation_input_tokens": 0,
        "output_tokens": answer.completion_tokens,
    }


def anthropic_blocks(answer: Answer) -> list[dict]:
    blocks: list[dict] = []
    if answer.reasoning:
        blocks.append({"type": "thinking", "thinking": answer.reasoning, "signature": "sig-fake-anthropic"})
    if answer.text:
        blocks.append({"type": "text", "text": answer.text})
    blocks += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in answer.tools]
    return blocks


def stop_reason(answer: Answer) -> str:
    return "tool_use" if answer.tools else "end_turn"


def anthropic_message(answer: Answer, body: dict) -> dict:
    usage = anthropic_usage(answer) if answer.usage else {"input_tokens": 0, "output_tokens": 0}
    return {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": anthropic_blocks(answer),
        "stop_reason": stop_reason(answer),
        "stop_sequence": None,
        "usage": usage,
    }


def _block_events(index: int, block: dict) -> list[dict]:
    kind = block["type"]
    if kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _halves(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _halves(block["text"])]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _halves(json.dumps(block["input"]))]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def anthropic_events(answer: Answer, body: dict) -> list[dict]:
    usage = anthropic_usage(answer)
    start_usage = {**usage, "output_tokens": 1} if answer.usage else {"input_tokens": 0, "output_tokens": 0}
    shell = {**anthropic_message(answer, body), "content": [], "stop_reason": None, "usage": start_usage}
    events: list[dict] = [{"type": "message_start", "message": shell}, {"type": "ping"}]
    for index, block in enumerate(anthropic_blocks(answer)):
        events += _block_events(index, block)
    final_usage = {"output_tokens": answer.completion_tokens} if answer.usage else {"output_tokens": 0}
    delta = {"stop_reason": stop_reason(answer), "stop_sequence": None}
    events += [{"type": "message_delta", "delta": delta, "usage": final_usage}, {"type": "message_stop"}]
    return events


def anthropic_error(status: int) -> web.Response:
    kinds = {429: "rate_limit_error", 529: "overloaded_error", 503: "overloaded_error", 401: "authentication_error"}
    kind = kinds.get(status, "invalid_request_error" if status == 400 else "api_error")
    body = {"type": "error", "error": {"type": kind, "message": f"fake upstream error {status}"}}
    headers = {"retry-after": "1"} if status == 429 else {}
    return web.json_response(body, status=status, headers=headers)
