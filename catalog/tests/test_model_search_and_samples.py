"""Model search by words in any order; code samples per client on model pages."""

from __future__ import annotations

import re


def ids_on(html: str) -> list[str]:
    return re.findall(r'<a href="/models/([^"]+)"><strong>', html)


def test_model_search_finds_models_by_words_in_any_order(client, seeded):
    for query in ("qwen coder", "coder qwen", "Coder   QWEN"):
        found = ids_on(client.get("/models", {"q": query}).content.decode())
        assert "qwen3-coder-480b" in found and "qwen3-coder-30b" in found, query
        assert all("qwen" in i and "coder" in i for i in found)


def test_model_search_still_needs_every_word_to_match(client, seeded):
    assert ids_on(client.get("/models", {"q": "qwen zzzz"}).content.decode()) == []


def test_a_model_page_shows_samples_for_curl_openai_anthropic_and_claude_code(client, seeded, settings):
    settings.SITE_URL = "https://gw.example.com"
    html = client.get("/models/deepseek-v3.2").content.decode()
    for label in ("curl", "openai-py", "anthropic-py", "Claude Code"):
        assert f">{label}</button>" in html
    assert "curl https://gw.example.com/v1/chat/completions" in html
    assert "base_url=&quot;https://gw.example.com/v1&quot;" in html  # openai-py: /v1
    assert "Anthropic(base_url=&quot;https://gw.example.com&quot;" in html  # anthropic-py: no /v1
    assert "ANTHROPIC_AUTH_TOKEN=ak_your_key_here" in html
    assert html.count("&quot;deepseek-v3.2&quot;") >= 2
