"""Every public and dashboard page at 1280 and 390 px: no horizontal scroll, and axe-core finds no serious or
critical violation. axe-core is the npm package installed into .tools/ (as .ci/run does), injected from that
file: no CDN."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qlaud.tests.browser import browser, needs_chromium, site  # noqa: F401 - fixtures
from qlaud.tests.conftest import make_log

AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
needs_axe = pytest.mark.skipif(
    not AXE.exists(), reason=f"{AXE} is missing: npm install --prefix .tools axe-core (as .ci/run does)"
)
pytestmark = [pytest.mark.browser, needs_chromium, needs_axe]

WIDTHS = (1280, 390)
PUBLIC = [
    "/",
    "/docs/",
    "/docs/claude-code/",
    "/docs/api/",
    "/docs/errors/",
    "/security",
    "/status",
    "/blog/",
    "/models",
    "/models/deepseek-v3.2",
    "/pricing",
    "/accounts/login/",
    "/accounts/signup/",
    "/no/such/page",
]
DASHBOARD = [
    "/dashboard/",
    "/dashboard/keys/",
    "/dashboard/playground/",
    "/dashboard/wallet/",
    "/dashboard/usage/",
    "/dashboard/usage/req_a11y/",
    "/dashboard/team/",
    "/dashboard/aliases/",
    "/dashboard/org/new/",
]


@pytest.fixture
def content(transactional_db, alice, org_a, bob):
    from accounts.keys import mint_key
    from accounts.orgs import create_org
    from blog.models import Entry, Tag
    from blog.posts import load_launch_posts
    from catalog import loader

    loader.load(loader.read())
    load_launch_posts(Entry, Tag)
    create_org(alice, "Second org")  # the org switcher shows
    key, _ = mint_key(org_a, alice, "laptop", allowed_models=["deepseek-v3.2", "kimi-k2"], rpm_limit=60)
    make_log(org_a, api_key=key, provider="deepseek", ttft_ms=420.0)
    make_log(org_a, api_key=key, request_id="req_a11y", status=402, error_type="billing")


def overflow(page) -> int:
    """How many pixels the page is wider than the viewport (0: no horizontal scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


WIDEST = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1)) {
      out.push(el.tagName.toLowerCase() + '.' + String(el.className).split(' ').join('.') + ' ' + Math.round(r.right));
    }
  }
  return out.slice(0, 6);
}"""


def serious_violations(page) -> list[str]:
    page.evaluate(AXE.read_text())  # not add_script_tag: an inline <script> is refused by the site's CSP
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check(browser, paths: list[str]) -> dict[str, list[str]]:  # noqa: F811
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        browser.page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            browser.go(path)
            found = serious_violations(browser.page)
            if (extra := overflow(browser.page)) > 0:
                found.append(f"horizontal overflow of {extra}px: {browser.page.evaluate(WIDEST)}")
            if found:
                problems[f"{path} @{width}"] = found
    return problems


def test_public_pages_have_no_horizontal_scroll_and_no_serious_axe_violations(browser, content):  # noqa: F811
    assert check(browser, PUBLIC) == {}


def test_dashboard_pages_have_no_horizontal_scroll_and_no_serious_axe_violations(browser, content):  # noqa: F811
    browser.sign_in("alice@example.com")
    assert check(browser, DASHBOARD) == {}


def test_the_dashboard_nav_reaches_every_section_on_a_phone(browser, content):  # noqa: F811
    browser.sign_in("alice@example.com")
    browser.page.set_viewport_size({"width": 390, "height": 800})
    browser.go("/dashboard/")
    for name in ("Overview", "API keys", "Playground", "Wallet", "Usage", "Team", "Aliases"):
        link = browser.page.locator(".sidebar nav").get_by_role("link", name=name, exact=True)
        box = link.bounding_box()
        assert link.is_visible() and box and 0 <= box["x"] and box["x"] + box["width"] <= 390, name


def test_the_org_switcher_waits_for_its_button(browser, content):  # noqa: F811
    page = browser.page
    browser.sign_in("alice@example.com")
    browser.go("/dashboard/keys/")
    page.focus("#org-switch")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert page.url.endswith("/dashboard/keys/") and "Switched to" not in page.content()
    page.get_by_role("button", name="Switch").click()
    page.wait_for_load_state("networkidle")
    assert "Switched to" in page.content()


if os.environ.get("QLAUD_A11Y_REPORT"):  # a debugging aid: print every problem instead of the first assert

    def test_report(browser, content):
        import pprint

        pprint.pprint(check(browser, PUBLIC), width=200)
        browser.sign_in("alice@example.com")
        pprint.pprint(check(browser, DASHBOARD), width=200)
