from __future__ import annotations

import re

import pytest

from catalog.models import Model


def ids_on(html: str) -> list[str]:
    return re.findall(r'<a href="/models/([^"]+)"><strong>', html)


def test_the_models_page_lists_the_seed_catalog_with_prices_chips_and_copy_buttons(client, seeded, settings):
    settings.QLAUD_MARKUP_BPS = 700
    html = client.get("/models").content.decode()
    assert "<title>Models and prices · qlaud</title>" in html and 'name="description"' in html
    retired = re.findall(r'<li><a href="/models/([^"]+)"><code class="mono">', html)  # the "Retired models" list
    assert len(ids_on(html)) + len(retired) == Model.objects.count() >= 40
    assert "codex-mini" in retired and "codex-mini" not in ids_on(html)
    assert 'data-copy="claude-sonnet-4.5"' in html and '<span class="chip">Anthropic</span>' in html
    # Claude Sonnet 4.5 upstream $3.00 / $15.00 -> $3.21 / $16.05 with 7%
    row = html[html.index('href="/models/claude-sonnet-4.5"') :]
    assert "$3.21" in row[:2000] and "$16.05" in row[:2000]
    assert "no traffic yet" in html


def test_search_filter_and_sort_work_as_a_plain_query_string(client, seeded):
    html = client.get("/models?q=claude").content.decode()
    assert ids_on(html) and all("claude" in i for i in ids_on(html))
    groq = ids_on(client.get("/models?provider=groq").content.decode())
    assert "gpt-oss-120b" in groq and "claude-sonnet-4.5" not in groq
    vision = ids_on(client.get("/models?capability=vision").content.decode())
    assert "gpt-5" in vision and "deepseek-v3.2" not in vision
    by_context = ids_on(client.get("/models?sort=context").content.decode())
    assert by_context[0] == "grok-4-fast"  # 2M tokens
    by_price = ids_on(client.get("/models?sort=price").content.decode())
    assert by_price.index("gpt-oss-20b") < by_price.index("claude-opus-4.1") == len(by_price) - 1


def test_an_htmx_request_gets_only_the_results_partial(client, seeded):
    response = client.get("/models?q=deepseek", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and "<table" in html and "deepseek-v3.2" in html
    assert "gpt-5" not in ids_on(html)


def test_the_models_page_says_so_when_nothing_matches(client, seeded):
    assert "No model matches these filters" in client.get("/models?q=zzzz").content.decode()


@pytest.mark.django_db
def test_the_models_page_renders_an_empty_catalog_honestly(client):
    assert "loadcatalog" in client.get("/models").content.decode()


def test_a_model_page_shows_every_host_with_prices_and_honest_latency(client, seeded):
    html = client.get("/models/claude-sonnet-4.5").content.decode()
    assert "<title>Claude Sonnet 4.5 (claude-sonnet-4.5) prices and providers · qlaud</title>" in html
    for provider in ("Anthropic", "AWS Bedrock", "Google Vertex AI", "OpenRouter"):
        assert provider in html
    assert "claude-sonnet-4-5-20250929" in html and "no traffic yet" in html and "$0.321" in html


def test_an_unknown_model_page_is_a_404(client, seeded):
    assert client.get("/models/gpt-9").status_code == 404


def test_the_pricing_page_explains_the_markup_with_a_real_catalog_model(client, seeded, settings):
    settings.QLAUD_MARKUP_BPS = 700
    html = client.get("/pricing").content.decode()
    assert "<title>Pricing: upstream cost plus 7% · qlaud</title>" in html
    for amount in settings.TOPUP_AMOUNTS_USD:
        assert f"${amount}</div>" in html
    # 1M in + 1M out on Claude Sonnet 5 via Anthropic: $12.00 upstream, $0.84 markup, $12.84 total
    assert "$12.00" in html and "$0.84" in html and "$12.84" in html
    assert 'hx-get="/pricing/calculate"' in html


def test_the_calculator_works_without_javascript_and_as_an_htmx_partial(client, seeded):
    query = "model=deepseek-flash&input_tokens=1000000&output_tokens=500000"
    # DeepSeek Flash (peak): 0.30 + 0.5 * 1.20 = $0.90 upstream; x1.07 = $0.963
    page = client.get(f"/pricing?{query}").content.decode()
    assert "$0.963" in page and "$0.90" in page
    partial = client.get(f"/pricing/calculate?{query}").content.decode()
    assert "<html" not in partial and "$0.963" in partial


def test_the_calculator_tolerates_nonsense_input(client, seeded):
    html = client.get("/pricing/calculate?model=nope&input_tokens=abc&output_tokens=-5").content.decode()
    assert "Pick a model" in html


def test_sort_by_speed_puts_measured_fast_models_first(client, seeded):
    import asyncio

    from catalog import health
    from catalog.models import Host

    groq = Host.objects.get(provider__slug="groq", upstream_model="openai/gpt-oss-120b")
    mistral = Host.objects.get(upstream_model="devstral-small-2507")

    async def traffic() -> None:
        await health.record_outcome(groq.id, ok=True, ttft_ms=100, output_tokens=5000, duration_ms=10_100, status=200)
        await health.record_outcome(mistral.id, ok=True, ttft_ms=300, output_tokens=100, duration_ms=1300, status=200)

    asyncio.run(traffic())
    order = ids_on(client.get("/models?sort=speed").content.decode())
    assert order[:2] == ["gpt-oss-120b", "devstral-small"]
    html = client.get("/models/gpt-oss-120b").content.decode()
    assert "500 tok/s" in html and "100 ms" in html


def test_a_model_page_shows_each_hosts_measured_fidelity_or_that_it_was_never_checked(client, seeded):
    from datetime import UTC, datetime

    from catalog import fidelity
    from catalog.models import Host

    hosts = list(Host.objects.filter(model__public_id="claude-sonnet-4.5", enabled=True).order_by("priority", "id"))
    at = datetime(2026, 12, 1, tzinfo=UTC)
    fidelity.record(hosts[0].pk, {name: (True, "") for name in fidelity.CASES}, at)
    fidelity.record(hosts[1].pk, {**{n: (True, "") for n in fidelity.CASES}, "json_mode": (False, "not JSON")}, at)
    html = client.get("/models/claude-sonnet-4.5").content.decode()
    assert "7 passed</span>" in html and "6 passed, 1 failed" in html and 'title="failed: json_mode"' in html
    assert "2026-12-01" in html and "not checked" in html
