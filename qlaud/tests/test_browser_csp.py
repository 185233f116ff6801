"""The Content-Security-Policy in a real browser: every page works under it, with no violation reported.

The other browser tests run under the same policy (their consoles must stay clean); this one walks the pages they do
not all visit, the dashboard's included, listens for `securitypolicyviolation` events, and checks the API reference
(Redoc, with its own policy)."""

from __future__ import annotations

import pytest

from qlaud.tests.browser import browser, needs_chromium, site  # noqa: F401 - fixtures
from qlaud.tests.conftest import make_log

pytestmark = [pytest.mark.browser, needs_chromium]

# Injected by the browser before any page script (not subject to the page's CSP): collects what the CSP refused.
WATCH = """document.addEventListener('securitypolicyviolation', (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI);
});"""
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
PAGES = [
    "/",
    "/pricing",
    "/models",
    "/docs/",
    "/blog/",
    "/status",
    "/accounts/login/",
    "/accounts/signup/",
]
DASHBOARD = [
    "/dashboard/keys/",
    "/dashboard/playground/",
    "/dashboard/usage/",
    "/dashboard/wallet/",
    "/dashboard/team/",
    "/dashboard/org/settings/",
    "/accounts/email/",
    "/dashboard/",  # last: its live feed's websocket must connect under connect-src 'self'
]


@pytest.fixture
def content(transactional_db, alice, org_a):
    from accounts.keys import mint_key
    from catalog import loader

    loader.load(loader.read())
    key, _ = mint_key(org_a, alice, "laptop")
    make_log(org_a, api_key=key, user=alice, ttft_ms=400.0)


def visit(browser, path: str) -> list[str]:  # noqa: F811
    """Open `path`; the violations the page reported. Its response must carry a policy."""
    response = browser.go(path)
    assert response.status == 200, path
    assert "default-src 'self'" in response.headers["content-security-policy"], path
    return browser.page.evaluate("window.__cspViolations || []")


def test_every_page_and_the_dashboard_work_under_the_policy_with_no_violation(browser, content):  # noqa: F811
    browser.page.context.add_init_script(WATCH)
    violations = {path: visit(browser, path) for path in PAGES}
    browser.sign_in("alice@example.com")
    violations |= {path: visit(browser, path) for path in DASHBOARD}
    browser.page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
    assert {path: found for path, found in violations.items() if found} == {}
    assert browser.console_errors == []


def test_the_api_reference_renders_under_its_own_policy(browser, content):  # noqa: F811
    browser.page.context.add_init_script(WATCH)
    visit(browser, "/docs/management-api/reference/")
    browser.page.locator("h1").first.wait_for(timeout=15_000)  # Redoc drew the reference from the schema
    assert "List the org" in browser.page.content()
    # The one thing refused, on purpose: the attribution logo Redoc's bundle loads from its CDN (no third-party loads).
    assert browser.page.evaluate("window.__cspViolations || []") == [f"img-src {REDOC_LOGO}"]
    assert [e for e in browser.console_errors if REDOC_LOGO not in e] == []
