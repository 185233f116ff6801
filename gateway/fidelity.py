"""The fidelity suite: a short conformance run against one host, through the real provider modules.

Each case sends what an OpenAI-format agent sends (translated and shaped for the host exactly as the gateway does,
`gateway.surfaces.exchange.body_for`), reads the answer back into the OpenAI shape (as the chat surface would relay
it) and checks what agents rely on: a tool call with JSON arguments, tool arguments streamed in pieces under their
index, parallel tool calls, a reasoning round trip with tools, JSON mode, cache accounting, count_tokens. A case
answers (ok, detail); ok None means the case does not apply to this host. `manage.py fidelity` runs it and stores
the results (catalog/fidelity.py), which `/v1/catalog`, `/models/<id>` and `:nitro` read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from catalog import fidelity
from catalog.snapshot import HostInfo, build_snapshot
from gateway import outbound, pipeline
from gateway.providers.base import ProviderModule, UpstreamError
from gateway.surfaces.exchange import body_for
from gateway.translate import relay
from gateway.translate.answer import anthropic_to_openai_response
from gateway.translate.stream import AnthropicToOpenAI

Outcome = tuple[bool | None, str]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in one city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ONE_CALL = "What is the weather in Paris? Use the get_weather tool."
TWO_CALLS = "What is the weather in Oslo and in Rome? Call get_weather for both cities at once, in parallel."
# Long enough to pass every provider's minimum cacheable prefix (Claude Sonnet/Opus: 1024 tokens).
CACHE_PREFIX = "You are a careful assistant. " + " ".join(
    f"Rule {i}: answer briefly and precisely." for i in range(400)
)


class CaseFailed(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Probe:
    """One host, called the way the gateway calls it."""

    host: HostInfo
    module: ProviderModule

    async def ask(self, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming answer as an OpenAI chat.completion."""
        response = await self.send(body, stream=False)
        content = await response.aread()
        answer = self.module.parse_response(content)
        if self.module.DIALECT == relay.ANTHROPIC:
            answer = anthropic_to_openai_response(answer, self.host.model_id)
        if not isinstance(answer.get("choices"), list) or not answer["choices"]:
            raise CaseFailed("the answer has no choices")
        return answer

    async def stream(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A streamed answer as OpenAI chat.completion.chunk dicts."""
        return [chunk async for chunk in self.chunks(body)]

    async def chunks(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """A streamed answer's OpenAI chat.completion.chunk dicts, each as it arrives (the probes time them)."""
        response = await self.send({**body, "stream_options": {"include_usage": True}}, stream=True)
        translator = AnthropicToOpenAI(self.host.model_id, "fidelity", int(time.time()), True)
        anthropic = self.module.DIALECT == relay.ANTHROPIC
        try:
            async for name, data in self.module.iter_events(response):
                for chunk in translator.feed(name, data) if anthropic else [data]:
                    yield chunk
        finally:
            await response.aclose()
        if anthropic:
            for chunk in translator.finish():
                yield chunk

    async def count(self, body: dict[str, Any]) -> int | None:
        call = pipeline.make_call(self.host, body_for(relay.ANTHROPIC, body)(self.host, self.module), False, {}, {})
        await pipeline.prepare(call, self.module)
        req = self.module.build_count_tokens(call)
        if req is None:
            return None
        response = await outbound.send(req.method, req.url, req.headers, req.content)
        content = await response.aread()
        if response.status_code >= 400:
            raise CaseFailed(f"count_tokens answered {response.status_code}")
        return self.module.parse_count_tokens(content)

    async def send(self, body: dict[str, Any], *, stream: bool) -> Any:
        openai_body = {"model": self.host.model_id, "max_tokens": 1024, **body, "stream": stream}
        shaped = body_for(relay.OPENAI, openai_body, auto_cache=False)(self.host, self.module)
        call = pipeline.make_call(self.host, shaped, stream, {}, {})
        await pipeline.prepare(call, self.module)
        req = self.module.build_request(call)
        response = await outbound.send(req.method, req.url, req.headers, req.content)
        if response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            err: UpstreamError = self.module.parse_error(response.status_code, content)
            raise CaseFailed(f"upstream answered {err.status}: {err.message[:200]}")
        return response


# --- reading answers ------------------------------------------------------------------------------------------------


def tool_calls(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return list(answer["choices"][0].get("message", {}).get("tool_calls") or [])


def streamed_tool_calls(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls assembled the way the openai SDK does: by each delta's `index`, which it requires."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            for delta in (choice.get("delta") or {}).get("tool_calls") or ():
                index = delta.get("index")
                if not isinstance(index, int):
                    raise CaseFailed("a streamed tool call delta has no index")
                call = calls.setdefault(index, {"id": None, "name": "", "arguments": ""})
                call["id"] = delta.get("id") or call["id"]
                function = delta.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
    return [{"id": c["id"], "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls.values()]


def check_calls(calls: list[dict[str, Any]], at_least: int) -> None:
    if len(calls) < at_least:
        raise CaseFailed(f"expected at least {at_least} tool call(s), got {len(calls)}")
    if len({c.get("id") for c in calls}) != len(calls) or not all(c.get("id") for c in calls):
        raise CaseFailed("tool calls lack distinct ids")
    for call in calls:
        function = call.get("function") or {}
        if function.get("name") != "get_weather":
            raise CaseFailed(f"called {function.get('name')!r}, not get_weather")
        try:
            arguments = json.loads(function.get("arguments") or "")
        except ValueError:
            raise CaseFailed(f"tool arguments are not JSON: {function.get('arguments')!r:.80}") from None
        if not isinstance(arguments, dict):
            raise CaseFailed("tool arguments are not a JSON object")


# --- the cases ------------------------------------------------------------------------------------------------------


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def tool_call(probe: Probe) -> Outcome:
    answer = await probe.ask({"messages": _user(ONE_CALL), "tools": [WEATHER], "tool_choice": "required"})
    check_calls(tool_calls(answer), 1)
    return True, ""


async def streamed_tool_arguments(probe: Probe) -> Outcome:
    chunks = await probe.stream({"messages": _user(ONE_CALL), "tools": [WEATHER], "tool_choice": "required"})
    check_calls(streamed_tool_calls(chunks), 1)
    return True, ""


async def parallel_tool_calls(probe: Probe) -> Outcome:
    chunks = await probe.stream({"messages": _user(TWO_CALLS), "tools": [WEATHER], "parallel_tool_calls": True})
    check_calls(streamed_tool_calls(chunks), 2)
    return True, ""


async def reasoning_with_tools(probe: Probe) -> Outcome:
    if "reasoning" not in probe.host.capabilities:
        return None, "the host does not reason"
    ask = {"messages": _user(ONE_CALL), "tools": [WEATHER], "reasoning_effort": "low"}
    calls = tool_calls(await probe.ask(ask))
    check_calls(calls, 1)
    results = [{"role": "tool", "tool_call_id": c["id"], "content": '{"celsius": 21}'} for c in calls]
    history = [*ask["messages"], {"role": "assistant", "content": None, "tool_calls": calls}, *results]
    answer = await probe.ask({**ask, "messages": history})
    if not answer["choices"][0].get("message", {}).get("content"):
        raise CaseFailed("no answer after the tool result")
    return True, ""


async def json_mode(probe: Probe) -> Outcome:
    ask = {"messages": _user('Reply with a JSON object {"ok": true}.'), "response_format": {"type": "json_object"}}
    text = (await probe.ask(ask))["choices"][0].get("message", {}).get("content") or ""
    try:
        value = json.loads(text)
    except ValueError:
        raise CaseFailed(f"not JSON: {text!r:.80}") from None
    if not isinstance(value, dict):
        raise CaseFailed("JSON, but not an object")
    return True, ""


async def cache_accounting(probe: Probe) -> Outcome:
    system = {
        "role": "system",
        "content": [{"type": "text", "text": CACHE_PREFIX, "cache_control": {"type": "ephemeral"}}],
    }
    ask = {"messages": [system, *_user("Say ok.")], "max_tokens": 16}
    await probe.ask(ask)
    usage = (await probe.ask(ask)).get("usage") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    if cached <= 0:
        raise CaseFailed(f"the repeated prompt reported no cached tokens (usage {usage})")
    return True, f"{cached} cached tokens"


async def count_tokens(probe: Probe) -> Outcome:
    ask = {"model": probe.host.model_id, "max_tokens": 1, "messages": _user("Hello, how are you?")}
    counted = await probe.count(ask)
    if counted is None:
        return None, "no native count endpoint (qlaud estimates)"
    if counted <= 0:
        raise CaseFailed(f"counted {counted} tokens")
    return True, f"{counted} tokens"


CASES: dict[str, Callable[[Probe], Awaitable[Outcome]]] = {
    "tool_call": tool_call,
    "streamed_tool_arguments": streamed_tool_arguments,
    "parallel_tool_calls": parallel_tool_calls,
    "reasoning_with_tools": reasoning_with_tools,
    "json_mode": json_mode,
    "cache_accounting": cache_accounting,
    "count_tokens": count_tokens,
}


async def run(host: HostInfo) -> dict[str, Outcome]:
    """Every case against one host; a case that raises fails with the reason, the others still run."""
    probe = Probe(host, pipeline.module_for(host.provider.protocol))
    results: dict[str, Outcome] = {}
    for name, case in CASES.items():
        try:
            results[name] = await case(probe)
        except CaseFailed as exc:
            results[name] = (False, str(exc))
        except Exception as exc:  # garbage from upstream, a broken connection: the host fails this case
            results[name] = (False, f"{type(exc).__name__}: {str(exc)[:200]}")
    return results


def check_hosts(*, provider: str | None = None, host_id: int | None = None) -> dict[int, dict[str, Outcome]]:
    """Run the suite against every enabled host (or those of one provider, or one host) and store the results.
    Sync (a staff command, a Celery task): hosts one after another, off any request path."""
    snapshot = build_snapshot()
    hosts = [h for h in snapshot.hosts.values() if (provider is None or h.provider.slug == provider)]
    hosts = [h for h in hosts if host_id is None or h.id == host_id]
    done = asyncio.run(_run_all(sorted(hosts, key=lambda h: h.id)))
    for host_id, cases in done.items():
        fidelity.record(host_id, cases, timezone.now())
    return done


async def _run_all(hosts: list[HostInfo]) -> dict[int, dict[str, Outcome]]:
    try:
        return {host.id: await run(host) for host in hosts}
    finally:
        await outbound.aclose()  # this loop's pooled connections go with it
