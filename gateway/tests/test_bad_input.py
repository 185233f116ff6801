"""Regressions for issue 15's bad input: each answered a 500 (or a 200 with nothing in it); now a 400 in the
surface's shape naming what is wrong, before anything is sent upstream. Through the real ASGI app in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.tests import fuzz

HI = [{"role": "user", "content": "hi"}]
BASE = {
    "/v1/messages": {"model": "text", "max_tokens": 5, "messages": HI},
    "/v1/messages/count_tokens": {"model": "text", "messages": HI},
    "/v1/chat/completions": {"model": "text", "messages": HI},
    "/v1/responses": {"model": "text", "input": "hi"},
}


def post(driver: fuzz.Driver, world: Any, path: str, body: bytes) -> Any:
    return driver.send(fuzz.Case("POST", path, body, {"x-api-key": world.raw, "content-type": "application/json"}))


def refusal(response: Any, path: str) -> str:
    """The message of a 400 in the surface's own shape."""
    assert response.status_code == 400, response.text
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["message"])


WRONG_TYPES = [
    ("/v1/messages", {"tools": [1.5]}, "tools.0"),
    ("/v1/messages", {"tools": [{"input_schema": {}}]}, "tools.0.name"),
    ("/v1/messages", {"tool_choice": "auto"}, "tool_choice"),
    ("/v1/messages", {"metadata": "m"}, "metadata"),
    (
        "/v1/messages",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
        "messages.0.content.0",
    ),
    ("/v1/messages/count_tokens", {"thinking": -1}, "thinking"),
    ("/v1/chat/completions", {"tools": [{"type": "function", "function": "f"}]}, "tools.0.function"),
    ("/v1/chat/completions", {"tools": ["x"]}, "tools.0"),
    ("/v1/chat/completions", {"tool_choice": 3}, "tool_choice"),
    ("/v1/chat/completions", {"metadata": [1]}, "metadata"),
    ("/v1/chat/completions", {"stream_options": True, "stream": True}, "stream_options"),
    ("/v1/responses", {"input": [{"role": "user", "content": 5}]}, "input.0.content"),
    ("/v1/responses", {"input": [3]}, "input.0"),
    ("/v1/responses", {"metadata": 1.5}, "metadata"),
    ("/v1/responses", {"reasoning": "high"}, "reasoning"),
    ("/v1/responses", {"tools": [{"type": "function"}]}, "tools"),
]


@pytest.mark.parametrize(("path", "change", "field"), WRONG_TYPES)
def test_a_wrong_typed_field_is_a_400_naming_it_not_a_500(asgi_driver, fuzz_world, fake, path, change, field):
    message = refusal(post(asgi_driver, fuzz_world, path, json.dumps({**BASE[path], **change}).encode()), path)
    assert field in message
    assert fake.requests == []


@pytest.mark.parametrize("path", list(BASE))
@pytest.mark.parametrize("levels", [129, 1100, 100_000])
def test_json_nested_deeper_than_the_limit_is_a_400_saying_so(asgi_driver, fuzz_world, fake, path, levels):
    body = json.dumps({**BASE[path], "metadata": "HERE"}).encode()
    body = body.replace(b'"HERE"', b"[" * levels + b"]" * levels)
    assert "nested deeper than 128 levels" in refusal(post(asgi_driver, fuzz_world, path, body), path)


@pytest.mark.parametrize("path", list(BASE))
@pytest.mark.parametrize("splice", [b'"\\ud800"', b'"a\\udfff"', b'"\xed\xa0\x80"'])
def test_a_lone_surrogate_is_a_400_before_anything_goes_upstream(asgi_driver, fuzz_world, fake, path, splice):
    body = json.dumps({**BASE[path], "metadata": {"user_id": "HERE"}}).encode().replace(b'"HERE"', splice)
    refusal(post(asgi_driver, fuzz_world, path, body), path)
    assert fake.requests == []


def test_a_streaming_responses_request_with_a_lone_surrogate_in_metadata_is_a_400_not_an_empty_200(
    asgi_driver, fuzz_world, fake
):
    body = b'{"model": "text", "input": "hi", "stream": true, "metadata": {"k": "\\ud800"}}'
    assert "surrogate" in refusal(post(asgi_driver, fuzz_world, "/v1/responses", body), "/v1/responses")
    assert fake.requests == []


def test_a_valid_request_still_gets_its_answer(asgi_driver, fuzz_world, fake):
    for path, body in BASE.items():
        response = post(asgi_driver, fuzz_world, path, json.dumps(body).encode())
        assert response.status_code == 200, (path, response.text)
