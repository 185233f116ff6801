from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from catalog.fidelity import CASES, make_record
from catalog.routing import (
    CIRCUIT_HALF_OPEN,
    CIRCUIT_OPEN,
    HostHealth,
    InvalidRoutingOptions,
    Needs,
    NoHostAvailable,
    PromptTooLong,
    RoutingOptions,
    UnknownModel,
    model_allowed,
    resolve,
)
from catalog.snapshot import CatalogSnapshot, HostInfo, ModelInfo, ProviderInfo
from wallet.money import Prices

_ids = iter(range(1, 10_000))
_CHECKED = datetime(2026, 12, 1, tzinfo=UTC)
PASSED_TOOLS = make_record({name: (True, "") for name in CASES}, _CHECKED)
FAILED_TOOLS = make_record({**{name: (True, "") for name in CASES}, "streamed_tool_arguments": (False, "")}, _CHECKED)


def provider(slug: str) -> ProviderInfo:
    return ProviderInfo(next(_ids), slug, slug, "openai", f"https://{slug}.test", "", False, "", {})


def host(
    model_id: str,
    slug: str,
    *,
    priority: int = 100,
    price: tuple[int, int] = (1_000_000, 2_000_000),
    caps: tuple[str, ...] = ("tools",),
    context: int = 128_000,
    verified: bool = False,
    hid: int | None = None,
    upstream: str | None = None,
) -> HostInfo:
    return HostInfo(
        id=hid or next(_ids),
        model_id=model_id,
        provider=provider(slug),
        upstream_model=upstream or model_id,
        prices=Prices(*price),
        price_version_id=1,
        max_output_tokens=None,
        context_length=context,
        priority=priority,
        capabilities=frozenset(caps),
        fidelity=PASSED_TOOLS if verified else FAILED_TOOLS,
    )


def model(model_id: str, *hosts: HostInfo) -> ModelInfo:
    caps = frozenset().union(*(h.capabilities for h in hosts)) if hosts else frozenset()
    return ModelInfo(model_id, model_id, "", "", 128_000, caps, "", date(2025, 1, 1), hosts)


def snap(*models: ModelInfo) -> CatalogSnapshot:
    hosts = {h.id: h for m in models for h in m.hosts}
    return CatalogSnapshot(1, {m.id: m for m in models}, {h.provider.slug: h.provider for h in hosts.values()}, hosts)


NO_NEEDS = Needs()
DEFAULTS = RoutingOptions()


def route(snapshot, requested, *, aliases=None, needs=NO_NEEDS, options=DEFAULTS, health=None):
    return resolve(snapshot, requested, aliases=aliases or {}, needs=needs, options=options, health=health or {})


def slugs(r) -> list[str]:
    return [h.provider.slug for h in r.hosts]


GROQ = host("oss", "groq", priority=10, price=(150_000, 750_000), verified=True, hid=101)
CEREBRAS = host("oss", "cerebras", priority=20, price=(250_000, 690_000), verified=True, hid=102)
WORKERS = host("oss", "workers-ai", priority=30, price=(350_000, 750_000), hid=103)
OPENROUTER = host("oss", "openrouter", priority=50, price=(50_000, 250_000), hid=104)
OSS = model("oss", OPENROUTER, WORKERS, CEREBRAS, GROQ)  # deliberately not in priority order
CLAUDE = model(
    "claude-haiku-4.5", host("claude-haiku-4.5", "anthropic", priority=10, caps=("tools", "vision"), hid=201)
)
CHEAP = model("cheap", host("cheap", "deepseek", priority=10, price=(10, 10), hid=301))
CATALOG = snap(OSS, CLAUDE, CHEAP)


def test_it_orders_hosts_by_operator_priority():
    assert slugs(route(CATALOG, "oss")) == ["groq", "cerebras", "workers-ai", "openrouter"]


def test_ties_in_priority_break_by_host_id_so_the_order_is_stable():
    a, b = host("t", "b-prov", priority=5, hid=902), host("t", "a-prov", priority=5, hid=901)
    assert [h.id for h in route(snap(model("t", a, b)), "t").hosts] == [901, 902]


