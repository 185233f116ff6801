from __future__ import annotations

import pytest

from qlaud.tests.conftest import make_log


@pytest.mark.django_db
def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_private_areas(client, settings):
    settings.SITE_URL = "https://gw.example.com"
    response = client.get("/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "Sitemap: https://gw.example.com/sitemap.xml" in text
    assert "Disallow: /dashboard/" in text


@pytest.mark.django_db
def test_llms_txt_lists_surfaces_shortcuts_and_catalog_models(client, seeded_catalog, settings):
    settings.SITE_URL = "https://gw.example.com"
    response = client.get("/llms.txt")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "https://gw.example.com/v1/messages" in text
    assert ":nitro" in text and ":floor" in text
    assert "- deepseek-v3.2\n" in text
    assert "&quot;" not in text  # plain text, not HTML-escaped


@pytest.mark.django_db
def test_sitemap_lists_pages_models_and_posts_on_the_site_url(client, seeded_catalog, settings):
    from blog.models import Entry, Tag
    from blog.posts import load_launch_posts

    settings.SITE_URL = "https://gw.example.com"
    load_launch_posts(Entry, Tag)
    xml = client.get("/sitemap.xml").content.decode()
    assert "<loc>https://gw.example.com/docs/claude-code/</loc>" in xml
    assert "<loc>https://gw.example.com/models/deepseek-v3.2</loc>" in xml
    assert "<loc>https://gw.example.com/blog/2026/11/28/how-qlaud-is-built/</loc>" in xml
    assert "example.com/security" in xml


@pytest.mark.django_db
def test_v1_status_reports_each_provider_from_real_traffic(client, org_a):
    from datetime import timedelta

    make_log(org_a, provider="deepseek", ttft_ms=400.0)
    make_log(org_a, provider="deepseek", ttft_ms=600.0, status=502)
    make_log(org_a, provider="deepseek", ttft_ms=None, status=200, ago=timedelta(hours=3))
    body = client.get("/v1/status").json()
    assert body["status"] == "ok" and body["gateway"]["up"] is True
    deepseek = next(p for p in body["providers"] if p["slug"] == "deepseek")
    assert deepseek["p50_ttft_ms"] == 400.0  # failed requests do not count towards TTFT
    assert deepseek["uptime_5m"] == 0.5
    assert deepseek["error_rate_5m"] == 0.5
    assert deepseek["uptime_1d"] == pytest.approx(2 / 3)


@pytest.mark.django_db
def test_v1_status_names_every_catalog_provider_even_without_traffic(client, seeded_catalog):
    body = client.get("/v1/status").json()
    slugs = {p["slug"] for p in body["providers"]}
    assert {"deepseek", "anthropic", "openai"} <= slugs
    anthropic = next(p for p in body["providers"] if p["slug"] == "anthropic")
    assert anthropic["uptime_5m"] is None and anthropic["p50_ttft_ms"] is None


@pytest.mark.django_db
def test_the_status_page_refreshes_only_its_table_over_htmx(client, org_a):
    make_log(org_a, provider="groq")
    full = client.get("/status").content.decode()
    partial = client.get("/status", headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 5s"' in full and "<html" in full
    assert "<html" not in partial and "groq" in partial


@pytest.mark.django_db
def test_status_shows_an_open_circuit_when_a_providers_hosts_keep_failing(
    client, seeded_catalog, settings, monkeypatch
):
    from asgiref.sync import async_to_sync

    from catalog import health
    from catalog.models import Host

    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")  # configured providers have circuits; the rest are not configured
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    host_ids = list(Host.objects.filter(provider__slug="groq").values_list("id", flat=True))
    try:
        for host_id in host_ids:
            for _ in range(2):
                async_to_sync(health.record_outcome)(host_id, ok=False, ttft_ms=None, status=502)
        providers = {p["slug"]: p for p in client.get("/v1/status").json()["providers"]}
        assert providers["groq"]["circuit"] == "open"
        assert providers["deepseek"]["circuit"] == "closed"
        html = client.get("/status").content.decode()
        assert "badge-danger" in html
    finally:
        health.reset()


@pytest.mark.django_db
def test_status_says_not_configured_for_providers_without_credentials_instead_of_a_green_pill(
    client, seeded_catalog, settings, monkeypatch
):
    for name in ("DEEPSEEK_API_KEY", "VERTEX_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS", "VERTEX_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    settings.QLAUD_DEMO = True
    providers = {p["slug"]: p for p in client.get("/v1/status").json()["providers"]}
    deepseek = providers["deepseek"]
    assert (deepseek["circuit"], deepseek["configured"], deepseek["missing"]) == (
        "not configured",
        False,
        ["DEEPSEEK_API_KEY"],
    )
    assert "manage.py setprovider deepseek --api-key-env DEEPSEEK_API_KEY --enable" in deepseek["setup_hint"]
    assert providers["vertex"]["missing"] == ["GOOGLE_APPLICATION_CREDENTIALS", "VERTEX_PROJECT"]
    assert (providers["groq"]["circuit"], providers["groq"]["configured"]) == ("closed", True)
    assert (providers["demo"]["circuit"], providers["demo"]["configured"]) == ("closed", True)
    html = client.get("/status").content.decode()
    assert ">not configured</span>" in html
    assert 'title="deepseek is not configured: set DEEPSEEK_API_KEY' in html
    configured = sum(p["configured"] for p in providers.values())
    assert f"{configured} of {len(providers)}" in html


@pytest.mark.django_db
def test_v1_status_says_degraded_when_the_shared_cache_is_down(client, monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "set", broken)
    body = client.get("/v1/status").json()
    assert body["status"] == "degraded"
    assert body["gateway"] == {"up": False, "database": True, "cache": False}


@pytest.mark.django_db
def test_favicon_is_served_so_browsers_log_no_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml" and response.content.startswith(b"<svg")
