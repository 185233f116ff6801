"""No path under /v1/ answers with HTML, whatever the method: unknown paths are a JSON 404 and wrong methods a JSON
405, in the shape of the nearest surface (Anthropic under /v1/messages, OpenAI elsewhere), through the real ASGI
app (before the site's CSRF check, which would refuse a POST with an HTML 403)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.tests.conftest import E2E

pytestmark = E2E

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
KNOWN = [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/responses/resp_123",
    "/v1/models",
    "/v1/models/gpt-5",
    "/v1/catalog",
    "/v1/credits",
    "/v1/key",
    "/v1/generation",
    "/v1/status",
]
UNKNOWN = ["/v1/nope", "/v1/messages/nope", "/v1/chat/completions/", "/v1/chat/nope/deeper", "/v1/"]


def call(live: Any, method: str, path: str) -> httpx.Response:
    return httpx.request(method, live.url + path, headers={"content-type": "application/json"}, content=b"{}")


def assert_surface_shape(path: str, body: dict[str, Any]) -> None:
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and set(body["error"]) >= {"type", "message"}
    else:
        assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["type"], str)


@pytest.mark.parametrize("path", KNOWN + UNKNOWN)
def test_no_v1_path_answers_html_for_any_method(live, path):
    for method in METHODS:
        response = call(live, method, path)
        assert response.headers["content-type"].startswith("application/json"), (method, path, response.text[:80])
        assert response.status_code < 500, (method, path)
        if response.status_code >= 400:
            assert_surface_shape(path, response.json())


@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unknown_v1_path_is_a_404_in_the_nearest_surfaces_shape(live, path):
    for method in METHODS:
        response = call(live, method, path)
        assert response.status_code == 404, (method, path)
        assert_surface_shape(path, response.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/models"),
        ("DELETE", "/v1/credits"),
        ("OPTIONS", "/v1/status"),
        ("PUT", "/v1/responses/resp_123"),
        ("GET", "/v1/messages"),
        ("OPTIONS", "/v1/chat/completions"),
        ("PATCH", "/v1/messages/count_tokens"),
    ],
)
def test_a_wrong_method_on_a_known_v1_path_is_a_405_in_the_nearest_surfaces_shape(live, method, path):
    response = call(live, method, path)
    assert response.status_code == 405
    assert method not in response.headers["allow"] and response.headers["allow"]
    assert_surface_shape(path, response.json())