def test_an_open_circuit_goes_last_and_a_half_open_one_just_before_it():
    health = {101: HostHealth(101, circuit=CIRCUIT_OPEN), 102: HostHealth(102, circuit=CIRCUIT_HALF_OPEN)}
    assert slugs(route(CATALOG, "oss", health=health)) == ["workers-ai", "openrouter", "cerebras", "groq"]


def test_every_circuit_open_still_routes_to_every_host_in_order_as_envoy_panic_mode_does():
    health = {h.id: HostHealth(h.id, circuit=CIRCUIT_OPEN) for h in OSS.hosts}
    assert slugs(route(CATALOG, "oss", health=health)) == slugs(route(CATALOG, "oss"))


def test_a_half_open_host_goes_before_the_open_ones_when_no_circuit_is_closed():
    health = {h.id: HostHealth(h.id, circuit=CIRCUIT_OPEN) for h in OSS.hosts} | {
        104: HostHealth(104, circuit=CIRCUIT_HALF_OPEN)
    }
    assert slugs(route(CATALOG, "oss", health=health))[0] == "openrouter"


def test_a_prompt_longer_than_every_context_window_is_refused_naming_the_limit():
    small = host("small", "a", context=8_000, hid=451)
    bigger = host("small", "b", context=16_000, hid=452)
    with pytest.raises(PromptTooLong, match="16000 tokens") as refused:
        route(snap(model("small", small, bigger)), "small", needs=Needs(min_context=20_000))
    assert (refused.value.tokens, refused.value.limit) == (20_000, 16_000)


def test_nitro_puts_the_hosts_that_passed_the_tool_cases_first_then_the_highest_throughput():
    health = {
        101: HostHealth(101, p50_tokens_per_s=400.0),
        102: HostHealth(102, p50_tokens_per_s=2000.0),
        104: HostHealth(104, p50_tokens_per_s=9000.0),
    }
    r = route(CATALOG, "oss:nitro", health=health)
    assert slugs(r) == ["cerebras", "groq", "openrouter", "workers-ai"]
    assert r.variant == "nitro" and r.model is OSS


def test_floor_puts_the_cheapest_host_first():
    assert slugs(route(CATALOG, "oss:floor")) == ["openrouter", "groq", "cerebras", "workers-ai"]


def test_provider_sort_by_latency_puts_measured_fast_hosts_first_and_unknown_last():
    health = {103: HostHealth(103, p50_ttft_ms=120.0), 102: HostHealth(102, p50_ttft_ms=300.0)}
    options = RoutingOptions(sort="latency")
    assert slugs(route(CATALOG, "oss", options=options, health=health)) == [
        "workers-ai",
        "cerebras",
        "groq",
        "openrouter",
    ]


def test_provider_sort_by_throughput_and_by_price():
    health = {104: HostHealth(104, p50_tokens_per_s=50.0), 103: HostHealth(103, p50_tokens_per_s=80.0)}
    assert slugs(route(CATALOG, "oss", options=RoutingOptions(sort="throughput"), health=health))[:2] == [
        "workers-ai",
        "openrouter",
    ]
    assert slugs(route(CATALOG, "oss", options=RoutingOptions(sort="price")))[0] == "openrouter"


def test_provider_order_goes_first_and_the_rest_follow_when_fallbacks_are_allowed():
    options = RoutingOptions(order=("openrouter", "cerebras"))
    assert slugs(route(CATALOG, "oss", options=options)) == ["openrouter", "cerebras", "groq", "workers-ai"]


def test_provider_order_without_fallbacks_uses_only_the_listed_providers():
    options = RoutingOptions(order=("workers-ai",), allow_fallbacks=False)
    assert slugs(route(CATALOG, "oss", options=options)) == ["workers-ai"]


