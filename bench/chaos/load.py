"""The drills' load: the real `openai` and `anthropic` SDKs (no retries) against qlaud, outcomes recorded.

Each client loops until its deadline, alternating Chat Completions (openai) and Messages (anthropic)
requests, streamed or not, and records one `Outcome` per request: when it started and ended, the HTTP
status or how it broke, whether an error answer was JSON with a Retry-After, how many content chunks
arrived, and qlaud's request id (from the response headers) to look the request up in the database.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

import anthropic
import openai

MAX_TOKENS = 64
SERIAL = itertools.count()


def prompt() -> list[dict[str, str]]:
    """A different prompt each time, as real traffic is: the breaker ignores the same request failing again."""
    return [{"role": "user", "content": f"chaos {next(SERIAL)}"}]


@dataclass
class Outcome:
    start: float
    end: float
    surface: str
    stream: bool
    result: str  # ok | http | stream_error | cut (connection broken mid-answer) | connect
    status: int = 200
    json: bool = True
    retry_after: bool = False
    chunks: int = 0
    request_id: str = ""
    detail: str = ""

    @property
    def violation(self) -> str:
        """Why this answer breaks the promise (no 5xx but JSON 503/529 with Retry-After, never HTML)."""
        if self.result != "http":
            return ""
        if not self.json:
            return "not JSON"
        if self.status in (503, 529) and not self.retry_after:
            return f"{self.status} without Retry-After"
        if self.status >= 500 and self.status not in (502, 503, 504, 529):
            return f"{self.status}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "violation": self.violation}


async def _parsed(raw: Any) -> Any:
    """`parse()` of a raw response: a coroutine for answers, the stream itself for streams (SDK-dependent)."""
    answer = raw.parse()
    return await answer if inspect.isawaitable(answer) else answer


def _from_status_error(out: Outcome, exc: openai.APIStatusError | anthropic.APIStatusError) -> None:
    response = exc.response
    if response.status_code < 400:  # the anthropic SDK raises an `error` event of a 200 stream this way
        out.result, out.detail = "stream_error", str(exc)[:200]
        return
    out.result, out.status = "http", response.status_code
    out.json = response.headers.get("content-type", "").startswith("application/json")
    out.retry_after = "retry-after" in response.headers
    out.request_id = response.headers.get("x-qlaud-request-id", "")
    out.detail = str(exc)[:200]


def _chat_output(answer: Any) -> int:
    return answer.usage.completion_tokens if answer.usage else 0


def _chat_chunk(chunk: Any) -> bool:
    return bool(chunk.choices and chunk.choices[0].delta.content)


def _messages_output(answer: Any) -> int:
    return answer.usage.output_tokens


def _messages_chunk(event: Any) -> bool:
    return event.type == "content_block_delta"


async def _ask(create: Any, model: str, stream: bool, out: Outcome, surface: str) -> None:
    """One request through an SDK's raw-response `create`: qlaud's request id from the headers, then the
    answer's output tokens, or the stream's content chunks as they arrive (a cut stream keeps its count)."""
    output, is_content = (_chat_output, _chat_chunk) if surface == "chat" else (_messages_output, _messages_chunk)
    raw = await create(model=model, messages=prompt(), max_tokens=MAX_TOKENS, stream=stream)
    out.request_id = raw.headers.get("x-qlaud-request-id", "")
    answer = await _parsed(raw)
    if not stream:
        out.chunks = output(answer)
        return
    async for item in answer:
        out.chunks += is_content(item)


async def one(clients: tuple[Any, Any], surface: str, model: str, stream: bool, t0: float) -> Outcome:
    out = Outcome(time.monotonic() - t0, 0.0, surface, stream, "ok")
    try:
        if surface == "chat":
            await _ask(clients[0].chat.completions.with_raw_response.create, model, stream, out, surface)
        else:
            await _ask(clients[1].messages.with_raw_response.create, model, stream, out, surface)
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        _from_status_error(out, exc)
    except (openai.APIConnectionError, anthropic.APIConnectionError) as exc:
        out.result, out.detail = ("cut" if out.request_id else "connect"), repr(exc)[:200]
    except (openai.APIError, anthropic.APIError) as exc:  # an error event inside the stream
        out.result, out.detail = "stream_error", str(exc)[:200]
    except Exception as exc:  # httpx errors the SDKs let through while iterating a stream
        out.result, out.detail = ("cut" if out.request_id else "connect"), repr(exc)[:200]
    out.end = time.monotonic() - t0
    return out


def sdk_clients(url: str, key: str, timeout: float = 30.0) -> tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]:
    return (
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=timeout),
        anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0, timeout=timeout),
    )


async def run(
    url: str, key: str, *, model: str, clients: int, seconds: float, stream: str = "mixed", pause: float = 0.0
) -> list[Outcome]:
    """`clients` concurrent loops for `seconds`; stream: "yes", "no" or "mixed" (alternating)."""
    sdks = sdk_clients(url, key)
    t0 = time.monotonic()
    outcomes: list[Outcome] = []

    async def loop(i: int) -> None:
        n = i
        while time.monotonic() - t0 < seconds:
            streamed = stream == "yes" or (stream == "mixed" and n % 2 == 0)
            outcomes.append(await one(sdks, ("chat", "messages")[n % 2 ^ (n // 2) % 2], model, streamed, t0))
            n += 1
            if pause:
                await asyncio.sleep(pause)

    await asyncio.gather(*(loop(i) for i in range(clients)))
    await sdks[0].close()
    await sdks[1].close()
    return outcomes
