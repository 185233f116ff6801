"""The account API, the catalog API and stored responses answer a JSON 503 with Retry-After when the database or
Redis is down (they answered the HTML 500 page), and any other failure under /v1/ is a JSON 500."""

from __future__ import annotations

from typing import Any

import pytest
import redis.exceptions
from django.db import InterfaceError, OperationalError

from catalog import views as catalog_views
from gateway import pipeline
from wallet import api as wallet_api

pytestmark = pytest.mark.django_db


def raising(exc: BaseException) -> Any:
    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


OUTAGES = [
    OperationalError("connection refused"),
    InterfaceError("connection already closed"),
    redis.exceptions.ConnectionError("Error 111 connecting"),
    redis.exceptions.TimeoutError("Timeout reading"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    ("path", "target", "name"),
    [
        ("/v1/credits", wallet_api, "_authenticate"),
        ("/v1/key", wallet_api, "_authenticate"),
        ("/v1/generation?id=req_1", wallet_api, "_authenticate"),
        ("/v1/models", catalog_views, "get_snapshot"),
        ("/v1/catalog", catalog_views, "get_snapshot"),
        ("/v1/responses/resp_1", pipeline, "authenticate"),
    ],
)
def test_an_api_path_answers_a_json_503_with_retry_after_when_a_store_is_down(
    client, monkeypatch, exc, path, target, name
):
    monkeypatch.setattr(target, name, raising(exc))
    response = client.get(path, headers={"x-api-key": "ak_" + "a" * 40})
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["type"] == "service_unavailable"


def test_any_other_failure_on_an_api_path_is_a_json_500_not_the_html_page(client, monkeypatch):
    client.raise_request_exception = False
    monkeypatch.setattr(wallet_api, "_authenticate", raising(RuntimeError("a bug")))
    response = client.get("/v1/credits")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal error."


def test_an_unknown_management_api_path_is_a_json_404_in_its_shape_not_the_html_page(client):
    response = client.get("/api/v1/keys/resp_0000/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
