"""The dashboard overview in a real browser: charts drawn, live feed rows arriving over the websocket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.live_feed import publish_request
from qlaud.tests.browser import browser, needs_chromium, site  # noqa: F401 - fixtures
from qlaud.tests.conftest import make_log

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def history(transactional_db, alice, org_a, charlie, org_b):
    from accounts.keys import mint_key
    from wallet.models import Wallet

    Wallet.objects.update_or_create(org=org_a, defaults={"balance": 18_400_000, "held": 250_000})
    laptop, _ = mint_key(org_a, alice, "laptop")
    ci, _ = mint_key(org_a, alice, "ci")
    for day in range(0, 20, 2):
        make_log(org_a, api_key=laptop, model="deepseek-v3.2", cost=40_000 * (day + 1), ago=timedelta(days=day))
        make_log(org_a, api_key=ci, model="claude-sonnet-4.5", cost=90_000 * (day % 5 + 1), ago=timedelta(days=day))
    make_log(org_b, model="charlies-secret-model", cost=1_000_000)


def test_the_overview_draws_its_charts_and_receives_live_requests(browser, site, history, org_a, org_b):  # noqa: F811
    page = browser.page
    browser.sign_in("alice@example.com")
    browser.go("/dashboard/")
    assert page.locator("svg.bar-chart rect").count() == 30
    assert page.locator(".hbars li").count() == 2
    assert "charlies-secret-model" not in page.content()
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'", timeout=10_000)

    site.run(publish_request(org_b.id, {"request_id": "req_charlie", "model": "charlies-secret-model", "status": 200}))
    site.run(
        publish_request(
            org_a.id,
            {"request_id": "req_live", "model": "kimi-k2", "status": 200, "input_tokens": 1234, "cost": 2_500},
        )
    )
    row = page.locator("#live-feed tr.feed-new").first
    row.wait_for(timeout=5_000)
    assert "kimi-k2" in row.inner_text() and "$0.0025" in row.inner_text() and "1,234" in row.inner_text()
    assert page.locator("#live-feed tr.feed-new").count() == 1  # charlie's event never arrived
    browser.shot("dashboard-overview")
    assert browser.console_errors == []
