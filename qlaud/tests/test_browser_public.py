"""Every public page in a real browser: renders, no console errors, a screenshot to look at."""

from __future__ import annotations

import pytest

from qlaud.tests.browser import browser, needs_chromium, site  # noqa: F401 - fixtures
from qlaud.tests.conftest import make_log

pytestmark = [pytest.mark.browser, needs_chromium]

PAGES = {
    "home": "/",
    "docs": "/docs/",
    "docs-claude-code": "/docs/claude-code/",
    "docs-codex": "/docs/codex/",
    "docs-routing": "/docs/routing/",
    "docs-errors": "/docs/errors/",
    "security": "/security",
    "status": "/status",
    "blog": "/blog/",
    "models": "/models",
    "pricing": "/pricing",
    "not-found": "/no/such/page",
}


@pytest.fixture
def content(transactional_db, alice, org_a):
    from blog.models import Entry, Tag
    from blog.posts import load_launch_posts
    from catalog import loader

    loader.load(loader.read())
    load_launch_posts(Entry, Tag)
    for provider, ttft in [("deepseek", 420.0), ("anthropic", 780.0), ("groq", 160.0), ("deepseek", 510.0)]:
        make_log(org_a, provider=provider, ttft_ms=ttft)


def test_every_public_page_renders_without_console_errors(browser, content):  # noqa: F811
    for name, path in PAGES.items():
        response = browser.go(path)
        assert response.status == (404 if name == "not-found" else 200), path
        assert "qlaud" in browser.page.title()
        browser.shot(f"public-{name}")
    from blog.models import Entry

    for entry in Entry.objects.published():
        browser.go(entry.get_absolute_url())
        browser.shot(f"blog-{entry.slug}")
    # Chromium logs the 404 status of the not-found page itself; nothing else may fail.
    assert [e for e in browser.console_errors if not e.endswith(f"{PAGES['not-found']})")] == []


def test_the_setup_tabs_switch_and_copy_the_snippet(browser, content):  # noqa: F811
    page = browser.page
    browser.go("/")
    assert page.locator("#panel-claude-code").is_visible()
    assert not page.locator("#panel-codex").is_visible()
    page.get_by_role("tab", name="Codex CLI").click()
    assert page.locator("#panel-codex").is_visible()
    assert not page.locator("#panel-claude-code").is_visible()
    page.locator("#panel-codex button.copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert 'wire_api = "responses"' in copied and f'base_url = "{browser.base_url}/v1"' in copied
    browser.shot("home-codex-tab")
    assert browser.console_errors == []


def test_the_ttft_board_updates_in_place(browser, content, org_a):  # noqa: F811
    page = browser.page
    browser.go("/")
    board = page.locator("#ttft-board")
    assert "Groq" in board.inner_text() or "groq" in board.inner_text()
    make_log(org_a, provider="cerebras", ttft_ms=90.0)
    from django.core.cache import cache

    from qlaud.stats import CACHE_KEY

    cache.delete(CACHE_KEY)
    page.wait_for_function("() => document.querySelector('#ttft-board').innerText.includes('Cerebras')", timeout=12_000)
    assert browser.console_errors == []


def test_models_search_and_filters_narrow_the_catalog(browser, content):  # noqa: F811
    page = browser.page
    browser.go("/models")
    all_rows = page.locator("[data-model-id], .model-row, tbody tr").count()
    search = page.locator("input[type=search], input[name=q]").first
    search.fill("deepseek")
    search.press("Enter")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)
    text = page.locator("main").inner_text().lower()
    assert "deepseek" in text
    assert "claude sonnet 4.5" not in text
    assert page.locator("[data-model-id], .model-row, tbody tr").count() < all_rows
    browser.shot("models-search-deepseek")
    assert browser.console_errors == []
