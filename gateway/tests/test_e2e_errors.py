"""Every refusal in the surface's own shape, status and SDK exception type; failover; mid-stream failure."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import anthropic
import httpx
import openai
import pytest

from accounts.keys import keys_changed, revoke_key
from catalog import version
from catalog.models import Provider
from gateway import pipeline, ratelimit
from gateway.tests.conftest import E2E, wait_for_log
from gateway.tests.e2e import anthropic_client, billed, expected_charge, fake_usage, openai_client
from wallet.ledger import adjust

pytestmark = E2E

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    """deepseek-ish text model, an anthropic-protocol model, and failing/flaky hosts."""
    ds = catalog.provider("deepseek")
    groq = catalog.provider("groq", path="/openai/v1")
    an = catalog.provider("anthropic", "anthropic")
    catalog.model("text", (ds, "fake-text"))
    catalog.model("claude-text", (an, "fake-text"))
    catalog.model("flaky", (ds, "fake-503"), (groq, "fake-text"))
    catalog.model("down", (ds, "fake-503"), (groq, "fake-500"))
    catalog.model("busy", (ds, "fake-429"))
    catalog.model("claude-busy", (an, "fake-overloaded"))
    catalog.model("bad-request", (ds, "fake-400"))
    catalog.model("broken", (ds, "fake-disconnect"))
    catalog.model("claude-broken", (an, "fake-disconnect"))
    catalog.model("quiet", (ds, "fake-no-usage"))
    return tenant


def post(live: Any, path: str, body: Any, key: str | None, **headers: str) -> httpx.Response:
    if key:
        headers["x-api-key"] = key
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(live.url + path, content=content, headers=headers, timeout=30)


def anthropic_error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return response.status_code, body["error"]["type"]


def openai_error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return response.status_code, body["error"]["type"]


# --- authentication -------------------------------------------------------------------------------


def test_it_refuses_a_missing_or_wrong_key_in_each_surfaces_shape(live, world):
    assert anthropic_error(post(live, "/v1/messages", {}, None)) == (401, "authentication_error")
    assert openai_error(post(live, "/v1/chat/completions", {}, "ak_" + "x" * 40)) == (401, "authentication_error")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(live, "ak_wrong").messages.create(model="text", max_tokens=5, messages=HI)
    with pytest.raises(openai.AuthenticationError):
        openai_client(live, "sk-not-ours").chat.completions.create(model="text", messages=HI)


def test_it_refuses_a_revoked_key_at_once(live, world):
    client = anthropic_client(live, world.raw)
    assert client.messages.create(model="text", max_tokens=5, messages=HI).content
    revoke_key(world.key)
    with pytest.raises(anthropic.AuthenticationError, match="revoked"):
        client.messages.create(model="text", max_tokens=5, messages=HI)


def test_it_accepts_the_key_in_either_header_on_every_route(live, world):
    body = {"model": "text", "max_tokens": 5, "messages": HI}
    bearer = {"authorization": f"Bearer {world.raw}"}
    assert httpx.post(live.url + "/v1/messages", json=body, headers=bearer).status_code == 200
    assert httpx.post(live.url + "/v1/chat/completions", json=body, headers=bearer).status_code == 200
    assert httpx.post(live.url + "/v1/messages/count_tokens", json=body, headers=bearer).status_code == 200
    assert post(live, "/v1/chat/completions", body, world.raw).status_code == 200


# --- bad input ------------------------------------------------------------------------------------------


def test_it_answers_malformed_json_and_missing_fields_with_400_naming_the_field(live, world):
    assert anthropic_error(post(live, "/v1/messages", b"{not json", world.raw)) == (400, "invalid_request_error")
    response = post(live, "/v1/messages", {"model": "text", "messages": HI}, world.raw)
    assert anthropic_error(response) == (400, "invalid_request_error")
    assert "max_tokens" in response.json()["error"]["message"]
    response = post(live, "/v1/chat/completions", {"model": "text"}, world.raw)
    assert openai_error(response) == (400, "invalid_request_error")
    assert response.json()["error"]["param"] == "messages"
    with pytest.raises(openai.BadRequestError):
        openai_client(live, world.raw).chat.completions.create(model="text", messages=HI, n=3)


def test_it_refuses_a_body_over_the_size_limit_with_413(live, world, settings):
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    big = {"model": "text", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 2000}]}
    assert anthropic_error(post(live, "/v1/messages", big, world.raw)) == (413, "request_too_large")
    assert openai_error(post(live, "/v1/chat/completions", big, world.raw))[0] == 413


def test_a_body_over_djangos_upload_limit_is_a_413_too_not_a_500(live, world, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE equals the gateway's limit by default; it must not turn a big body into a 500."""
    settings.GATEWAY_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = {"model": "text", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 200_000}]}
    assert anthropic_error(post(live, "/v1/messages", big, world.raw)) == (413, "request_too_large")
    assert openai_error(post(live, "/v1/responses", {"model": "text", "input": "x" * 5000}, world.raw))[0] == 413
    # refused after authentication, so they are on the key's log like any other refusal
    assert [row.status for row in wait_for_log(count=2)] == [413, 413]


