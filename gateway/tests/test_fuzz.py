"""The fuzz suite: no request, however malformed, gets a 5xx or a non-JSON answer (issue 15).

Each surface's request schema, its structural mutations, and nesting and encoding cases (gateway/tests/fuzz.py) go
through qlaud's real ASGI application in-process (httpx's ASGITransport: the fast path, the site's middleware, the
views), with a fake upstream answering what passes validation, so the translators and the stream relays run too.
Derandomized: the same cases on every run. BUDGET counts requests per test (10,800 in all); each hypothesis example
is fuzz.PER_EXAMPLE of them (a schema body, its structural mutations, its nesting and encoding cases).
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from gateway.tests import fuzz
from gateway.tests.conftest import E2E

pytestmark = E2E

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))  # FUZZ_SCALE=10 for a longer local run
BUDGET = {
    "/v1/messages": 2400,
    "/v1/messages/count_tokens": 1200,
    "/v1/chat/completions": 2400,
    "/v1/responses": 2400,
    "account": 2400,
}


def fuzz_settings(budget: int) -> Any:
    return settings(
        derandomize=True,
        max_examples=int(budget * SCALE / fuzz.PER_EXAMPLE),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing request is printed as it was sent
    )


def violation(case: fuzz.Case, response: httpx.Response) -> str | None:
    """Why this answer breaks the rule (a 5xx, anything but JSON, an error out of the surface's shape), or None."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if case.method == "HEAD":
        return None
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        return _stream_violation(response)
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]}"
    if response.status_code >= 400:
        return _shape_violation(case.path, body)
    return None


def _stream_violation(response: httpx.Response) -> str | None:
    # split("\n"), not splitlines(): a raw U+2028 inside a JSON string does not end an SSE line
    events = [line[5:].strip() for line in response.text.split("\n") if line.startswith("data:")]
    if not events:
        return "a stream with no events"
    for data in events:
        if data != "[DONE]":
            try:
                json.loads(data)
            except ValueError:
                return f"a stream event that is not JSON: {data[:200]}"
    return None


def _shape_violation(path: str, body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return f"an error without an error object: {body!r:.200}"
    error = body["error"]
    if path.startswith("/v1/messages"):
        ok = (
            body.get("type") == "error" and isinstance(error.get("type"), str) and isinstance(error.get("message"), str)
        )
    elif path.startswith("/api/"):  # the management API's own shape: error.code, error.message, error.status
        ok = isinstance(error.get("message"), str) and isinstance(error.get("code"), str)
    else:
        ok = isinstance(error.get("message"), str) and isinstance(error.get("type"), str)
    return None if ok else f"an error out of the surface's shape: {body!r:.200}"


def check(driver: fuzz.Driver, cases: list[fuzz.Case]) -> None:
    for case in cases:
        response = driver.send(case)
        problem = violation(case, response)
        assert problem is None, f"{case!r} -> {problem}"


@pytest.mark.parametrize("path", [p for p in fuzz.SURFACES])
def test_no_request_to_a_model_surface_gets_a_5xx_or_a_non_json_answer(asgi_driver, fuzz_world, path):
    @fuzz_settings(BUDGET[path])
    @given(fuzz.surface_cases(path, fuzz_world.raw))
    def run(cases: list[fuzz.Case]) -> None:
        check(asgi_driver, cases)

    run()
    assert asgi_driver.cases >= BUDGET[path] * SCALE * 0.9  # hypothesis ran the budget (it may stop a little early)


def test_no_request_to_the_account_api_gets_a_5xx_or_a_non_json_answer(asgi_driver, fuzz_world):
    @fuzz_settings(BUDGET["account"])
    @given(fuzz.account_cases(fuzz_world.raw))
    def run(cases: list[fuzz.Case]) -> None:
        check(asgi_driver, cases)

    run()
    assert asgi_driver.cases >= BUDGET["account"] * SCALE * 0.9
