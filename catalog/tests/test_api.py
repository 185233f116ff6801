from __future__ import annotations

import json

import anthropic
import httpx
import httpx2
import openai
import pytest
from asgiref.sync import sync_to_async

from catalog import health
from catalog.tests.conftest import make_host, make_model, make_provider


@pytest.fixture
def small_catalog(db):
    groq, cerebras = make_provider("groq", name="Groq"), make_provider("cerebras", name="Cerebras")
    oss = make_model("gpt-oss-120b", caps=("tools", "reasoning"), author="openai", name="gpt-oss-120b")
    fast = make_host(oss, groq, inp=150_000, out=750_000, priority=10)
    make_host(oss, cerebras, inp=250_001, out=690_000, priority=20)
    make_host(make_model("claude-haiku-4.5", name="Claude Haiku 4.5", author="anthropic"), make_provider("anthropic"))
    return fast


def test_the_catalog_lists_models_with_customer_and_upstream_prices(client, small_catalog, settings):
    settings.QLAUD_MARKUP_BPS = 700
    response = client.get("/v1/catalog")
    body = response.json()
    assert response.status_code == 200 and response["Cache-Control"].startswith("public")
    assert body["markup_bps"] == 700 and [m["id"] for m in body["data"]] == ["claude-haiku-4.5", "gpt-oss-120b"]
    oss = body["data"][1]
    assert oss["status"] == "available" and oss["capabilities"] == ["reasoning", "tools"]
    groq, cerebras = oss["hosts"]
    assert groq["provider"]["slug"] == "groq" and groq["upstream_pricing"]["input"] == 150_000
    assert groq["pricing"]["input"] == 160_500 and groq["pricing"]["output"] == 802_500
    assert cerebras["pricing"]["input"] == 267_502  # 250001 * 1.07 = 267501.07, rounded up
    assert "latency" not in groq


def test_the_catalog_answers_304_to_a_matching_etag_and_changes_etag_when_the_catalog_changes(client, small_catalog):
    first = client.get("/v1/catalog")
    etag = first["ETag"]
    again = client.get("/v1/catalog", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    small_catalog.priority = 99
    small_catalog.save()
    changed = client.get("/v1/catalog", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


async def _traffic(host_id: int) -> None:
    for ttft in (100.0, 300.0, 500.0):
        await health.record_outcome(
            host_id, ok=True, ttft_ms=ttft, output_tokens=200, duration_ms=ttft + 1000, status=200
        )


def test_include_latency_adds_live_stats_per_host(client, small_catalog):
    import asyncio

    asyncio.run(_traffic(small_catalog.id))
    body = client.get("/v1/catalog?include_latency=true").json()
    groq, cerebras = body["data"][1]["hosts"]
    assert groq["latency"]["p50_ttft_ms"] == 300.0 and groq["latency"]["p50_tokens_per_s"] == pytest.approx(200.0)
    assert groq["latency"]["uptime_5m"] == 1.0 and groq["latency"]["samples_30m"] == 3
    assert cerebras["latency"]["p50_ttft_ms"] is None and cerebras["latency"]["samples_30m"] == 0


def test_an_open_circuit_shows_in_the_catalog_status(client, small_catalog, settings):
    import asyncio

    settings.CIRCUIT_FAILURE_THRESHOLD = 1

    async def fail() -> None:
        await health.record_outcome(small_catalog.id, ok=False, ttft_ms=None, status=503)

    before = client.get("/v1/catalog")["ETag"]
    asyncio.run(fail())
    response = client.get("/v1/catalog")
    oss = response.json()["data"][1]
    assert oss["status"] == "degraded" and oss["hosts"][0]["status"] == "down"
    assert response["ETag"] != before


def test_models_lists_in_openai_shape_by_default(client, small_catalog):
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert body["data"][1] == {"id": "gpt-oss-120b", "object": "model", "created": 1735689600, "owned_by": "openai"}


def test_models_lists_in_anthropic_shape_with_an_anthropic_version_header(client, small_catalog):
    body = client.get("/v1/models", HTTP_ANTHROPIC_VERSION="2023-06-01").json()
    assert body["has_more"] is False and {m["type"] for m in body["data"]} == {"model"}
    assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
    assert {
        "id": "claude-haiku-4.5",
        "type": "model",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-01-01T00:00:00Z",
    } in body["data"]


def test_anthropic_pages_follow_after_id_and_before_id(client, seeded):
    first = client.get("/v1/models?limit=5", HTTP_ANTHROPIC_VERSION="2023-06-01").json()
    second = client.get(f"/v1/models?limit=5&after_id={first['last_id']}", HTTP_ANTHROPIC_VERSION="2023-06-01").json()
    back = client.get(f"/v1/models?limit=5&before_id={second['first_id']}", HTTP_ANTHROPIC_VERSION="2023-06-01").json()
    assert first["has_more"] and len(first["data"]) == 5
    assert not {m["id"] for m in first["data"]} & {m["id"] for m in second["data"]}
    assert back["data"] == first["data"] and back["has_more"] is False


def test_one_model_and_an_unknown_model_in_each_shape(client, small_catalog):
    assert client.get("/v1/models/gpt-oss-120b").json()["owned_by"] == "openai"
    missing = client.get("/v1/models/gpt-9")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    missing = client.get("/v1/models/gpt-9", HTTP_ANTHROPIC_VERSION="2023-06-01")
    assert missing.json()["error"]["type"] == "not_found_error"


def _asgi_client(lib=httpx):
    """An HTTP client onto qlaud's ASGI app (the anthropic SDK ships its own httpx fork, httpx2)."""
    from qlaud.asgi import application

    return lib.AsyncClient(transport=lib.ASGITransport(app=application), base_url="http://127.0.0.1")


@pytest.mark.django_db(transaction=True)
async def test_the_openai_sdk_lists_the_models(close_thread_connections):
    await sync_to_async(lambda: make_host(make_model("gpt-oss-120b", author="openai"), make_provider("groq")))()
    async with _asgi_client() as http_client:
        client = openai.AsyncOpenAI(api_key="ak_unused", base_url="http://127.0.0.1/v1", http_client=http_client)
        page = await client.models.list()
        models = [m async for m in page]
    assert [(m.id, m.owned_by, m.object) for m in models] == [("gpt-oss-120b", "openai", "model")]


@pytest.mark.django_db(transaction=True)
async def test_the_anthropic_sdk_lists_the_models_across_pages(close_thread_connections):
    @sync_to_async
    def seed() -> None:
        provider = make_provider("anthropic")
        for i in range(25):
            make_host(make_model(f"claude-test-{i:02d}", name=f"Claude Test {i}"), provider)

    await seed()
    async with _asgi_client(httpx2) as http_client:
        client = anthropic.AsyncAnthropic(api_key="ak_unused", base_url="http://127.0.0.1", http_client=http_client)
        first = await client.models.list()
        models = [m async for m in first]  # the SDK follows has_more / after_id itself
    assert len(first.data) == 20 and first.has_more
    assert sorted(m.id for m in models) == [f"claude-test-{i:02d}" for i in range(25)]
    assert models[0].type == "model" and models[0].display_name.startswith("Claude Test")


def test_the_catalog_json_is_compact_and_valid(client, small_catalog):
    content = client.get("/v1/catalog").content
    assert json.loads(content)["object"] == "catalog" and b", " not in content
