"""Bedrock provider: event-stream framing, Converse translation, InvokeModel, SigV4, errors. All offline."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.session
import httpx
import pytest
import time_machine
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import outbound
from gateway.providers import PROTOCOLS, bedrock
from gateway.providers.base import Call, UpstreamError
from gateway.providers.bedrock import converse as bedrock_converse
from gateway.providers.bedrock.eventstream import (
    EventStreamError,
    FrameDecoder,
)
from gateway.tests import fake_bedrock
from gateway.tests.conftest import CREDIT
from gateway.tests.e2e import (
    WEATHER_FUNCTION,
    WEATHER_TOOL,
    anthropic_client,
    assert_cursor_cache_kept,
    billed,
    cursor_claude_for,
    expected_charge,
    fake_usage,
    openai_client,
)
from gateway.tests.fake_bedrock import (
    TEST_BEDROCK_KEY,
    TEST_CREDENTIALS,
    encode_event,
    encode_exception,
    encode_frame,
    sigv4_valid,
)
from gateway.tests.fake_upstream import COUNT_TOKENS_BASE, FakeUpstream
from gateway.translate.shaping import Target

FIXTURES = Path(__file__).parent / "fixtures"
CONVERSE_FIXTURES = sorted(p.stem for p in FIXTURES.glob("bedrock_converse_*.json"))
CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
LLAMA = "meta.llama3-3-70b-instruct-v1:0"


# --- helpers ------------------------------------------------------------------------------


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


async def decode(chunks: list[bytes], *, normalise: bool = True) -> tuple[list[tuple[str, dict]], UpstreamError | None]:
    response = httpx.Response(200, stream=Chunks(chunks))
    events: list[tuple[str, dict]] = []
    error = None
    try:
        async for name, data in bedrock.iter_events(response):
            events.append((name, data))
    except UpstreamError as exc:
        error = exc
    return (_normalise(events) if normalise else events), error


def _normalise(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Converse streams carry no message id, so the translator makes one up: compare it as MSG."""
    out = []
    for name, data in events:
        if name == "message_start" and data["message"]["id"].startswith("msg_bdrk_"):
            data = {**data, "message": {**data["message"], "id": "MSG"}}
        out.append((name, data))
    return out


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def frames_of(spec: dict[str, Any]) -> bytes:
    out = b""
    for frame in spec["frames"]:
        payload = json.dumps(frame["payload"]).encode()
        if "exception" in frame:
            out += encode_exception(frame["exception"], payload)
        else:
            out += encode_event(frame["event"], payload)
    return out


def expected(spec: dict[str, Any]) -> list[tuple[str, dict]]:
    return [(name, data) for name, data in spec["expect"]]


def host(model: str = CLAUDE, **provider: Any) -> SimpleNamespace:
    defaults = {"slug": "bedrock", "base_url": "", "config": {"region": "eu-west-1"}, "via_cloudflare": False}
    return SimpleNamespace(
        upstream_model=model, capabilities=frozenset(), provider=SimpleNamespace(**(defaults | provider))
    )


def call(model: str = CLAUDE, *, stream: bool = False, body: dict | None = None, **kw: Any) -> Call:
    body = body or {"model": "claude-haiku-4.5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    return Call(
        host=kw.pop("host", None) or host(model), body=body, stream=stream, api_key=kw.pop("api_key", None), **kw
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS[1])
    monkeypatch.setenv("AWS_SESSION_TOKEN", TEST_CREDENTIALS[2])
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)


# --- event-stream framing -----------------------------------------------------------------


def test_it_encodes_the_empty_frame_exactly_as_the_aws_reference_bytes() -> None:
    # The 16-byte empty message from the AWS event-stream test suite (prelude and message CRCs).
    assert encode_frame({}, b"") == bytes.fromhex("000000100000000005c248eb7d98c8ff")


def test_it_decodes_frames_split_at_every_byte_offset() -> None:
    stream = encode_event("messageStart", b'{"role":"assistant"}') + encode_event("messageStop", b"{}")
    whole = FrameDecoder().feed(stream)
    assert [f.event_type for f in whole] == ["messageStart", "messageStop"]
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.flush()
        assert frames == whole, cut