def test_provider_only_and_ignore_filter_hosts():
    assert slugs(route(CATALOG, "oss", options=RoutingOptions(only=("cerebras", "groq")))) == ["groq", "cerebras"]
    assert slugs(route(CATALOG, "oss", options=RoutingOptions(ignore=("groq", "openrouter")))) == [
        "cerebras",
        "workers-ai",
    ]


def test_provider_filters_that_exclude_everything_say_so():
    with pytest.raises(NoHostAvailable, match="provider preferences"):
        route(CATALOG, "oss", options=RoutingOptions(only=("anthropic",)))


def test_only_hosts_with_the_needed_capabilities_are_kept():
    text_only = host("mixed", "a", priority=1, caps=(), hid=401)
    tools = host("mixed", "b", priority=2, caps=("tools",), hid=402)
    vision = host("mixed", "c", priority=3, caps=("tools", "vision"), context=32_000, hid=403)
    catalog = snap(model("mixed", text_only, tools, vision))
    assert [h.id for h in route(catalog, "mixed", needs=Needs(tools=True)).hosts] == [402, 403]
    assert [h.id for h in route(catalog, "mixed", needs=Needs(vision=True)).hosts] == [403]
    assert [h.id for h in route(catalog, "mixed", needs=Needs(min_context=64_000)).hosts] == [401, 402]
    with pytest.raises(PromptTooLong, match="32000 tokens"):  # the only vision host holds 32k
        route(catalog, "mixed", needs=Needs(vision=True, min_context=64_000))
    with pytest.raises(NoHostAvailable, match="tools, images or its context"):
        route(snap(model("mixed", text_only)), "mixed", needs=Needs(vision=True))


def test_needs_are_derived_from_both_request_shapes():
    openai_body = {
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        "tools": [{"type": "function"}],
    }
    anthropic_body = {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}
    assert Needs.from_body(openai_body).tools and Needs.from_body(openai_body).vision
    assert Needs.from_body(anthropic_body) == Needs(
        tools=False, vision=True, min_context=Needs.from_body(anthropic_body).min_context
    )
    assert Needs.from_body({"messages": [{"role": "user", "content": "x" * 40_000}]}).min_context >= 8_000
    assert Needs.from_body({"messages": [{"role": "user", "content": "hi"}]}) == Needs(
        min_context=Needs.from_body({"messages": [{"role": "user", "content": "hi"}]}).min_context
    )


def test_an_org_alias_resolves_to_its_catalog_model_and_keeps_the_requested_name():
    r = route(CATALOG, "claude-opus-4-8", aliases={"claude-opus-4-8": "oss"})
    assert r.model is OSS and r.requested == "claude-opus-4-8"


def test_an_alias_may_carry_a_variant():
    assert slugs(route(CATALOG, "fast", aliases={"fast": "oss:floor"}))[0] == "openrouter"


def test_an_org_alias_wins_over_a_catalog_model_of_the_same_name():
    assert route(CATALOG, "claude-haiku-4.5", aliases={"claude-haiku-4.5": "cheap"}).model is CHEAP


def test_names_claude_code_hard_codes_reach_the_same_named_catalog_model():
    assert route(CATALOG, "claude-haiku-4-5-20251001").model is CLAUDE
    assert route(CATALOG, "claude-haiku-4-5").model is CLAUDE


def test_an_unknown_model_says_how_to_find_models():
    with pytest.raises(UnknownModel) as err:
        route(CATALOG, "gpt-9")
    assert err.value.requested == "gpt-9" and "/v1/models" in str(err.value)


def test_an_unknown_variant_is_part_of_the_name_and_therefore_unknown():
    with pytest.raises(UnknownModel):
        route(CATALOG, "oss:turbo")


def test_fallback_models_follow_the_requested_models_hosts_and_unknown_ones_are_skipped():
    options = RoutingOptions(models=("nope", "cheap", "oss"))
    r = route(CATALOG, "claude-haiku-4.5", options=options)
    assert slugs(r) == ["anthropic", "deepseek", "groq", "cerebras", "workers-ai", "openrouter"]
    assert r.fallback_models == ("cheap", "oss")


