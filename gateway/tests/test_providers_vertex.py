"""Vertex AI providers: service-account tokens (against a local token server), URLs, bodies, errors. Offline."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anthropic
import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway import outbound
from gateway.providers import PROTOCOLS, vertex, vertex_openai
from gateway.providers.base import Call, UpstreamError
from gateway.tests.conftest import CREDIT
from gateway.tests.e2e import (
    WEATHER_TOOL,
    anthropic_client,
    assert_cursor_cache_kept,
    billed,
    cursor_claude_for,
    expected_charge,
    fake_usage,
)
from gateway.tests.fake_bedrock import FakeTokenServer
from gateway.tests.fake_upstream import COUNT_TOKENS_BASE, FakeUpstream
from gateway.translate.shaping import Target

CLAUDE = "claude-sonnet-4-5@20250929"
SA_EMAIL = "qlaud-test@test-project.iam.gserviceaccount.com"
START = "2026-11-28T09:00:00Z"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def token_server() -> Iterator[FakeTokenServer]:
    server = FakeTokenServer().start()
    yield server
    server.stop()


@pytest.fixture
def service_account(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, token_server: FakeTokenServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": SA_EMAIL,
        "client_id": "1",
        "token_uri": token_server.url,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("VERTEX_PROJECT", "test-project")
    monkeypatch.setenv("VERTEX_LOCATION", "global")
    vertex.reset_tokens()
    yield path
    vertex.reset_tokens()


def host(model: str = CLAUDE, **provider: Any) -> SimpleNamespace:
    defaults = {"slug": "vertex", "base_url": "", "config": {}, "via_cloudflare": False, "cf_segment": ""}
    return SimpleNamespace(
        upstream_model=model, capabilities=frozenset(), provider=SimpleNamespace(**(defaults | provider))
    )


def call(model: str = CLAUDE, *, stream: bool = False, **kw: Any) -> Call:
    body = kw.pop("body", None) or {
        "model": "claude-sonnet-4.5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    return Call(
        host=kw.pop("host", None) or host(model), body=body, stream=stream, api_key=kw.pop("api_key", None), **kw
    )


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# --- tokens -------------------------------------------------------------------------------


def test_it_mints_a_token_with_a_jwt_signed_by_the_service_account_key(
    service_account: Path, token_server: FakeTokenServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    req = vertex.build_request(call())
    assert req.headers["authorization"] == "Bearer ya29.fake-1"
    header, claims, signature = token_server.assertions[0].split(".")
    rsa_key.public_key().verify(
        _b64url(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )  # raises if the signature is not the service account's
    payload = json.loads(_b64url(claims))
    assert payload["iss"] == SA_EMAIL
    assert payload["aud"] == "https://oauth2.googleapis.com/token"  # google-auth always signs for this audience
    assert payload["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_it_reuses_the_cached_token_across_requests(service_account: Path, token_server: FakeTokenServer) -> None:
    for _ in range(5):
        assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-1"
    assert len(token_server.assertions) == 1


@pytest.fixture
def minting_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every thread that asks Google's token server for a token."""
    threads: list[str] = []
    original = vertex._auth_request

    def recording() -> Any:
        threads.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr(vertex, "_auth_request", recording)
    return threads


async def test_prepare_mints_the_token_off_the_event_loop(
    service_account: Path, token_server: FakeTokenServer, minting_threads: list[str]
) -> None:
    threads = minting_threads
    await vertex.prepare(call())
    assert threads and threading.main_thread().name not in threads
    assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-1"
    assert len(token_server.assertions) == 1


