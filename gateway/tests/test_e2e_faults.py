"""Faults that must not become outages: the breaker orders hosts and never refuses, a tenant's own
bad request is not the host's fault, a prompt no host can hold is a 400, a stalled upstream ends
the stream, and provider error text reaches customers only redacted."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from catalog import health
from catalog.models import Model
from catalog.routing import CIRCUIT_CLOSED, CIRCUIT_OPEN
from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, billed, expected_charge, fake_usage, openai_client
from gateway.tests.fake_upstream import FAKE_AWS_KEY_ID

pytestmark = E2E


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    ds = catalog.provider("deepseek")
    an = catalog.provider("anthropic", "anthropic")
    catalog.model("solo", (ds, "fake-flip"))  # one host, 500s while fake.broken
    catalog.model("poisonable", (ds, "fake-poisonable"))  # one host, chokes on one prompt only
    catalog.model("leaky", (ds, "fake-leaky"))
    catalog.model("leaky-mid", (ds, "fake-leaky-mid"))
    catalog.model("claude-leaky-mid", (an, "fake-leaky-mid"))
    catalog.model("stall", (ds, "fake-stall"))
    catalog.model("stall-mid", (ds, "fake-stall-mid"))
    catalog.model("claude-stall-mid", (an, "fake-stall-mid"))
    small = catalog.model("small", (ds, "fake-text"))
    Model.objects.filter(pk=small.pk).update(context_length=1_000)
    return tenant


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def post(live: Any, path: str, body: Any, key: str) -> httpx.Response:
    return httpx.post(live.url + path, content=json.dumps(body).encode(), headers={"x-api-key": key}, timeout=30)


def host_of(model: str) -> int:
    return Model.objects.get(public_id=model).hosts.get().id


# --- the breaker -----------------------------------------------------------------------------------


def test_five_upstream_500s_then_recovery_give_zero_seconds_of_refusal_for_a_single_host_model(live, world, fake):
    client = openai_client(live, world.raw)
    fake.broken = True
    for i in range(5):  # five different requests fail: the circuit opens
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(model="solo", messages=ask(f"attempt {i}"))
        assert failed.value.status_code == 502
    time.sleep(0.2)  # the outcomes are recorded in the background
    assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_OPEN}
    fake.broken = False
    started = time.monotonic()
    answer = client.chat.completions.create(model="solo", messages=ask("after recovery"))
    assert answer.choices[0].message.content  # served at once, inside the cool-down
    assert time.monotonic() - started < 5
    time.sleep(0.2)
    assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_CLOSED}


def test_one_tenants_poison_request_repeated_does_not_open_the_circuit_nor_refuse_others(live, world, fake):
    client = openai_client(live, world.raw)
    for _ in range(12):  # one tenant polls its broken request
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="poisonable", messages=ask("poison pill"))
    time.sleep(0.2)
    assert health.circuit_state_sync([host_of("poisonable")]) == {host_of("poisonable"): CIRCUIT_CLOSED}
    answer = client.chat.completions.create(model="poisonable", messages=ask("a healthy prompt"))
    assert answer.choices[0].message.content


def test_one_body_sent_by_many_tenants_to_a_failing_host_opens_its_circuit(live, world, fake, org_b, charlie, settings):
    from accounts.keys import mint_key
    from wallet.ledger import adjust

    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    _key, other_raw = mint_key(org_b, charlie, "other tenant")
    adjust(org_id=org_b.pk, amount=10_000_000, reason="test credit", idempotency_key=f"test-credit-{org_b.pk}")
    fake.broken = True
    for _ in range(3):  # one tenant repeating its request: one strike
        with pytest.raises(openai.APIStatusError):
            openai_client(live, world.raw).chat.completions.create(model="solo", messages=ask("health check"))
    time.sleep(0.2)
    assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_CLOSED}
    with pytest.raises(openai.APIStatusError):  # the same body from another tenant: a second strike
        openai_client(live, other_raw).chat.completions.create(model="solo", messages=ask("health check"))
    time.sleep(0.2)
    assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_OPEN}


def test_an_upstream_answer_caused_by_the_request_never_counts_against_the_host():
    assert not health.is_host_fault(False, 400)
    assert not health.is_host_fault(False, 500, "invalid_request_error")  # the provider says the prompt was bad
    assert not health.is_host_fault(False, 400, "context_length_exceeded")
    assert health.is_host_fault(False, 500, "api_error")
    assert health.is_host_fault(False, 429, "rate_limit_error")  # our key's rate at the provider: everyone's


def test_a_stream_that_probes_a_host_closes_its_circuit_at_the_first_byte(live, world, fake, settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    fake.broken = True
    with pytest.raises(anthropic.APIStatusError):
        anthropic_client(live, world.raw).messages.create(model="solo", max_tokens=5, messages=ask("x"))
    time.sleep(0.2)
    assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_OPEN}
    fake.broken = False
    body = {"model": "solo", "max_tokens": 50, "stream": True, "messages": ask("a stream")}
    with httpx.stream("POST", live.url + "/v1/messages", json=body, headers={"x-api-key": world.raw}) as stream:
        assert stream.status_code == 200
        chunks = stream.iter_bytes()
        next(chunks)  # first bytes in hand, the stream not finished
        time.sleep(0.2)
        assert health.circuit_state_sync([host_of("solo")]) == {host_of("solo"): CIRCUIT_CLOSED}
        assert b"message_stop" in b"".join(chunks)


# --- a prompt no host can hold ------------------------------------------------------------------------


def test_a_prompt_longer_than_every_context_window_is_a_400_naming_the_limit_not_overloaded(live, world):
    long = ask("word " * 2_000)  # ~10,000 characters: more than 1,000 tokens by any count
    response = post(live, "/v1/messages", {"model": "small", "max_tokens": 5, "messages": long}, world.raw)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "1000 tokens" in response.json()["error"]["message"]
    response = post(live, "/v1/chat/completions", {"model": "small", "messages": long}, world.raw)
    assert response.status_code == 400 and "1000 tokens" in response.json()["error"]["message"]
    assert response.json()["error"]["param"] == "messages"


# --- upstream stalls ------------------------------------------------------------------------------------


def test_an_upstream_that_sends_headers_then_nothing_is_ended_after_the_first_byte_timeout(live, world, settings):
    settings.GATEWAY_FIRST_BYTE_TIMEOUT = 1.0
    body = {"model": "stall", "max_tokens": 50, "stream": True, "messages": ask("hi")}
    started = time.monotonic()
    response = post(live, "/v1/messages", body, world.raw)
    assert time.monotonic() - started < 10  # not the fake's 30 s of silence, nor 10 minutes
    events = [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]
    assert events[-1] == "error" and "message_stop" not in events
    assert "sent nothing" in response.text
    (row,) = billed()
    assert row.cost == 0  # nothing delivered, nothing billed


def test_a_non_streaming_request_whose_upstream_sends_headers_then_nothing_ends_after_the_idle_timeout(
    live, world, settings
):
    settings.GATEWAY_IDLE_TIMEOUT = 1.0
    started = time.monotonic()
    response = post(live, "/v1/chat/completions", {"model": "stall", "messages": ask("hi")}, world.raw)
    assert time.monotonic() - started < 10  # not the fake's 30 s of silence, nor GATEWAY_READ_TIMEOUT
    assert response.status_code == 504 and response.headers["content-type"].startswith("application/json")
    assert "timed out" in response.json()["error"]["message"]
    (row,) = billed()
    assert row.cost == 0


@pytest.mark.parametrize("model", ["stall-mid", "claude-stall-mid"])
def test_an_upstream_that_goes_silent_mid_stream_is_ended_after_the_idle_timeout_and_bills_what_was_delivered(
    live, world, settings, model
):
    settings.GATEWAY_IDLE_TIMEOUT = 1.0
    body = {"model": model, "stream": True, "messages": ask("hi"), "stream_options": {"include_usage": True}}
    started = time.monotonic()
    response = post(live, "/v1/chat/completions", body, world.raw)
    assert time.monotonic() - started < 10
    assert response.status_code == 200
    assert '"error"' in response.text and "sent nothing for 1 seconds" in response.text
    (row,) = billed()
    assert row.error_type == "api_error"
    assert 0 < row.cost <= expected_charge(fake_usage())


def test_a_host_may_wait_longer_than_the_default_for_its_first_byte(live, world, settings, fake):
    from catalog.models import Host

    settings.GATEWAY_FIRST_BYTE_TIMEOUT = 0.5
    Host.objects.filter(model__public_id="stall").update(first_byte_timeout=3.0)
    fake.stall_seconds = 1.5  # longer than the default, shorter than the host's own
    body = {"model": "stall", "max_tokens": 50, "stream": True, "messages": ask("hi")}
    response = post(live, "/v1/messages", body, world.raw)
    assert "message_stop" in response.text and "sent nothing" not in response.text


# --- errors from upstreams ------------------------------------------------------------------------------

# What the fake upstream's errors quote (fake_upstream.LEAKY_ERROR, LEAKY_STREAM_MESSAGE) that no client or log may see.
SECRETS = (
    "sk-proj",
    "abcDEF1234567890xyz",
    "org-AbC123xyz456",
    "998877665544",
    "ops@operator.example",
    FAKE_AWS_KEY_ID,
    "eyJhbGciOiJIUzI1NiJ9",
    "AIzaSyA1234567890",
)
STREAM_SECRETS = (*SECRETS, "inference.internal.operator.example", "10.20.30.40", "0123456789abcdef0123456789abcdef")


def test_an_upstream_error_reaches_the_client_with_its_type_and_status_and_no_credentials_or_account_ids(live, world):
    response = post(live, "/v1/chat/completions", {"model": "leaky", "messages": ask("hi")}, world.raw)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "500" in message and "insufficient_quota" in message and "deepseek" in message
    for secret in SECRETS:
        assert secret not in message, secret
    assert "[redacted]" in message and "Incorrect API key provided" in message


@pytest.mark.parametrize(
    ("path", "model", "error_frame"),
    [
        ("/v1/messages", "claude-leaky-mid", "event: error"),  # Anthropic upstream, passed through
        ("/v1/messages", "leaky-mid", "event: error"),  # OpenAI-dialect upstream, translated
        ("/v1/chat/completions", "leaky-mid", 'data: {"error"'),  # passed through
        ("/v1/chat/completions", "claude-leaky-mid", 'data: {"error"'),  # translated
    ],
)
def test_an_upstream_error_in_the_middle_of_a_stream_reaches_client_and_logs_only_redacted(
    live, world, caplog, path, model, error_frame
):
    caplog.set_level(logging.DEBUG)
    body = {"model": model, "max_tokens": 50, "stream": True, "messages": ask("hi")}
    response = post(live, path, body, world.raw)
    assert response.status_code == 200 and error_frame in response.text  # the stream had begun: an error event
    assert "Hello" in response.text  # what came before the error was delivered
    (row,) = billed()
    for secret in STREAM_SECRETS:
        assert secret not in response.text, secret
        assert secret not in caplog.text, secret
        assert secret not in row.error_type, secret
    assert "[redacted]" in response.text and "Incorrect API key provided" in response.text
    assert "metadata" not in response.text  # nothing of the provider's error object beyond its type and text


def test_the_sdks_see_a_mid_stream_upstream_error_as_an_error_with_the_redacted_text(live, world):
    with pytest.raises(anthropic.APIStatusError) as claude_failed:
        with anthropic_client(live, world.raw).messages.stream(
            model="claude-leaky-mid", max_tokens=50, messages=ask("hi")
        ) as stream:
            for _ in stream:
                pass
    with pytest.raises(openai.APIError) as openai_failed:
        for _ in openai_client(live, world.raw).chat.completions.create(
            model="leaky-mid", messages=ask("hi"), stream=True
        ):
            pass
    for failure in (claude_failed.value, openai_failed.value):
        assert "during the stream" in str(failure) and "[redacted]" in str(failure)
        assert not [secret for secret in STREAM_SECRETS if secret in str(failure)]
