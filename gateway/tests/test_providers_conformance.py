"""Every protocol in PROTOCOLS through the same cases: request, stream, answer, error, count_tokens.

The wire bytes come from the fakes the end-to-end tests serve (fake_upstream for OpenAI- and Anthropic-style
upstreams, fake_bedrock for Bedrock's event stream), so a protocol added to PROTOCOLS without a WIRE row fails here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from catalog.models import Provider
from gateway.providers import PROTOCOLS
from gateway.providers.base import Call, UpstreamError
from gateway.tests import fake_bedrock
from gateway.tests import fake_upstream as fu
from gateway.tests.test_providers_bedrock import TEST_CREDENTIALS

ANSWER = fu.Answer(text="Hello there")
CLAUDE = "anthropic.claude-haiku-4-5-20251001-v1:0"


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(
        (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"
        for name, data in events
    )


def _openai_stream() -> bytes:
    chunks = fu.openai_chunks(ANSWER, {"model": "m"}, include_usage=True)
    return _sse([("", chunk) for chunk in chunks]) + b"data: [DONE]\n\n"


def _anthropic_stream() -> bytes:
    return _sse([(event["type"], event) for event in fu.anthropic_events(ANSWER, {"model": "m"})])


@dataclass(frozen=True)
class Wire:
    """One protocol's side of the cases: what its upstream sends, and the host it is called for."""

    stream: bytes
    answer: bytes
    error_429: bytes
    upstream_model: str
    provider: dict[str, Any]


OPENAI = Wire(
    _openai_stream(),
    json.dumps(fu.openai_message(ANSWER, {"model": "m"})).encode(),
    fu.openai_error(429).body,  # type: ignore[arg-type]
    "up-model",
    {"slug": "deepseek", "base_url": "https://api.example.test/v1"},
)
ANTHROPIC = Wire(
    _anthropic_stream(),
    json.dumps(fu.anthropic_message(ANSWER, {"model": "m"})).encode(),
    fu.anthropic_error(429).body,  # type: ignore[arg-type]
    "claude-haiku-4-5",
    {"slug": "anthropic", "base_url": "https://api.anthropic.test"},
)
WIRE: dict[str, Wire] = {
    "openai": OPENAI,
    "anthropic": ANTHROPIC,
    "bedrock": Wire(
        b"".join(fake_bedrock.invoke_frames(ANSWER, {"model": "m"})),
        ANTHROPIC.answer,
        json.dumps({"message": "slow down"}).encode(),
        CLAUDE,
        {"slug": "bedrock", "config": {"region": "eu-west-1"}},
    ),
    "vertex-anthropic": Wire(
        ANTHROPIC.stream, ANTHROPIC.answer, ANTHROPIC.error_429, "claude-haiku-4-5", {"slug": "vertex"}
    ),
    "vertex-openai": Wire(
        OPENAI.stream, OPENAI.answer, OPENAI.error_429, "google/gemini-2.5-flash", {"slug": "vertex"}
    ),
    # The demo's in-process upstream speaks OpenAI's wire (gateway/providers/demo.py).
    "demo": Wire(OPENAI.stream, OPENAI.answer, OPENAI.error_429, "demo", {"slug": "demo"}),
}
BODIES = {
    "openai": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "anthropic": {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS[1])
    monkeypatch.setenv("AWS_SESSION_TOKEN", TEST_CREDENTIALS[2])
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("VERTEX_PROJECT", "test-project")
    monkeypatch.setenv("VERTEX_LOCATION", "global")


def call(protocol: str, *, stream: bool = False) -> Call:
    wire = WIRE[protocol]
    provider = {"base_url": "", "config": {}, "via_cloudflare": False, "cf_segment": "", **wire.provider}
    host = SimpleNamespace(
        upstream_model=wire.upstream_model, capabilities=frozenset(), provider=SimpleNamespace(**provider)
    )
    body = BODIES[PROTOCOLS[protocol].DIALECT]
    return Call(host=host, body=body, stream=stream, api_key="sk-or-token")  # type: ignore[arg-type]


def test_every_protocol_has_a_row_here_and_a_choice_in_the_catalog() -> None:
    assert set(WIRE) == set(PROTOCOLS)
    assert set(Provider.Protocol.values) == set(PROTOCOLS)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
async def test_it_builds_one_post_in_its_own_dialect(protocol: str) -> None:
    module = PROTOCOLS[protocol]
    assert module.DIALECT in ("openai", "anthropic")
    for stream in (False, True):
        c = call(protocol, stream=stream)
        if module.prepare is not None:
            await module.prepare(c)
        req = module.build_request(c)
        assert req.method == "POST" and req.url.startswith("https://")
        assert isinstance(req.content, bytes) and req.content


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
async def test_it_streams_its_upstreams_events_in_its_dialect(protocol: str) -> None:
    module = PROTOCOLS[protocol]
    response = httpx.Response(200, stream=httpx.ByteStream(WIRE[protocol].stream))
    events = [event async for event in module.iter_events(response)]
    assert events and all(isinstance(data, dict) for _, data in events)
    if module.DIALECT == "openai":
        assert {name for name, _ in events} == {""}
        text = "".join(d["choices"][0]["delta"].get("content") or "" for _, d in events if d.get("choices"))
    else:
        assert events[0][0] == "message_start" and events[-1][0] == "message_stop"
        text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == ANSWER.text


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_it_parses_a_whole_answer_in_its_dialect(protocol: str) -> None:
    body = PROTOCOLS[protocol].parse_response(WIRE[protocol].answer)
    assert isinstance(body, dict) and ANSWER.text in json.dumps(body)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_it_classifies_a_429_as_retryable_with_the_upstreams_message(protocol: str) -> None:
    err = PROTOCOLS[protocol].parse_error(429, WIRE[protocol].error_429)
    assert isinstance(err, UpstreamError)
    assert (err.status, err.retryable) == (429, True) and err.type and err.message


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
async def test_count_tokens_is_a_request_with_a_reader_or_none(protocol: str) -> None:
    module = PROTOCOLS[protocol]
    c = call(protocol)
    if module.prepare is not None:
        await module.prepare(c)
    req = module.build_count_tokens(c)
    if req is None:
        assert module.DIALECT == "openai"  # no OpenAI-compatible upstream has a native count
        return
    assert req.method == "POST" and req.content
    answer = {"input_tokens": 9} if protocol != "bedrock" else {"inputTokens": 9}
    assert module.parse_count_tokens(json.dumps(answer).encode()) == 9