def test_it_refuses_a_frame_whose_crc_does_not_match() -> None:
    frame = bytearray(encode_event("messageStart", b'{"role":"assistant"}'))
    frame[-6] ^= 0x01  # flip one payload bit
    with pytest.raises(EventStreamError):
        FrameDecoder().feed(bytes(frame))


def test_it_refuses_a_stream_cut_inside_a_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_event("messageStart", b"{}")[:-3]) == []
    with pytest.raises(EventStreamError):
        decoder.flush()


# --- Converse stream -> Anthropic events ----------------------------------------------------


@pytest.mark.parametrize("name", CONVERSE_FIXTURES)
async def test_it_translates_a_converse_stream_replayed_whole(name: str) -> None:
    spec = fixture(name)
    events, error = await decode([frames_of(spec)])
    assert events == expected(spec)
    if "error" in spec:
        assert error is not None
        assert (error.status, error.type, error.retryable, error.message) == tuple(
            spec["error"][k] for k in ("status", "type", "retryable", "message")
        )
    else:
        assert error is None


@pytest.mark.parametrize("name", CONVERSE_FIXTURES)
async def test_it_translates_a_converse_stream_split_at_every_byte_offset(name: str) -> None:
    spec = fixture(name)
    stream = frames_of(spec)
    whole = await decode([stream])
    for cut in range(len(stream) + 1):
        # UpstreamError is a frozen dataclass: equal when every field is.
        assert await decode([stream[:cut], stream[cut:]]) == whole, cut


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12))
def test_it_translates_the_same_for_random_multi_way_splits(cuts: list[int]) -> None:
    spec = fixture("bedrock_converse_parallel_tools")
    stream = frames_of(spec)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    # Synchronous on purpose: hypothesis cannot drive an async test function itself.
    events, error = asyncio.run(decode(chunks))
    assert events == expected(spec)
    assert error is None


async def test_it_passes_invoke_stream_events_through_without_bedrock_metrics() -> None:
    spec = fixture("bedrock_invoke_text")
    stream = b"".join(fake_bedrock.invoke_chunk(event) for event in spec["chunks"])
    want = [
        (e["type"], {k: v for k, v in e.items() if k != "amazon-bedrock-invocationMetrics"}) for e in spec["chunks"]
    ]
    for cut in range(0, len(stream) + 1, 7):
        events, error = await decode([stream[:cut], stream[cut:]], normalise=False)
        assert events == want
        assert error is None


async def test_it_reports_a_corrupt_stream_as_a_non_retryable_upstream_error() -> None:
    stream = bytearray(frames_of(fixture("bedrock_converse_text")))
    stream[40] ^= 0xFF
    _, error = await decode([bytes(stream)])
    assert error is not None and error.status == 502 and not error.retryable


# --- request building ---------------------------------------------------------------------


def test_it_is_registered_for_the_bedrock_protocol_in_the_anthropic_dialect() -> None:
    assert PROTOCOLS["bedrock"] is bedrock
    assert bedrock.DIALECT == "anthropic"


def test_it_sends_claude_through_invoke_with_the_bedrock_anthropic_version(aws_env: None) -> None:
    body = {"model": "x", "stream": True, "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
    req = bedrock.build_request(call(stream=True, body=body, incoming_headers={"Anthropic-Beta": "a-1, b-2"}))
    assert req.url == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
        "us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"
    )
    sent = json.loads(req.content)
    assert sent == {
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "hi"}],
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["a-1", "b-2"],
    }
    assert bedrock.build_request(call()).url.endswith(":0/invoke")


def test_cursors_claude_chat_body_reaches_bedrock_invoke_with_its_cache_control(aws_env: None) -> None:
    body = cursor_claude_for(Target("anthropic", "bedrock", CLAUDE))
    sent = json.loads(bedrock.build_request(call(body=body)).content)
    assert_cursor_cache_kept(sent)


def test_it_sends_other_models_through_converse(aws_env: None) -> None:
    assert bedrock.build_request(call(LLAMA)).url.endswith("/model/meta.llama3-3-70b-instruct-v1:0/converse")
    assert bedrock.build_request(call(LLAMA, stream=True)).url.endswith("/converse-stream")