def test_it_answers_an_unknown_model_with_404_and_says_where_models_are_listed(live, world):
    with pytest.raises(anthropic.NotFoundError, match="/v1/models"):
        anthropic_client(live, world.raw).messages.create(model="nope", max_tokens=5, messages=HI)
    with pytest.raises(openai.NotFoundError, match="/v1/models"):
        openai_client(live, world.raw).chat.completions.create(model="nope", messages=HI)


def test_it_refuses_a_model_the_key_is_not_allowed_to_use_with_403(live, world):
    world.key.allowed_models = ["claude-*"]
    world.key.save()
    keys_changed()
    with pytest.raises(openai.PermissionDeniedError):
        openai_client(live, world.raw).chat.completions.create(model="text", messages=HI)
    assert anthropic_client(live, world.raw).messages.create(model="claude-text", max_tokens=5, messages=HI)


def test_it_never_answers_html_or_a_traceback_for_other_methods(live, world):
    response = httpx.get(live.url + "/v1/messages", headers={"x-api-key": world.raw})
    assert anthropic_error(response)[0] == 405
    assert "Traceback" not in response.text


# --- money ---------------------------------------------------------------------------------------------


def test_it_refuses_with_402_when_the_wallet_is_empty_and_charges_nothing(live, world):
    adjust(org_id=world.org.pk, amount=-world.balance, reason="empty it")
    with pytest.raises(anthropic.PaymentRequiredError, match="Insufficient balance"):
        anthropic_client(live, world.raw).messages.create(model="text", max_tokens=5, messages=HI)
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(live, world.raw).chat.completions.create(model="text", messages=HI)
    assert caught.value.status_code == 402
    rows = billed(2)
    assert [r.status for r in rows] == [402, 402] and all(r.cost == 0 for r in rows)


def test_a_key_spend_limit_answers_402(live, world):
    world.key.spend_limit = 1
    world.key.save()
    keys_changed()
    with pytest.raises(anthropic.PaymentRequiredError, match="spend limit"):
        anthropic_client(live, world.raw).messages.create(model="text", max_tokens=5, messages=HI)


# --- rate limits ---------------------------------------------------------------------------------------


def test_it_limits_requests_per_minute_per_key_with_retry_after(live, world, monkeypatch):
    # The limiter counts per calendar minute: freeze its clock mid-minute so the four requests share one window
    # (a run crossing a minute boundary would otherwise start a fresh count and see 200 instead of 429).
    frozen = (time.time() // ratelimit.WINDOW_SECONDS) * ratelimit.WINDOW_SECONDS + 20
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))
    world.key.rpm_limit = 2
    world.key.save()
    keys_changed()
    body = {"model": "text", "max_tokens": 5, "messages": HI}
    statuses = [post(live, "/v1/messages", body, world.raw).status_code for _ in range(2)]
    refused = post(live, "/v1/messages", body, world.raw)
    assert statuses == [200, 200]
    assert anthropic_error(refused) == (429, "rate_limit_error")
    assert int(refused.headers["retry-after"]) == ratelimit.WINDOW_SECONDS - 20
    assert openai_error(post(live, "/v1/chat/completions", body, world.raw)) == (429, "rate_limit_error")


# --- upstream failures -----------------------------------------------------------------------------------


def test_it_fails_over_to_the_next_host_and_bills_once(live, world, fake):
    answer = openai_client(live, world.raw).chat.completions.create(model="flaky", messages=HI)
    assert answer.choices[0].message.content == "Hello from the fake upstream."
    assert [r.path for r in fake.requests] == ["/chat/completions", "/openai/v1/chat/completions"]
    (row,) = billed()
    assert (row.attempts, row.provider, row.cost) == (2, "groq", expected_charge(fake_usage()))


