"""With SECURE_SSL_REDIRECT on, API requests over plain http are refused in their surface's error shape, never
redirected (gateway/https.py): on the ASGI fast path (the model surfaces, a live uvicorn and the real SDKs) and on
the Django path (the site's /v1/ and /api/ views, qlaud.middleware.HttpsOnlyApiMiddleware)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from django.test import Client

from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, openai_client

BEHIND_TLS_PROXY = {"x-forwarded-proto": "https"}  # what the load balancer adds to a request that came over https


@pytest.fixture
def https_required(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SITE_URL = "https://qlaud.example.com"


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    catalog.model("text", (catalog.provider("deepseek"), "fake-text"))
    return tenant


def _post(live: Any, path: str, key: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    body = {"model": "text", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}], **body}
    headers = {"x-api-key": key, "authorization": f"Bearer {key}", **(headers or {})}
    return httpx.post(live.url + path, content=json.dumps(body).encode(), headers=headers, timeout=30)


class TestTheFastPath:
    pytestmark = E2E

    def test_the_anthropic_sdk_over_http_gets_a_permission_error_naming_https(self, live, world, https_required, fake):
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            anthropic_client(live, world.raw).messages.create(
                model="text", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
            )
        assert refused.value.status_code == 403
        body = refused.value.body
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
        assert (
            "https only" in body["error"]["message"]
            and "https://qlaud.example.com/v1/messages" in body["error"]["message"]
        )
        assert fake.requests == []  # nothing reached the upstream

    def test_the_openai_sdk_over_http_gets_an_https_required_error(self, live, world, https_required, fake):
        with pytest.raises(openai.PermissionDeniedError) as refused:
            openai_client(live, world.raw).chat.completions.create(
                model="text", messages=[{"role": "user", "content": "hi"}]
            )
        error = refused.value.body
        assert refused.value.status_code == 403 and error["code"] == "https_required"
        assert error["type"] == "invalid_request_error" and "rotate it" in error["message"]
        assert fake.requests == []

    def test_a_streaming_request_and_a_request_without_a_key_are_refused_the_same_way(
        self, live, world, https_required
    ):
        streamed = _post(live, "/v1/chat/completions", world.raw, stream=True)
        anonymous = httpx.post(live.url + "/v1/messages", content=b"{}", timeout=30)
        for response in (streamed, anonymous):
            assert response.status_code == 403 and response.headers["content-type"] == "application/json"
            assert "location" not in response.headers and response.headers["x-should-retry"] == "false"

    def test_behind_a_load_balancer_that_terminated_tls_the_request_is_served(self, live, world, https_required):
        for path in ("/v1/messages", "/v1/chat/completions"):
            assert _post(live, path, world.raw, BEHIND_TLS_PROXY).status_code == 200

    def test_a_load_balancer_saying_the_client_used_http_is_believed(self, live, world, https_required):
        response = _post(live, "/v1/messages", world.raw, {"x-forwarded-proto": "http"})
        assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"

    def test_the_sites_own_v1_and_api_paths_are_refused_on_the_asgi_app_too(self, live, world, https_required):
        models = httpx.get(live.url + "/v1/models", headers={"authorization": f"Bearer {world.raw}"}, timeout=30)
        assert models.status_code == 403 and models.json()["error"]["code"] == "https_required"
        account = httpx.get(live.url + "/api/v1/keys/", headers={"authorization": "Bearer qm_x"}, timeout=30)
        assert account.status_code == 403 and account.json()["error"]["code"] == "https_required"
        assert account.json()["error"]["status"] == 403  # the management API's shape

    def test_without_ssl_redirect_http_is_served_as_before(self, live, world):
        assert _post(live, "/v1/messages", world.raw).status_code == 200


@pytest.mark.django_db
class TestTheDjangoPath:
    """Requests that reach Django without the ASGI wrapper (its test client here)."""

    def test_a_v1_view_over_http_is_refused_in_json_not_redirected(self, https_required):
        response = Client().get("/v1/models", HTTP_AUTHORIZATION="Bearer ak_whatever")
        assert response.status_code == 403 and response["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "https_required"

    def test_an_anthropic_path_answers_in_the_anthropic_shape(self, https_required):
        response = Client().post("/v1/messages", b"{}", content_type="application/json", HTTP_X_API_KEY="ak_x")
        assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"

    def test_the_management_api_over_http_is_refused_in_its_own_shape(self, https_required):
        response = Client().get("/api/v1/keys/", HTTP_AUTHORIZATION="Bearer qm_whatever")
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "https_required",
            "message": response.json()["error"]["message"],
            "status": 403,
        }

    def test_pages_are_still_redirected_to_https(self, https_required):
        response = Client().get("/pricing")
        assert response.status_code == 301 and response["Location"].startswith("https://")

    def test_forwarded_proto_https_lets_the_request_through(self, https_required):
        response = Client().get("/v1/models", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code != 403 and "https_required" not in response.content.decode()
