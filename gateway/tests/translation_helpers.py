"""Replay recorded-shape SSE fixtures through the translators, and read the output with the real SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
from anthropic.lib.streaming import MessageStream
from anthropic.types import RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from gateway.translate.reasoning import Sealer
from gateway.translate.sse import DONE, SSEDecoder, encode_json
from gateway.translate.stream import AnthropicToOpenAI, OpenAIToAnthropic

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = b"test-sealing-secret"
SEALER = Sealer(SECRET)
CREATED = 1700000000


def fixture_names(prefixes: Iterable[str]) -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.sse") if p.stem.split("_")[0] in prefixes)


def read(name: str) -> bytes:
    return (FIXTURES / f"{name}.sse").read_bytes()


def expected(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))


def decode(pieces: Iterable[bytes]) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)]
    return [(e.event, e.data) for e in events + decoder.flush()]


def o2a_translator(name: str) -> OpenAIToAnthropic:
    return OpenAIToAnthropic("claude-test", "msg_test", 7, provider=name.split("_")[0], sealer=SEALER)


def translate_o2a(pieces: Iterable[bytes], name: str) -> bytes:
    """An OpenAI-dialect upstream stream, as the Anthropic SSE bytes qlaud sends to the client."""
    translator = o2a_translator(name)
    out: list[tuple[str, dict[str, Any]]] = []
    for _, data in decode(pieces):
        if data == "[DONE]":
            break
        out += translator.feed(json.loads(data))
    out += translator.finish()
    return b"".join(encode_json(event, payload) for event, payload in out)


def translate_a2o(pieces: Iterable[bytes], include_usage: bool = True) -> bytes:
    """An Anthropic upstream stream, as the OpenAI SSE bytes qlaud sends to the client."""
    translator = AnthropicToOpenAI("gpt-test", "chatcmpl-test", CREATED, include_usage)
    chunks: list[dict[str, Any]] = []
    for event, data in decode(pieces):
        chunks += translator.feed(event, json.loads(data))
    chunks += translator.finish()
    body = b"".join(encode_json(None, chunk) for chunk in chunks)
    return body + DONE if translator.completed else body


def translate(name: str, pieces: Iterable[bytes]) -> bytes:
    return translate_a2o(pieces) if name.startswith("anthropic") else translate_o2a(pieces, name)


def as_events(body: bytes) -> list[Any]:
    """Output bytes as a JSON-comparable list: [event, payload] pairs (payload "[DONE]" stays a string)."""
    return [[event, data if data == "[DONE]" else json.loads(data)] for event, data in decode([body])]


def _response(body: bytes) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/stream")
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}, request=request)


def anthropic_final_message(body: bytes) -> anthropic.types.Message:
    """What the anthropic SDK's own stream accumulator rebuilds from our bytes."""
    client = anthropic.Anthropic(api_key="test", base_url="http://127.0.0.1:9")
    raw = anthropic.Stream(cast_to=RawMessageStreamEvent, response=_response(body), client=client)
    stream = MessageStream(raw, output_format=anthropic.NOT_GIVEN)
    stream.until_done()
    return stream.get_final_message()


def openai_final_completion(body: bytes) -> Any:
    """What the openai SDK's own parser and ChatCompletionStreamState rebuild from our bytes."""
    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9")
    state = ChatCompletionStreamState()
    for chunk in openai.Stream(cast_to=ChatCompletionChunk, response=_response(body), client=client):
        state.handle_chunk(chunk)
    return state.get_final_completion()


def two_piece_splits(data: bytes) -> Iterable[tuple[bytes, bytes]]:
    for offset in range(1, len(data)):
        yield data[:offset], data[offset:]