def test_it_fails_over_for_streams_before_the_first_byte(live, world, fake):
    with anthropic_client(live, world.raw).messages.stream(model="flaky", max_tokens=5, messages=HI) as s:
        assert s.get_final_message().content[0].text == "Hello from the fake upstream."
    assert len(fake.requests) == 2
    assert billed()[0].attempts == 2


def test_it_answers_upstream_failures_with_5xx_in_each_shape(live, world):
    body = {"model": "down", "max_tokens": 5, "messages": HI}
    assert anthropic_error(post(live, "/v1/messages", body, world.raw))[0] in (502, 503)
    assert openai_error(post(live, "/v1/chat/completions", body, world.raw))[0] in (502, 503)
    with pytest.raises(anthropic.OverloadedError):
        anthropic_client(live, world.raw).messages.create(model="claude-busy", max_tokens=5, messages=HI)
    with pytest.raises(openai.RateLimitError):
        openai_client(live, world.raw).chat.completions.create(model="busy", messages=HI)
    rows = billed(4)
    assert all(r.cost == 0 for r in rows)
    assert world.balance == 10_000_000


def test_an_upstream_400_is_the_clients_error_and_is_not_retried(live, world, fake):
    with pytest.raises(openai.BadRequestError):
        openai_client(live, world.raw).chat.completions.create(model="bad-request", messages=HI)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("model", ["broken", "claude-broken"])
def test_a_mid_stream_failure_ends_with_an_error_event_and_bills_what_was_delivered(live, world, model):
    body = {"model": model, "max_tokens": 100, "stream": True, "messages": HI}
    response = post(live, "/v1/messages", body, world.raw)
    assert response.status_code == 200
    events = [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "error" and "message_stop" not in events
    (row,) = billed()
    assert row.error_type == "api_error"
    assert 0 < row.cost <= expected_charge(fake_usage())


def test_an_upstream_without_usage_is_billed_on_an_estimate_and_marked(live, world):
    answer = openai_client(live, world.raw).chat.completions.create(model="quiet", messages=HI)
    assert answer.choices[0].message.content == "No usage from me."
    (row,) = billed()
    assert row.usage_estimated and row.output_tokens > 0 and row.cost > 0


# --- what real clients send ----------------------------------------------------------------------------


def test_it_ignores_query_strings_unknown_versions_and_unknown_fields(live, world, fake):
    body = {
        "model": "text",
        "max_tokens": 5,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}],
        "context_management": {"edits": []},
        "metadata": {"user_id": json.dumps({"session": "x"})},
    }
    headers = {"anthropic-version": "2026-10-21", "accept": "application/json", "anthropic-beta": "a,b"}
    response = post(live, "/v1/messages?beta=true", body, world.raw, **headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-qlaud-host"] == "deepseek/fake-text"
    assert "qlaud;dur=" in response.headers["server-timing"]
    assert response.headers["x-qlaud-request-id"]
    assert "context_management" not in fake.bodies()[0]
    assert httpx.head(live.url + "/").status_code in (200, 404)


def test_it_never_sends_the_clients_key_upstream(live, world, fake, monkeypatch):
    monkeypatch.setenv("FAKE_DS_KEY", "sk-upstream-secret")
    Provider.objects.filter(slug="deepseek").update(api_key_env="FAKE_DS_KEY")
    version.bump()
    anthropic_client(live, world.raw).messages.create(model="text", max_tokens=5, messages=HI)
    sent = fake.requests[0]
    assert sent.headers["Authorization"] == "Bearer sk-upstream-secret"
    assert world.raw not in json.dumps(sent.headers) + json.dumps(sent.body)


def test_it_fails_over_when_a_host_cannot_be_reached(live, world, catalog, fake):
    unreachable = catalog.provider("cerebras", base_url="http://127.0.0.1:9")  # nothing listens on the discard port
    catalog.model("reachable", (unreachable, "fake-text"), (catalog.provider("groq"), "fake-text"))
    message = anthropic_client(live, world.raw).messages.create(model="reachable", max_tokens=5, messages=HI)
    assert message.content[0].text == "Hello from the fake upstream."
    (row,) = billed()
    assert (row.attempts, row.provider) == (2, "groq")


def test_an_unexpected_failure_is_a_surface_shaped_500_without_details(live, world, monkeypatch):
    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(pipeline, "resolve_route", explode)
    body = {"model": "text", "max_tokens": 5, "messages": HI}
    for path, shape in (("/v1/messages", anthropic_error), ("/v1/chat/completions", openai_error)):
        response = post(live, path, body, world.raw)
        assert shape(response) == (500, "api_error")
        assert "secret" not in response.text and "Traceback" not in response.text
