from __future__ import annotations

import re

from catalog import loader
from catalog.models import Provider

DATA = loader.read()
PROVIDERS = {p["slug"]: p for p in DATA["providers"]}
HOSTS = [(m, h) for m in DATA["models"] for h in m["hosts"]]


def test_the_seed_has_the_twelve_providers_with_base_urls_and_key_variables():
    upstreams = {slug: p for slug, p in PROVIDERS.items() if p["protocol"] != "demo"}
    assert set(upstreams) == {
        "deepseek",
        "groq",
        "openai",
        "anthropic",
        "mistral",
        "cerebras",
        "openrouter",
        "workers-ai",
        "xai",
        "bedrock",
        "google-ai-studio",
        "vertex",
    }
    for p in upstreams.values():
        assert p["base_url"].startswith("https://") and re.fullmatch(r"[A-Z][A-Z0-9_]+", p["api_key_env"])
        assert p["protocol"] in Provider.Protocol.values
        assert p["pricing_url"].startswith("https://") and p["as_of"]
        assert p["cf_segment"]


def test_the_seed_has_the_built_in_demo_model_with_a_small_price_that_is_not_zero():
    assert PROVIDERS["demo"]["protocol"] == "demo" and not PROVIDERS["demo"]["api_key_env"]
    (demo,) = [m for m in DATA["models"] if m["id"] == "qlaud/demo"]
    (host,) = demo["hosts"]
    assert host["provider"] == "demo"
    assert 0 < host["prices"]["input"] <= host["prices"]["output"] <= 1_000_000


def test_the_seed_has_at_least_forty_models_with_unique_ids():
    ids = [m["id"] for m in DATA["models"]]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


def test_every_host_names_a_known_provider_and_integer_prices():
    for model, host in HOSTS:
        assert host["provider"] in PROVIDERS, model["id"]
        assert host["upstream"], model["id"]
        prices = host["prices"]
        assert {"input", "output"} <= set(prices), model["id"]
        assert all(type(v) is int and v >= 0 for v in prices.values()), model["id"]


def test_every_unverified_price_has_a_reason_or_an_unverified_provider():
    for model, host in HOSTS:
        if host.get("verified") is False:
            assert host.get("note") or PROVIDERS[host["provider"]].get("verified") is False, model["id"]


def test_key_models_have_several_hosts():
    hosts = {m["id"]: {h["provider"] for h in m["hosts"]} for m in DATA["models"]}
    assert {"groq", "cerebras", "openrouter", "workers-ai"} <= hosts["gpt-oss-120b"]
    assert {"anthropic", "bedrock", "vertex"} <= hosts["claude-sonnet-4.5"]
    assert {"deepseek", "openrouter"} <= hosts["deepseek-v3.2"]


def test_capabilities_are_known_tags():
    from catalog.models import Capability

    for model in DATA["models"]:
        assert set(model.get("capabilities", [])) <= set(Capability.values), model["id"]


def test_every_built_in_alias_points_at_a_seeded_model():
    from catalog.routing import DEFAULT_ALIASES

    ids = {m["id"] for m in DATA["models"]}
    assert set(DEFAULT_ALIASES.values()) <= ids
