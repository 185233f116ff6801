"""The whole customer journey in a real browser, offline: sign up, verify, top up through Checkout
(the wallet's local Stripe fake), create and copy a key, call the gateway with the openai SDK (the
gateway's local fake upstream), and watch the request arrive in the live feed and in usage."""

from __future__ import annotations

import re
import time

import openai
import pytest

from qlaud.tests.browser import browser, needs_chromium, served_model, site, upstream  # noqa: F401 - fixtures
from wallet.tests.fake_stripe import fake_stripe  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.e2e, needs_chromium]

EMAIL = "dana@example.com"
PASSWORD = "a long and unusual passphrase 42"


def _pay_at_checkout(fake, route) -> None:
    """Stand in for Stripe's hosted Checkout page.

    qlaud answers the top-up form with a redirect to the session's `url` on the fake; the browser
    would follow it to a page the fake does not serve (and Playwright cannot intercept redirects),
    so the form's response is caught here: the session is paid and the browser sent to success_url.
    """
    response = route.fetch(max_redirects=0)
    checkout_url = response.headers["location"]
    assert checkout_url.startswith(f"{fake.base_url}/pay/cs_"), checkout_url
    session_id = checkout_url.rsplit("/", 1)[1]
    session = fake.complete_session(session_id)
    route.fulfill(status=303, headers={"Location": session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)})


def test_sign_up_top_up_create_a_key_and_see_a_request_live(browser, fake_stripe, served_model):  # noqa: F811
    page = browser.page

    # Sign up and verify the email address (the link signs in).
    browser.sign_up(EMAIL, PASSWORD)
    browser.go("/dashboard/")
    assert "No requests yet" in page.content()
    browser.shot("journey-1-new-dashboard")

    # Top up $5 through Checkout.
    page.route("**/dashboard/wallet/topup/", lambda route: _pay_at_checkout(fake_stripe, route))
    browser.go("/dashboard/wallet/")
    page.get_by_role("button", name="$5", exact=True).click()
    page.wait_for_url(re.compile(r".*/dashboard/wallet/(\?.*)?$"))
    page.wait_for_load_state("networkidle")
    assert "$5.00" in page.locator("main").inner_text()
    browser.shot("journey-2-wallet-topped-up")

    # Create a key and copy it.
    browser.go("/dashboard/keys/")
    page.fill("input[name=name]", "laptop")
    page.get_by_role("button", name="Create key").click()
    page.locator("#new-key").wait_for()
    page.locator(".secret button.copy").click()
    raw_key = page.evaluate("navigator.clipboard.readText()")
    assert raw_key.startswith("ak_") and raw_key == page.locator("#new-key").inner_text()
    browser.shot("journey-3-key-created")

    # Open the overview (live feed connected), then call the gateway with the openai SDK.
    browser.go("/dashboard/")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'", timeout=10_000)
    client = openai.OpenAI(base_url=browser.base_url + "/v1", api_key=raw_key, max_retries=0)
    reply = client.chat.completions.create(model=served_model, messages=[{"role": "user", "content": "Hello"}])
    assert reply.choices[0].message.content
    row = page.locator("#live-feed tr.feed-new").first
    row.wait_for(timeout=15_000)
    assert served_model in row.inner_text()
    browser.shot("journey-4-live-feed")

    # The same request is in usage, and the overview's numbers include it after a reload.
    deadline = time.monotonic() + 10
    while True:
        browser.go("/dashboard/usage/")
        if served_model in page.locator("main").inner_text() or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert served_model in page.locator("main").inner_text()
    browser.shot("journey-5-usage")
    browser.go("/dashboard/")
    assert "No requests yet" not in page.content()
    browser.shot("journey-6-overview")
    assert browser.console_errors == []
