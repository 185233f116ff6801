from __future__ import annotations

import re

import pytest

from qlaud.tests.conftest import make_log

PUBLIC_PAGES = [
    "/",
    "/docs/",
    "/docs/claude-code/",
    "/docs/cursor/",
    "/docs/cline/",
    "/docs/aider/",
    "/docs/openai-python/",
    "/docs/openai-node/",
    "/docs/langchain/",
    "/docs/vercel-ai-sdk/",
    "/docs/litellm/",
    "/docs/codex/",
    "/docs/api/",
    "/docs/routing/",
    "/docs/errors/",
    "/docs/account-api/",
    "/security",
    "/status",
    "/blog/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_renders_with_a_title_and_open_graph_tags(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>" in html and "qlaud" in html.split("<title>")[1].split("</title>")[0]
    og_title = re.search(r'property="og:title" content="([^"]*)"', html)
    assert og_title and "qlaud" in og_title.group(1)
    og_description = re.search(r'property="og:description" content="([^"]*)"', html)
    assert og_description and len(og_description.group(1)) > 30
    assert 'property="og:url"' in html


@pytest.mark.django_db
def test_home_answers_head_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.head("/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_home_says_what_qlaud_is_and_shows_the_markup_from_settings(client, settings):
    settings.QLAUD_MARKUP_BPS = 900
    html = client.get("/").content.decode()
    assert "LLM gateway" in html
    assert "upstream cost plus 9%" in html
    for name in ["Claude Code", "Cursor", "Cline", "Aider", "openai-python", "LangChain", "Vercel AI SDK", "LiteLLM"]:
        assert name in html


@pytest.mark.django_db
def test_home_snippets_use_the_site_url_with_the_right_base_path_per_client(client, settings):
    settings.SITE_URL = "https://gw.example.com"
    html = client.get("/").content.decode()
    assert "export ANTHROPIC_BASE_URL=https://gw.example.com\n" in html  # Claude Code: no /v1
    assert "base_url=&quot;https://gw.example.com/v1&quot;" in html  # openai-python: /v1
    assert "wire_api = &quot;responses&quot;" in html  # Codex only speaks Responses
    assert html.count('class="copy"') >= 10


@pytest.mark.django_db
def test_the_ttft_board_shows_an_honest_empty_state_before_any_traffic(client):
    html = client.get("/partials/ttft-board/").content.decode()
    assert "No traffic measured in the last hour" in html


@pytest.mark.django_db
def test_the_ttft_board_shows_the_median_per_provider_fastest_first(client, org_a):
    for ttft in (100.0, 200.0, 900.0):
        make_log(org_a, provider="groq", ttft_ms=ttft)
    for ttft in (1200.0, 1400.0):
        make_log(org_a, provider="deepseek", ttft_ms=ttft)
    html = client.get("/partials/ttft-board/").content.decode()
    assert "200 ms" in html and "1.30 s" in html
    assert html.index("groq") < html.index("deepseek")


@pytest.mark.django_db
def test_the_home_page_polls_the_board_in_place(client):
    html = client.get("/").content.decode()
    assert 'hx-get="/partials/ttft-board/"' in html and 'hx-trigger="every 5s"' in html


@pytest.mark.django_db
def test_an_unknown_docs_page_is_a_404_page(client):
    response = client.get("/docs/not-a-client/")
    assert response.status_code == 404
    assert b"Search models" in response.content


@pytest.mark.django_db
def test_an_unknown_page_is_a_useful_html_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'action="/models"' in html and 'href="/docs/"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(client, method):
    response = getattr(client, method)("/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["type"] == "not_found_error"


@pytest.mark.django_db
def test_the_errors_doc_is_read_from_the_gateway_error_table(client):
    html = client.get("/docs/errors/").content.decode()
    assert "billing_error" in html and "insufficient_quota" in html
    assert "529 on Anthropic" in html
    from gateway.errors import KINDS

    assert html.count("<tr>") == len(KINDS) + 1  # every kind has a row (plus the header)
    assert "<td></td>" not in html  # and a meaning


@pytest.mark.django_db
def test_security_page_states_there_is_no_certification(client):
    html = client.get("/security").content.decode()
    assert "no SOC 2" in html
    assert "does not write prompt or completion content to its database or its logs" in html
    assert "kept in the cache for 60 minutes" in html  # the Responses API exception, from its TTL


@pytest.mark.django_db
def test_security_page_says_how_long_reasoning_behind_tool_calls_is_kept(client, settings):
    settings.REASONING_MEMORY_SECONDS = 6 * 3600
    html = client.get("/security").content.decode()
    assert "reasoning in the cache for 6 hours" in html
    assert "keyed by your organisation" in html


@pytest.mark.django_db
def test_the_cursor_doc_says_the_base_url_must_be_public_https_and_how_to_tunnel_a_local_run(client):
    html = client.get("/docs/cursor/").content.decode()
    assert "must be a public HTTPS address" in html
    assert "make run" in html and "tunnel" in html


@pytest.mark.django_db
def test_the_api_doc_names_the_cost_fields_of_the_final_usage(client):
    html = client.get("/docs/api/").content.decode()
    assert "usage.cost</code>" in html and "usage.cost_micros</code>" in html