def test_it_refreshes_in_the_background_shortly_before_expiry(
    service_account: Path, token_server: FakeTokenServer
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-1"
        clock.shift(55 * 60)  # five minutes left: still served, but a refresh starts
        assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-1"
        deadline = time.monotonic() + 10
        while len(token_server.assertions) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-2"


def test_an_expired_token_is_replaced_before_use(service_account: Path, token_server: FakeTokenServer) -> None:
    with time_machine.travel(START, tick=False) as clock:
        vertex.build_request(call())
        clock.shift(61 * 60)
        assert vertex.build_request(call()).headers["authorization"] == "Bearer ya29.fake-2"


def test_without_a_service_account_it_uses_a_given_access_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("VERTEX_PROJECT", "p")
    vertex.reset_tokens()
    assert vertex.build_request(call(api_key="ya29.given")).headers["authorization"] == "Bearer ya29.given"
    with pytest.raises(UpstreamError) as caught:
        vertex.build_request(call())
    assert caught.value.status == 401 and caught.value.retryable


# --- URLs and bodies ----------------------------------------------------------------------


def test_it_is_registered_for_both_vertex_protocols() -> None:
    assert PROTOCOLS["vertex-anthropic"] is vertex and vertex.DIALECT == "anthropic"
    assert PROTOCOLS["vertex-openai"] is vertex_openai and vertex_openai.DIALECT == "openai"
    assert vertex_openai.build_count_tokens(call()) is None


def test_claude_goes_to_raw_predict_with_the_vertex_anthropic_version(service_account: Path) -> None:
    req = vertex.build_request(call(stream=True, incoming_headers={"anthropic-beta": "b-1"}))
    assert req.url == (
        "https://aiplatform.googleapis.com/v1/projects/test-project/locations/global/"
        "publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    )
    assert json.loads(req.content) == {
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "anthropic_version": "vertex-2023-10-16",
        "stream": True,
    }
    assert req.headers["anthropic-beta"] == "b-1"
    assert vertex.build_request(call()).url.endswith(":rawPredict")


def test_cursors_claude_chat_body_reaches_vertex_raw_predict_with_its_cache_control(service_account: Path) -> None:
    body = cursor_claude_for(Target("anthropic", "vertex", CLAUDE))
    assert_cursor_cache_kept(json.loads(vertex.build_request(call(body=body)).content))


def test_count_tokens_goes_to_the_count_tokens_model_with_the_model_in_the_body(service_account: Path) -> None:
    body = {
        "model": "claude-sonnet-4.5",
        "max_tokens": 1,
        "temperature": 0.5,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
    }
    req = vertex.build_count_tokens(call(body=body, incoming_headers={"Anthropic-Beta": "b-1"}))
    assert req.url == (
        "https://aiplatform.googleapis.com/v1/projects/test-project/locations/global/"
        "publishers/anthropic/models/count-tokens:rawPredict"
    )
    assert json.loads(req.content) == {
        "model": CLAUDE,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
        "anthropic_version": "vertex-2023-10-16",
    }
    assert req.headers["authorization"] == "Bearer ya29.fake-1"
    assert req.headers["anthropic-beta"] == "b-1"
    assert vertex.parse_count_tokens(b'{"input_tokens": 12}') == 12


def test_a_regional_location_uses_the_regional_host(service_account: Path) -> None:
    # The seed catalog's base URL is the global host; a regional location still picks its own host.
    provider = {
        "config": {"project": "proj-2", "location": "us-east5"},
        "base_url": "https://aiplatform.googleapis.com",
    }
    req = vertex.build_request(call(host=host(**provider)))
    assert req.url.startswith(
        "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-2/locations/us-east5/publishers/anthropic/"
    )


def test_the_openai_endpoint_gets_the_publisher_model_id(service_account: Path) -> None:
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    req = vertex_openai.build_request(call("google/gemini-2.5-flash", stream=True, body=body))
    assert req.url == (
        "https://aiplatform.googleapis.com/v1/projects/test-project/locations/global/endpoints/openapi/chat/completions"
    )
    assert json.loads(req.content)["model"] == "google/gemini-2.5-flash"
    assert json.loads(req.content)["stream"] is True
    assert req.headers["authorization"] == "Bearer ya29.fake-1"


def test_a_missing_project_is_a_retryable_configuration_error(
    service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERTEX_PROJECT")
    with pytest.raises(UpstreamError) as caught:
        vertex.build_request(call())
    assert caught.value.status == 401 and caught.value.retryable


def test_through_cloudflare_it_uses_the_google_vertex_ai_path(service_account: Path, settings: Any) -> None:
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "acc", "gw", ""
    settings.CF_AIG_BASE_URL = "https://gateway.ai.cloudflare.com/v1"
    req = vertex.build_request(call(host=host(via_cloudflare=True)))
    assert req.url == (
        "https://gateway.ai.cloudflare.com/v1/acc/gw/google-vertex-ai/v1/projects/test-project/locations/global/"
        "publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    )
    assert req.headers["authorization"] == "Bearer ya29.fake-1"


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "want"),
    [
        (
            429,
            [{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}],
            "rate_limit_error",
        ),
        (400, {"error": {"code": 400, "message": "Bad field", "status": "INVALID_ARGUMENT"}}, "invalid_request_error"),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "overloaded_error"),
    ],
)
def test_it_classifies_google_and_anthropic_error_shapes(status: int, body: Any, want: str) -> None:
    error = vertex.parse_error(status, json.dumps(body).encode())
    assert error.type == want
    assert error.retryable is (status != 400)
    assert error.message in ("Quota exceeded", "Bad field", "Overloaded")


# --- over real HTTP, against the fake upstream -------------------------------------------


@pytest.fixture
def fake() -> Iterator[Any]:
    server = FakeUpstream().start()
    yield server
    server.stop()


async def _stream(req: Any, module: Any) -> tuple[int, bytes, list[tuple[str, dict]]]:
    request = outbound.client().build_request(req.method, req.url, headers=req.headers, content=req.content)
    response = await outbound.client().send(request, stream=True)
    try:
        if response.status_code != 200:
            return response.status_code, await response.aread(), []
        return 200, b"", [e async for e in module.iter_events(response)]
    finally:
        await response.aclose()
        await outbound.aclose()


async def test_a_claude_stream_round_trips_with_the_minted_token(service_account: Path, fake: Any) -> None:
    await vertex.prepare(call())
    req = vertex.build_request(
        call("claude-fake-tool@2025", stream=True, host=host("claude-fake-tool@2025", base_url=fake.url))
    )
    status, body, events = await _stream(req, vertex)
    assert status == 200, body
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert [d["content_block"]["name"] for n, d in events if n == "content_block_start"] == ["get_weather"]
    assert "model" not in fake.requests[-1].body


async def test_a_gemini_stream_round_trips_through_the_openai_endpoint(service_account: Path, fake: Any) -> None:
    body = {"model": "g", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}}
    req = vertex_openai.build_request(
        call("google/gemini-fake-text", stream=True, body=body, host=host(base_url=fake.url))
    )
    status, raw, chunks = await _stream(req, vertex_openai)
    assert status == 200, raw
    text = "".join((c["choices"][0]["delta"].get("content") or "") for _, c in chunks if c.get("choices"))
    assert text == "Hello from the fake upstream."
    assert chunks[-1][1]["usage"]["prompt_tokens"] == 120