def test_a_host_capability_overrides_the_choice_of_api() -> None:
    forced = host(CLAUDE)
    forced.capabilities = frozenset({"bedrock-converse"})
    assert not bedrock.uses_invoke(forced)
    forced = host("some.new-model-v1:0")
    forced.capabilities = frozenset({"bedrock-invoke"})
    assert bedrock.uses_invoke(forced)
    assert bedrock.uses_invoke(host("arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-x"))


def test_it_takes_the_region_from_config_then_base_url_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert bedrock.region_for(SimpleNamespace(config={"region": "us-west-2"}, base_url="")) == "us-west-2"
    provider = SimpleNamespace(config={}, base_url="https://bedrock-runtime.eu-central-1.amazonaws.com")
    assert bedrock.region_for(provider) == "eu-central-1"
    assert bedrock.region_for(SimpleNamespace(config={}, base_url="")) == "ap-south-1"


def test_it_translates_an_anthropic_body_to_converse() -> None:
    image = {"type": "base64", "media_type": "image/jpeg", "data": "aGk="}
    body = {
        "model": "llama",
        "max_tokens": 512,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "f", "description": "does f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": image}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok", "is_error": True}],
            },
        ],
    }
    assert bedrock_converse.to_converse(body, model_id=LLAMA) == {
        "messages": [
            {"role": "user", "content": [{"text": "hi"}, {"image": {"format": "jpeg", "source": {"bytes": "aGk="}}}]},
            {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
                    {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}},
                ],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}], "status": "error"}}],
            },
        ],
        "system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {"toolSpec": {"name": "f", "description": "does f", "inputSchema": {"json": {"type": "object"}}}}
            ],
            "toolChoice": {"tool": {"name": "f"}},
        },
    }
    # Claude on Converse keeps Anthropic's thinking switch; other models would reject it.
    claude = bedrock_converse.to_converse(body, model_id=CLAUDE)
    assert claude["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}


def test_tool_choice_none_drops_the_tools_unless_the_history_uses_them() -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    plain = {
        "max_tokens": 5,
        "tools": tools,
        "tool_choice": {"type": "none"},
        "messages": [{"role": "user", "content": "x"}],
    }
    assert "toolConfig" not in bedrock_converse.to_converse(plain, model_id=LLAMA)
    used = {
        **plain,
        "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "1"}]}],
    }
    config = bedrock_converse.to_converse(used, model_id=LLAMA)["toolConfig"]
    assert "toolChoice" not in config and config["tools"][0]["toolSpec"]["name"] == "f"


def test_an_image_by_url_is_refused_as_retryable_so_another_host_can_serve_it(aws_env: None) -> None:
    url_image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    body = {"max_tokens": 5, "messages": [{"role": "user", "content": [url_image]}]}
    with pytest.raises(UpstreamError) as caught:
        bedrock.build_request(call(LLAMA, body=body))
    assert caught.value.status == 400 and caught.value.retryable


# --- count tokens ---------------------------------------------------------------------------

COUNTED = {
    "model": "claude-haiku-4.5",
    "max_tokens": 1,
    "system": "be brief",
    "tools": [{"name": "f", "description": "does f", "input_schema": {"type": "object"}}],
    "messages": [{"role": "user", "content": "how many tokens is this?"}],
}


def _signed_for_aws(req: Any, region: str = "eu-west-1") -> bool:
    wire = req.headers | {"host": f"bedrock-runtime.{region}.amazonaws.com"}
    return sigv4_valid("POST", httpx.URL(req.url).raw_path.decode(), wire, req.content, TEST_CREDENTIALS[1])


def test_count_tokens_for_claude_sends_the_invoke_body_base64_encoded_and_signed(aws_env: None) -> None:
    req = bedrock.build_count_tokens(call(body=COUNTED, incoming_headers={"anthropic-beta": "b-1"}))
    assert req.url == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/count-tokens"
    )
    sent = json.loads(req.content)
    assert list(sent) == ["input"] and list(sent["input"]) == ["invokeModel"]
    assert json.loads(base64.b64decode(sent["input"]["invokeModel"]["body"])) == {
        "max_tokens": 1,
        "system": "be brief",
        "tools": COUNTED["tools"],
        "messages": COUNTED["messages"],
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["b-1"],
    }
    assert req.headers["x-amz-content-sha256"] == hashlib.sha256(req.content).hexdigest()
    assert _signed_for_aws(req)


