"""Providers without their credentials are "not configured": never called, and the error names the setting."""

from __future__ import annotations

import anthropic
import openai
import pytest

from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, billed, openai_client

pytestmark = E2E
HINT = (
    "deepseek is not configured: set QLAUD_TEST_DEEPSEEK_KEY and run"
    " `manage.py setprovider deepseek --api-key-env QLAUD_TEST_DEEPSEEK_KEY --enable`."
)


@pytest.fixture
def unset_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("QLAUD_TEST_DEEPSEEK_KEY", raising=False)
    return "QLAUD_TEST_DEEPSEEK_KEY"


def test_a_provider_without_its_key_is_never_called_and_the_openai_error_names_the_setting(
    live, tenant, catalog, fake, unset_key
):
    catalog.model("ds", (catalog.provider("deepseek", api_key_env=unset_key), "fake-text"))
    with pytest.raises(openai.APIStatusError) as refused:
        openai_client(live, tenant.raw).chat.completions.create(
            model="ds", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert refused.value.body == {
        "message": HINT,
        "type": "provider_not_configured",
        "param": "model",
        "code": "provider_not_configured",
    }
    assert fake.requests == []
    assert tenant.balance == 10_000_000


def test_a_provider_without_its_key_answers_the_anthropic_shape_on_messages(live, tenant, catalog, fake, unset_key):
    catalog.model("ds", (catalog.provider("deepseek", api_key_env=unset_key), "fake-text"))
    with pytest.raises(anthropic.APIStatusError) as refused:
        anthropic_client(live, tenant.raw).messages.create(
            model="ds", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"] == {"type": "api_error", "message": HINT}
    assert fake.requests == []


def test_routing_skips_a_host_without_credentials_and_serves_from_one_that_has_them(
    live, tenant, catalog, fake, unset_key, monkeypatch
):
    monkeypatch.setenv("QLAUD_TEST_GROQ_KEY", "gsk-test")
    bare = catalog.provider("deepseek", api_key_env=unset_key)  # first in priority, but not configured
    keyed = catalog.provider("groq", path="/openai/v1", api_key_env="QLAUD_TEST_GROQ_KEY")
    catalog.model("two", (bare, "fake-text"), (keyed, "fake-text"))
    answer = openai_client(live, tenant.raw).chat.completions.create(
        model="two", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content
    (sent,) = fake.requests
    assert sent.path == "/openai/v1/chat/completions" and sent.headers["Authorization"] == "Bearer gsk-test"
    (row,) = billed()
    assert (row.provider, row.attempts) == ("groq", 1)


def test_vertex_without_a_project_is_not_configured_and_says_so(live, tenant, catalog, fake, monkeypatch, tmp_path):
    monkeypatch.delenv("VERTEX_PROJECT", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    vertex = catalog.provider("vertex", "vertex-anthropic", config={"location": "global"})
    catalog.model("claude-v", (vertex, "claude-fake-text@20250929"))
    with pytest.raises(anthropic.APIStatusError) as refused:
        anthropic_client(live, tenant.raw).messages.create(
            model="claude-v", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert refused.value.body["error"]["message"] == (
        "vertex is not configured: set VERTEX_PROJECT and run `manage.py setprovider vertex --enable`."
    )
    assert fake.requests == []


def test_a_model_whose_every_provider_lacks_credentials_lists_each_of_them(live, tenant, catalog, fake, monkeypatch):
    monkeypatch.delenv("QLAUD_TEST_A", raising=False)
    monkeypatch.delenv("QLAUD_TEST_B", raising=False)
    a = catalog.provider("deepseek", api_key_env="QLAUD_TEST_A")
    b = catalog.provider("groq", api_key_env="QLAUD_TEST_B")
    catalog.model("both", (a, "fake-text"), (b, "fake-text"))
    with pytest.raises(openai.APIStatusError) as refused:
        openai_client(live, tenant.raw).chat.completions.create(
            model="both", messages=[{"role": "user", "content": "hi"}]
        )
    message = refused.value.body["message"]
    assert message.startswith("No provider of 'both' is configured: deepseek is not configured: set QLAUD_TEST_A")
    assert "groq is not configured: set QLAUD_TEST_B" in message
    assert fake.requests == []