def test_fallback_models_are_used_when_the_requested_model_has_no_live_host():
    health = {201: HostHealth(201, circuit=CIRCUIT_OPEN)}
    r = route(CATALOG, "claude-haiku-4.5", options=RoutingOptions(models=("cheap",)), health=health)
    assert slugs(r) == ["deepseek", "anthropic"] and r.model is CLAUDE  # the open host last, not dropped


def test_the_models_list_alone_names_the_model():
    assert route(CATALOG, "", options=RoutingOptions(models=("cheap",))).model is CHEAP


def test_provider_slash_upstream_id_pins_that_provider():
    assert slugs(route(snap(model("oss", GROQ, CEREBRAS)), "cerebras/oss")) == ["cerebras"]


def test_routing_options_come_from_an_openrouter_style_body():
    options = RoutingOptions.from_request(
        {
            "models": ["a", "b"],
            "provider": {
                "order": ["groq"],
                "only": ["groq", "cerebras"],
                "ignore": ["x"],
                "sort": "price",
                "allow_fallbacks": False,
            },
        }
    )
    assert options == RoutingOptions(
        models=("a", "b"),
        order=("groq",),
        only=("groq", "cerebras"),
        ignore=("x",),
        sort="price",
        allow_fallbacks=False,
    )
    assert RoutingOptions.from_request({}) == RoutingOptions()


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "groq"},
        {"provider": {"sort": "vibes"}},
        {"provider": {"order": "groq"}},
        {"models": "a"},
        {"provider": {"allow_fallbacks": "no"}},
        {"models": [1]},
    ],
)
def test_malformed_routing_options_are_refused(body):
    with pytest.raises(InvalidRoutingOptions):
        RoutingOptions.from_request(body)


def test_a_keys_allowed_models_may_be_empty_exact_or_globs():
    assert model_allowed((), "anything")
    assert model_allowed(("gpt-5", "deepseek-*"), "deepseek-v3.2")
    assert not model_allowed(("gpt-5",), "gpt-5-mini")


def test_routing_imports_nothing_from_django():
    code = "import sys, catalog.routing; assert not any(m.startswith('django') for m in sys.modules), 'django'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))


def test_nitro_ranks_by_probe_throughput_where_customer_traffic_is_thin():
    health = {
        101: HostHealth(101, p50_tokens_per_s=9000.0, samples=3, probe_p50_tokens_per_s=100.0, probe_samples=6),
        102: HostHealth(102, probe_p50_tokens_per_s=2000.0, probe_samples=6),  # no customer traffic at all
        104: HostHealth(104, probe_p50_tokens_per_s=700.0, probe_samples=6),
    }

    def nitro(min_samples: int) -> list[str]:
        return slugs(
            resolve(
                CATALOG,
                "oss:nitro",
                aliases={},
                needs=Needs(),
                options=RoutingOptions(),
                health=health,
                nitro_min_samples=min_samples,
            )
        )

    # Three customer requests on groq say little: its probes (100 tok/s) put it behind cerebras's (2000).
    assert nitro(20) == ["cerebras", "groq", "openrouter", "workers-ai"]
    assert nitro(3) == ["groq", "cerebras", "openrouter", "workers-ai"]  # three are enough: customers rank


def test_nitro_trusts_customer_throughput_once_there_is_enough_of_it():
    thick = HostHealth(101, p50_tokens_per_s=9000.0, samples=50, probe_p50_tokens_per_s=100.0, probe_samples=6)
    assert thick.tokens_per_s(20) == 9000.0
    assert thick.tokens_per_s(51) == 100.0  # thin by a stricter measure: the probes speak
    assert HostHealth(7, p50_tokens_per_s=300.0, samples=2).tokens_per_s(20) == 300.0  # no probes: the few customers
    assert HostHealth(7).tokens_per_s(20) is None
    assert HostHealth(7, p50_ttft_ms=90.0, samples=2, probe_p50_ttft_ms=400.0).ttft_ms(20) == 400.0