def test_count_tokens_for_converse_hosts_sends_only_the_parts_converse_counting_accepts(aws_env: None) -> None:
    req = bedrock.build_count_tokens(call(LLAMA, body={**COUNTED, "temperature": 0.2}))
    assert req.url.endswith("/model/meta.llama3-3-70b-instruct-v1:0/count-tokens")
    assert json.loads(req.content) == {
        "input": {
            "converse": {
                "messages": [{"role": "user", "content": [{"text": "how many tokens is this?"}]}],
                "system": [{"text": "be brief"}],
                "toolConfig": {
                    "tools": [
                        {
                            "toolSpec": {
                                "name": "f",
                                "description": "does f",
                                "inputSchema": {"json": {"type": "object"}},
                            }
                        }
                    ]
                },
            }
        }
    }  # no inferenceConfig: ConverseTokensRequest has no such member
    assert _signed_for_aws(req)


@pytest.mark.parametrize("model", [CLAUDE, LLAMA])
def test_count_tokens_bodies_are_what_botocore_would_send_for_the_same_request(aws_env: None, model: str) -> None:
    """botocore's own service model and serializer for CountTokens are the reference for the wire shape."""
    req = bedrock.build_count_tokens(call(model, body=COUNTED))
    ours = json.loads(req.content)
    count_input = ours["input"]
    if "invokeModel" in count_input:  # botocore takes the blob raw and base64-encodes it itself
        count_input = {"invokeModel": {"body": base64.b64decode(count_input["invokeModel"]["body"])}}
    operation = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("CountTokens")
    params = {"modelId": model, "input": count_input}
    validate_parameters(params, operation.input_shape)  # raises on an unknown, missing or mistyped member
    wire = create_serializer("rest-json").serialize_to_request(params, operation)
    assert json.loads(wire["body"]) == ours
    assert req.url.endswith(wire["url_path"].replace("%3A", ":"))


def test_count_tokens_reads_bedrocks_input_tokens_field() -> None:
    assert bedrock.parse_count_tokens(b'{"inputTokens": 42}') == 42
    with pytest.raises(KeyError):
        bedrock.parse_count_tokens(b'{"input_tokens": 42}')


def test_count_tokens_through_cloudflare_is_signed_for_aws(aws_env: None, settings: Any) -> None:
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "acc", "gw", "cf-token"
    settings.CF_AIG_BASE_URL = "https://gateway.ai.cloudflare.com/v1"
    req = bedrock.build_count_tokens(call(host=host(CLAUDE, via_cloudflare=True)))
    assert req.url == (
        "https://gateway.ai.cloudflare.com/v1/acc/gw/aws-bedrock/bedrock-runtime/eu-west-1/model/"
        "us.anthropic.claude-haiku-4-5-20251001-v1:0/count-tokens"
    )
    wire = req.headers | {"host": "bedrock-runtime.eu-west-1.amazonaws.com"}
    aws_path = "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/count-tokens"
    assert sigv4_valid("POST", aws_path, wire, req.content, TEST_CREDENTIALS[1])


# --- auth ---------------------------------------------------------------------------------


@time_machine.travel("2026-11-28T09:30:00Z", tick=False)
def test_it_signs_with_sigv4_that_an_independent_implementation_accepts(aws_env: None) -> None:
    req = bedrock.build_request(call(stream=True))
    headers = req.headers
    assert headers["x-amz-date"] == "20261128T093000Z"
    assert headers["x-amz-security-token"] == TEST_CREDENTIALS[2]
    assert headers["x-amz-content-sha256"] == hashlib.sha256(req.content).hexdigest()
    assert headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={TEST_CREDENTIALS[0]}/20261128/eu-west-1/bedrock/aws4_request, SignedHeaders="
    )
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "content-type"} <= set(signed)
    path = httpx.URL(req.url).raw_path.decode()
    wire = headers | {"host": "bedrock-runtime.eu-west-1.amazonaws.com"}
    assert sigv4_valid("POST", path, wire, req.content, TEST_CREDENTIALS[1])
    assert not sigv4_valid("POST", path, wire, req.content + b" ", TEST_CREDENTIALS[1])
    assert TEST_CREDENTIALS[1] not in json.dumps(headers)


def test_a_bedrock_api_key_is_sent_as_a_bearer_token(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert bedrock.build_request(call(api_key="k-1")).headers["authorization"] == "Bearer k-1"
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "k-env")
    assert bedrock.build_request(call()).headers["authorization"] == "Bearer k-env"


