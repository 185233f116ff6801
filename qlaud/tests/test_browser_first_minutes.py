"""The first ten minutes in a real browser, offline: sign up, verify (signed in by the link), get local credit,
create a key that lands in view with focus, test it from the page, and chat in the playground."""

from __future__ import annotations

import pytest

from qlaud.tests.browser import browser, needs_chromium, served_model, site, upstream  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.e2e, needs_chromium]

EMAIL = "erin@example.com"
PASSWORD = "a long and unusual passphrase 42"


def test_sign_up_verify_create_a_key_in_view_test_it_and_use_the_playground(browser, served_model):  # noqa: F811
    from accounts.models import Org
    from wallet import ledger

    page = browser.page
    page.set_viewport_size({"width": 390, "height": 800})
    body = browser.sign_up(EMAIL, PASSWORD)
    assert browser.base_url in body  # the e-mail names this server's own address
    browser.go("/dashboard/")
    assert "/accounts/login/" not in page.url  # confirming the address signed us in
    org = Org.objects.get(memberships__user__email=EMAIL)
    ledger.adjust(org_id=org.pk, amount=5_000_000, reason="local credit", idempotency_key=None)

    # Create a key: the new key's card is in view below the sticky header, with focus.
    browser.go("/dashboard/keys/")
    page.fill("input[name=name]", "laptop")
    page.get_by_role("button", name="Create key").click()
    page.locator("#new-key").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'new-key-card'")
    header = page.locator(".site-header").bounding_box()
    card = page.locator("#new-key-card").bounding_box()
    assert card["y"] >= header["y"] + header["height"] - 1 and card["y"] < 800
    raw_key = page.locator("#new-key").inner_text()
    assert raw_key in page.locator("#new-key-card .tab-panel:not([hidden]) pre").first.inner_text()
    browser.shot("first-minutes-1-key-in-view")

    # Test it from the page: one tiny request through qlaud's own API.
    page.get_by_role("button", name="Test this key").click()
    result = page.locator("#key-test-result")
    page.wait_for_function("document.getElementById('key-test-result').textContent.startsWith('It works')")
    assert served_model in result.inner_text()

    # The playground streams a reply and shows tokens, cost and the receipt.
    browser.go("/dashboard/playground/")
    page.select_option("#pg-model", served_model)
    page.get_by_role("button", name="Send").click()
    page.locator("#pg-stats a", has_text="receipt").wait_for(timeout=15_000)
    assert page.locator("#pg-reply").inner_text().strip()
    stats = page.locator("#pg-stats").inner_text()
    assert "input tokens" in stats and "cost $" in stats
    browser.shot("first-minutes-2-playground")
    page.locator("#pg-stats a").click()
    page.wait_for_load_state("networkidle")
    assert "/dashboard/usage/req_" in page.url and "Receipt" in page.content()
    # The playground polls /v1/generation until the request log is written: those early 404s are expected.
    assert [e for e in browser.console_errors if "/v1/generation?id=" not in e] == []