async def test_a_token_the_server_never_issued_is_refused(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("VERTEX_PROJECT", "p")
    vertex.reset_tokens()
    req = vertex.build_request(call(api_key="ya29.forged", host=host(base_url=fake.url)))
    status, raw, _ = await _stream(req, vertex)
    error = vertex.parse_error(status, raw)
    assert (error.status, error.type) == (401, "authentication_error")
    assert error.message == "Request had invalid authentication credentials."


# --- end to end: the real SDKs through qlaud to the fake Vertex ------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_claude_on_vertex_answers_and_bills_through_qlaud(live, tenant, catalog, fake, service_account, stream):
    provider = catalog.provider("vertex", "vertex-anthropic", config={"project": "proj-e2e", "location": "global"})
    catalog.model("claude-v", (provider, "claude-fake-tool@20250929"))
    kwargs = {
        "model": "claude-v",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER_TOOL],
    }
    client = anthropic_client(live, tenant.raw)
    if stream:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)

    assert [(b.type, b.input) for b in message.content] == [("tool_use", {"city": "Paris"})]
    (row,) = billed()
    assert row.cost == expected_charge(fake_usage())
    (sent,) = fake.requests  # this module's `fake` is also the one the catalog points at
    assert sent.path == (
        "/v1/projects/proj-e2e/locations/global/publishers/anthropic/models/claude-fake-tool@20250929:"
        + ("streamRawPredict" if stream else "rawPredict")
    )
    assert sent.headers["Authorization"] == "Bearer ya29.fake-1"
    assert sent.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent.body


@pytest.mark.e2e
def test_count_tokens_for_claude_on_vertex_asks_vertex_and_costs_nothing(live, tenant, catalog, fake, service_account):
    provider = catalog.provider("vertex", "vertex-anthropic", config={"project": "proj-e2e", "location": "global"})
    catalog.model("claude-v", (provider, "claude-fake-text@20250929"))
    messages = [{"role": "user", "content": "How many tokens is this?"}]
    count = anthropic_client(live, tenant.raw).messages.count_tokens(model="claude-v", system="hi", messages=messages)

    (sent,) = fake.requests
    assert sent.path == "/v1/projects/proj-e2e/locations/global/publishers/anthropic/models/count-tokens:rawPredict"
    assert sent.headers["Authorization"] == "Bearer ya29.fake-1"
    assert sent.body == {
        "model": "claude-fake-text@20250929",
        "system": "hi",
        "messages": messages,
        "anthropic_version": "vertex-2023-10-16",
    }
    assert count.input_tokens == COUNT_TOKENS_BASE + len(json.dumps(messages)) // 4
    assert tenant.balance == CREDIT


@pytest.mark.e2e
def test_the_gateway_mints_the_vertex_token_off_its_event_loop(
    live, tenant, catalog, fake, service_account, minting_threads
):
    threads = minting_threads
    provider = catalog.provider("vertex", "vertex-anthropic", config={"project": "proj-e2e", "location": "global"})
    catalog.model("claude-v", (provider, "claude-fake-text@20250929"))
    message = anthropic_client(live, tenant.raw).messages.create(
        model="claude-v", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content
    assert threads and "qlaud-uvicorn" not in threads  # the server's loop runs in that thread


@pytest.mark.e2e
def test_vertex_credentials_that_fail_are_an_upstream_error_in_the_surface_shape(
    live, tenant, catalog, fake, tmp_path, monkeypatch
):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    vertex.reset_tokens()
    provider = catalog.provider("vertex", "vertex-anthropic", config={"project": "proj-e2e", "location": "global"})
    catalog.model("claude-v", (provider, "claude-fake-text@20250929"))
    with pytest.raises(anthropic.APIStatusError) as refused:
        anthropic_client(live, tenant.raw).messages.create(
            model="claude-v", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 502
    assert refused.value.body["error"]["type"] == "api_error"
    assert "vertex" in refused.value.body["error"]["message"]
    (row,) = billed()
    assert (row.status, row.cost) == (502, 0)
    assert fake.requests == []