def test_an_aws_secret_named_as_the_providers_key_is_never_sent_as_a_bearer(aws_env: None) -> None:
    headers = bedrock.build_request(call(api_key=TEST_CREDENTIALS[1])).headers
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_it_refuses_with_a_retryable_401_when_no_credentials_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UpstreamError) as caught:
        bedrock.build_request(call())
    assert caught.value.status == 401 and caught.value.retryable


def test_through_cloudflare_it_signs_the_aws_url_and_sends_to_the_gateway(aws_env: None, settings: Any) -> None:
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "acc", "gw", "cf-token"
    settings.CF_AIG_BASE_URL = "https://gateway.ai.cloudflare.com/v1"
    req = bedrock.build_request(call(LLAMA, host=host(LLAMA, via_cloudflare=True, cf_segment="aws-bedrock")))
    assert req.url == (
        "https://gateway.ai.cloudflare.com/v1/acc/gw/aws-bedrock/bedrock-runtime/eu-west-1/model/"
        "meta.llama3-3-70b-instruct-v1:0/converse"
    )
    assert req.headers["cf-aig-authorization"] == "Bearer cf-token"
    aws_path = "/model/meta.llama3-3-70b-instruct-v1:0/converse"
    wire = req.headers | {"host": "bedrock-runtime.eu-west-1.amazonaws.com"}
    assert sigv4_valid("POST", aws_path, wire, req.content, TEST_CREDENTIALS[1])


# --- responses and errors -----------------------------------------------------------------


def test_it_turns_a_converse_response_into_an_anthropic_message() -> None:
    response = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "think", "signature": "s"}}},
                    {"text": "Hello"},
                    {"toolUse": {"toolUseId": "t9", "name": "f", "input": {"x": 1}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 20, "cacheReadInputTokens": 5},
        "metrics": {"latencyMs": 80},
    }
    message = bedrock.parse_response(json.dumps(response).encode())
    assert message["id"].startswith("msg_bdrk_")
    assert message["content"] == [
        {"type": "thinking", "thinking": "think", "signature": "s"},
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "t9", "name": "f", "input": {"x": 1}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 0,
    }


def test_it_passes_an_invoke_response_through() -> None:
    body = {"id": "msg_1", "type": "message", "content": [{"type": "text", "text": "x"}], "usage": {}}
    assert bedrock.parse_response(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    ("status", "exception", "want"),
    [
        (429, "ThrottlingException", (429, "rate_limit_error", True)),
        (503, "ModelNotReadyException", (503, "overloaded_error", True)),
        (503, "ServiceUnavailableException", (503, "overloaded_error", True)),
        (400, "ValidationException", (400, "invalid_request_error", False)),
        (403, "AccessDeniedException", (403, "permission_error", True)),
        (404, "ResourceNotFoundException", (404, "not_found_error", True)),
        (424, "ModelErrorException", (424, "api_error", True)),
        (500, "", (500, "api_error", True)),
        (400, "", (400, "invalid_request_error", False)),
    ],
)
def test_it_classifies_bedrock_http_errors(status: int, exception: str, want: tuple) -> None:
    body = {"message": "details here"}
    if exception:
        body["__type"] = f"com.amazon.bedrock#{exception}"
    error = bedrock.parse_error(status, json.dumps(body).encode())
    assert (error.status, error.type, error.retryable) == want
    assert error.message == "details here"


@pytest.mark.parametrize(
    ("exception", "want"),
    [
        ("modelStreamErrorException", (424, "api_error", True)),
        ("validationException", (400, "invalid_request_error", False)),
        ("serviceUnavailableException", (503, "overloaded_error", True)),
        ("internalServerException", (500, "api_error", True)),
    ],
)
async def test_it_raises_in_stream_exceptions_as_classified_errors(exception: str, want: tuple) -> None:
    stream = encode_event("messageStart", b'{"role":"assistant"}') + encode_exception(exception, b'{"message":"m"}')
    events, error = await decode([stream])
    assert [name for name, _ in events] == ["message_start"]
    assert error is not None and (error.status, error.type, error.retryable) == want


