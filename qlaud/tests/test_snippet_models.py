"""Every model a page's code names must be one people can call at a price we have verified."""

from __future__ import annotations

import html
import re

import pytest
from django.utils import timezone

from catalog import version
from catalog.models import Host, Model, Provider
from qlaud import clients
from qlaud.views import DOC_TOPICS

CODE = re.compile(r"<code[^>]*>(.*?)</code>|<pre[^>]*>(.*?)</pre>", re.S)


def pages() -> list[str]:
    docs = [f"/docs/{slug}/" for slug in (*clients.CLIENTS_BY_SLUG, *DOC_TOPICS)]
    return ["/", "/docs/", "/pricing", *docs]


def named_models(text: str, ids: set[str]) -> set[str]:
    code = " ".join(html.unescape(a or b) for a, b in CODE.findall(text))
    return {i for i in ids if re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w.-])", code)}


def callable_and_verified() -> set[str]:
    live = Host.objects.filter(
        enabled=True, retired_at=None, model__enabled=True, provider__enabled=True, price__verified=True
    )
    return set(live.values_list("model__public_id", flat=True))


@pytest.mark.parametrize("path", pages())
def test_a_page_s_code_names_only_models_with_an_enabled_verified_host(client, seeded_catalog, path):
    ids = set(Model.objects.values_list("public_id", flat=True))
    named = named_models(client.get(path).content.decode(), ids)

    assert named <= callable_and_verified(), f"{path} names {sorted(named - callable_and_verified())}"


@pytest.fixture
def provider_keys(seeded_catalog, monkeypatch):
    """Every seed provider's key variable set, as an operator with accounts everywhere would have them."""
    for name in Provider.objects.exclude(api_key_env="").values_list("api_key_env", flat=True):
        monkeypatch.setenv(name, "sk-test")
    monkeypatch.setenv("VERTEX_PROJECT", "test-project")
    version.bump()


def test_the_home_page_snippets_name_a_model_so_the_check_above_proves_something(client, provider_keys):
    ids = set(Model.objects.values_list("public_id", flat=True))
    assert named_models(client.get("/").content.decode(), ids) == {clients.EXAMPLE_MODELS[0]}


def test_the_snippet_model_is_the_first_preferred_model_with_a_verified_host(provider_keys):
    assert clients.example_model() == clients.EXAMPLE_MODELS[0]
    assert clients.EXAMPLE_MODELS[0] in callable_and_verified()


def test_a_retired_example_model_gives_way_to_the_next_verified_one(provider_keys):
    Host.objects.filter(model__public_id=clients.EXAMPLE_MODELS[0]).update(retired_at=timezone.now())
    version.bump()
    assert clients.example_model() == clients.EXAMPLE_MODELS[1]


def test_with_no_provider_configured_the_snippets_name_the_demo_which_can_answer(client, seeded_catalog, settings):
    settings.QLAUD_DEMO = True
    version.bump()
    ids = set(Model.objects.values_list("public_id", flat=True))
    assert clients.example_model() == clients.DEMO_MODEL
    assert named_models(client.get("/").content.decode(), ids) == {clients.DEMO_MODEL}
    assert clients.DEMO_MODEL in callable_and_verified()


def test_an_unconfigured_preferred_model_gives_way_to_a_configured_one_before_the_demo(seeded_catalog, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    version.bump()
    assert clients.example_model() == clients.EXAMPLE_MODELS[1]  # claude-sonnet-5, hosted by anthropic


def test_with_no_provider_configured_and_the_demo_off_the_snippets_keep_the_usual_model(seeded_catalog, settings):
    settings.QLAUD_DEMO = False
    version.bump()
    assert clients.example_model() == clients.EXAMPLE_MODELS[0]