def test_base64_payloads_round_trip_in_the_fake() -> None:
    # The fake's chunk frames are what Bedrock documents: {"bytes": base64(event JSON)}.
    frame = FrameDecoder().feed(fake_bedrock.invoke_chunk({"type": "ping"}))[0]
    assert frame.event_type == "chunk"
    assert json.loads(base64.b64decode(json.loads(frame.payload)["bytes"])) == {"type": "ping"}


# --- over real HTTP, against the fake Bedrock (which checks the signature itself) ---------


@pytest.fixture
def fake() -> Any:
    server = FakeUpstream().start()
    yield server
    server.stop()


async def send(req: Any) -> tuple[int, bytes, list[tuple[str, dict]]]:
    request = outbound.client().build_request(req.method, req.url, headers=req.headers, content=req.content)
    response = await outbound.client().send(request, stream=True)
    try:
        if response.status_code != 200 or "eventstream" not in response.headers.get("content-type", ""):
            return response.status_code, await response.aread(), []
        return 200, b"", [e async for e in bedrock.iter_events(response)]
    finally:
        await response.aclose()
        await outbound.aclose()


@pytest.mark.parametrize("model", [CLAUDE, LLAMA])
async def test_a_signed_stream_round_trips_through_the_fake_bedrock(fake: Any, aws_env: None, model: str) -> None:
    req = bedrock.build_request(
        call(model.replace("haiku", "fake-tool"), stream=True, host=host(model, base_url=fake.url))
    )
    status, body, events = await send(req)
    assert status == 200, body
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    delta = events[-2][1]
    assert delta["usage"]["output_tokens"] == 30
    assert fake.requests[-1].headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")


async def test_a_request_altered_after_signing_is_refused_by_the_fake(fake: Any, aws_env: None) -> None:
    req = bedrock.build_request(call(LLAMA, host=host(LLAMA, base_url=fake.url)))
    tampered = type(req)(req.method, req.url, req.headers, req.content.replace(b"hi", b"yo"))
    status, _, _ = await send(tampered)
    assert status == 403


async def test_a_tool_call_streams_through_converse_as_anthropic_tool_use(fake: Any, aws_env: None) -> None:
    model = "meta.fake-tool-v1:0"
    status, body, events = await send(
        bedrock.build_request(call(model, stream=True, host=host(model, base_url=fake.url)))
    )
    assert status == 200, body
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert starts == [{"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {}}]
    partial = "".join(d["delta"]["partial_json"] for n, d in events if n == "content_block_delta")
    assert json.loads(partial) == {"city": "Paris"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_an_upstream_throttle_comes_back_as_a_retryable_429(fake: Any, aws_env: None) -> None:
    req = bedrock.build_request(call("meta.fake-429-v1:0", host=host("meta.fake-429-v1:0", base_url=fake.url)))
    status, body, _ = await send(req)
    error = bedrock.parse_error(status, body)
    assert (error.status, error.type, error.retryable) == (429, "rate_limit_error", True)


async def test_a_bedrock_api_key_is_accepted_by_the_fake(fake: Any, aws_env: None) -> None:
    req = bedrock.build_request(call(LLAMA, api_key=TEST_BEDROCK_KEY, host=host(LLAMA, base_url=fake.url)))
    status, body, _ = await send(req)
    assert status == 200
    message = bedrock.parse_response(body)
    assert message["content"] == [{"type": "text", "text": "Hello from the fake upstream."}]
    assert message["usage"]["input_tokens"] == 100


# --- end to end: the real SDKs through qlaud to the fake Bedrock ---------------------------

E2E_UPSTREAMS = {"invoke": "us.anthropic.fake-{}-v1:0", "converse": "meta.fake-{}-v1:0"}
E2E_BLOCKS = {
    "text": [("text", "Hello from the fake upstream.")],
    "tool": [("tool_use", {"city": "Paris"})],
    "reasoning": [("thinking", "2+2: add the numbers."), ("text", "4")],
}
E2E_CASES = [(api, scenario) for api in E2E_UPSTREAMS for scenario in E2E_BLOCKS]


@pytest.fixture
def bedrock_model(catalog: Any, aws_env: None, request: Any) -> str:
    api, scenario = request.param
    provider = catalog.provider("bedrock", "bedrock", config={"region": "us-east-1"})
    catalog.model(f"b-{api}-{scenario}", (provider, E2E_UPSTREAMS[api].format(scenario)))
    return f"b-{api}-{scenario}"


def _anthropic_blocks(message: Any) -> list[tuple[str, Any]]:
    values = {"text": "text", "thinking": "thinking", "tool_use": "input"}
    return [(b.type, getattr(b, values[b.type])) for b in message.content]


@pytest.mark.e2e
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("bedrock_model", E2E_CASES, ids=[f"{a}-{s}" for a, s in E2E_CASES], indirect=True)
def test_the_messages_surface_answers_and_bills_through_bedrock(live, tenant, fake, bedrock_model, stream):
    scenario = bedrock_model.rsplit("-", 1)[1]
    kwargs: dict[str, Any] = {
        "model": bedrock_model,
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if scenario == "tool":
        kwargs["tools"] = [WEATHER_TOOL]
    client = anthropic_client(live, tenant.raw)
    if stream:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)

    assert message.model == bedrock_model
    assert _anthropic_blocks(message) == E2E_BLOCKS[scenario]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (100, 30)
    (row,) = billed()
    assert (row.status, row.usage_estimated, row.cost) == (200, False, expected_charge(fake_usage()))
    (sent,) = fake.requests
    assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert "model" not in sent.body and "stream" not in sent.body


@pytest.mark.e2e
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("bedrock_model", [("converse", "tool"), ("invoke", "text")], indirect=True)
def test_the_chat_surface_answers_and_bills_through_bedrock(live, tenant, fake, bedrock_model, stream):
    client = openai_client(live, tenant.raw)
    kwargs: dict[str, Any] = {"model": bedrock_model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 99}
    kwargs["tools"] = [WEATHER_FUNCTION]
    if stream:
        chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        args = "".join(
            call.function.arguments or "" for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()
        )
        usage = chunks[-1].usage
    else:
        answer = client.chat.completions.create(**kwargs)
        text = answer.choices[0].message.content or ""
        args = "".join(c.function.arguments for c in answer.choices[0].message.tool_calls or ())
        usage = answer.usage
    if bedrock_model.endswith("tool"):
        assert (text, json.loads(args)) == ("", {"city": "Paris"})
    else:
        assert (text, args) == ("Hello from the fake upstream.", "")
    assert (usage.prompt_tokens, usage.completion_tokens) == (120, 30)
    (row,) = billed()
    assert row.cost == expected_charge(fake_usage())
    (sent,) = fake.bodies()
    if bedrock_model.startswith("b-converse"):
        assert sent["inferenceConfig"] == {"maxTokens": 99}
        assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"


@pytest.mark.e2e
@pytest.mark.parametrize("bedrock_model", [("invoke", "text"), ("converse", "text")], indirect=True)
def test_count_tokens_asks_bedrocks_count_tokens_and_costs_nothing(live, tenant, fake, bedrock_model):
    messages = [{"role": "user", "content": "How many tokens is this?"}]
    count = anthropic_client(live, tenant.raw).messages.count_tokens(
        model=bedrock_model, system="be brief", messages=messages, tools=[WEATHER_TOOL]
    )

    (sent,) = fake.requests
    assert sent.path.endswith("-v1:0/count-tokens")
    assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    counted = fake_bedrock.counted(sent.body)
    assert count.input_tokens == COUNT_TOKENS_BASE + len(json.dumps(counted["messages"])) // 4
    if bedrock_model.startswith("b-invoke"):
        assert (counted["system"], counted["tools"][0]["name"]) == ("be brief", "get_weather")
        assert counted["anthropic_version"] == "bedrock-2023-05-31"
    else:
        assert counted["system"] == [{"text": "be brief"}]
        assert counted["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert tenant.balance == CREDIT


@pytest.mark.e2e
@pytest.mark.parametrize("bedrock_model", [("invoke", "429"), ("converse", "400")], indirect=True)
def test_count_tokens_falls_back_to_the_estimate_when_bedrock_refuses(live, tenant, fake, bedrock_model):
    client = anthropic_client(live, tenant.raw)
    short = client.messages.count_tokens(model=bedrock_model, messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(model=bedrock_model, messages=[{"role": "user", "content": "word " * 400}])
    assert 0 < short.input_tokens < long.input_tokens
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests] == ["count-tokens", "count-tokens"]
