"""Prices as the providers bill them, through the gateway with the real SDKs: a DeepSeek request in its peak hours
and off-peak, and a prompt above a long-context tier, each charged the provider's rate for that case plus 7%.

The shipped catalog's own rates are used (catalog/data/catalog.yaml), on hosts pointed at the fake upstream. The
time the upstream call starts comes from `gateway.pipeline.clock`, set here: no sleeping, no frozen process."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from django.conf import settings

from catalog import loader, rates
from catalog.models import PriceVersion
from catalog.snapshot import build_snapshot
from gateway import pipeline
from gateway.providers import openai_compat
from gateway.tests.conftest import E2E
from gateway.tests.e2e import anthropic_client, billed, fake_usage, openai_client
from gateway.usage import Usage
from wallet import money
from wallet.models import LedgerEntry

pytestmark = E2E

MONDAY_PEAK = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # weekdays 01:00-04:00 UTC: DeepSeek's peak
MONDAY_OFF_PEAK = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # the first minute after it
SHIPPED = {m["id"]: m for m in loader.read()["models"]}


def shipped_price(model_id: str) -> dict[str, Any]:
    """The shipped catalog's first host price of `model_id`, as the loader stores it."""
    spec = SHIPPED[model_id]["hosts"][0]
    prices = {k: spec["prices"].get(k, 0) for k in ("input", "output", "cache_read", "cache_write")}
    stored = rates.normalise(spec.get("rates"), "https://example.test/pricing", None)
    return {**prices, "rates": stored, "rate_name": spec.get("rate_name", money.STANDARD)}


def priced_like(model: Any, model_id: str) -> None:
    model.context_length = SHIPPED[model_id]["context_length"]
    model.save()
    host = model.hosts.get()
    host.price = PriceVersion.objects.create(host=host, **shipped_price(model_id))
    host.save()


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    deepseek = catalog.provider("deepseek", "openai", "/v1")
    priced_like(catalog.model("deepseek-flash", (deepseek, "fake-text")), "deepseek-flash")
    google = catalog.provider("google-ai-studio", "openai", "/v1")
    priced_like(catalog.model("gemini-2.5-pro", (google, "fake-measured")), "gemini-2.5-pro")
    return tenant


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_to(when: datetime) -> None:
        monkeypatch.setattr(pipeline, "clock", lambda: when)

    return set_to


def the_charge() -> tuple[Any, LedgerEntry]:
    """The newest request's log row and its ledger entry (each row checked against the ledger by `billed`)."""
    row = billed()[-1]
    (entry,) = LedgerEntry.objects.filter(reference=row.request_id, kind=LedgerEntry.Kind.USAGE)
    return row, entry


def provider_rate_plus_markup(usage: Usage, prices: money.Prices) -> int:
    assert settings.QLAUD_MARKUP_BPS == 700
    return money.cost(usage, prices, 700).total


DEEPSEEK_PEAK = money.Prices(input=300_000, output=1_200_000, cache_read=6_000)  # $0.30 / $1.20 / $0.006
DEEPSEEK_OFF_PEAK = money.Prices(input=150_000, output=600_000, cache_read=3_000)  # half


@pytest.mark.parametrize(
    ("started", "rate", "prices"),
    [(MONDAY_PEAK, "peak", DEEPSEEK_PEAK), (MONDAY_OFF_PEAK, "off-peak", DEEPSEEK_OFF_PEAK)],
)
def test_a_deepseek_request_is_charged_the_rate_of_the_hour_its_upstream_call_started(
    live, world, clock, started, rate, prices
):
    clock(started)
    completion = openai_client(live, world.raw).chat.completions.create(
        model="deepseek-flash", messages=[{"role": "user", "content": "hi"}]
    )
    row, entry = the_charge()
    expected = provider_rate_plus_markup(fake_usage(), prices)
    assert row.cost == expected == -entry.amount
    assert (completion.usage.model_extra or {})["cost_micros"] == expected
    assert row.rate == entry.receipt["rate"] == rate
    assert entry.receipt["upstream_started_at"] == started.isoformat()


def test_a_streamed_deepseek_request_off_peak_is_charged_off_peak(live, world, clock):
    clock(MONDAY_OFF_PEAK)
    stream = openai_client(live, world.raw).chat.completions.create(
        model="deepseek-flash",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    row, entry = the_charge()
    assert row.cost == provider_rate_plus_markup(fake_usage(), DEEPSEEK_OFF_PEAK) == -entry.amount
    assert (chunks[-1].usage.model_extra or {})["cost_micros"] == row.cost
    assert row.rate == "off-peak"


def test_a_prompt_above_the_long_context_threshold_is_charged_the_tier_for_every_token(live, world, clock):
    clock(MONDAY_PEAK)  # Gemini has no time-of-day rates: the hour changes nothing
    long_text = "word " * 180_000  # 900,000 characters: about 225,000 tokens
    message = anthropic_client(live, world.raw).messages.create(
        model="gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": long_text}]
    )
    row, entry = the_charge()
    prompt = row.input_tokens + row.cache_read_tokens
    assert prompt > 200_000 and message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0) == prompt
    tier = money.Prices(input=2_500_000, output=15_000_000, cache_read=250_000)  # Gemini 2.5 Pro over 200k
    usage = Usage(input=row.input_tokens, cache_read=row.cache_read_tokens, output=row.output_tokens)
    assert row.cost == provider_rate_plus_markup(usage, tier) == -entry.amount
    assert row.rate == "over 200k"


def test_a_short_prompt_to_the_same_model_pays_the_standard_rate(live, world, clock):
    clock(MONDAY_PEAK)
    anthropic_client(live, world.raw).messages.create(
        model="gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    row, _ = the_charge()
    standard = money.Prices(input=1_250_000, output=10_000_000, cache_read=125_000)
    usage = Usage(input=row.input_tokens, cache_read=row.cache_read_tokens, output=row.output_tokens)
    assert row.cost == provider_rate_plus_markup(usage, standard)
    assert row.rate == "standard"


def test_the_hold_of_a_long_prompt_reserves_the_tier(live, world, clock, monkeypatch):
    clock(MONDAY_PEAK)
    holds: list[int] = []
    hold_amount = pipeline.hold_amount

    def spy(route: Any, input_tokens: int, max_tokens: int | None, own_keys: Any = None) -> int:
        holds.append(hold_amount(route, input_tokens, max_tokens, own_keys))
        return holds[-1]

    monkeypatch.setattr(pipeline, "hold_amount", spy)
    client = anthropic_client(live, world.raw)
    client.messages.create(model="gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    client.messages.create(
        model="gemini-2.5-pro", max_tokens=64, messages=[{"role": "user", "content": "word " * 180_000}]
    )
    billed(2)
    short, long_ = holds
    assert long_ > short
    (row,) = [r for r in billed(2) if r.rate == "over 200k"]
    assert long_ >= row.cost  # the tier was reserved, so the charge fits the hold


def test_the_generation_receipt_names_the_rate_that_applied_and_its_prices(live, world, clock):
    clock(MONDAY_OFF_PEAK)
    openai_client(live, world.raw).chat.completions.create(
        model="deepseek-flash", messages=[{"role": "user", "content": "hi"}]
    )
    row, _ = the_charge()
    answer = httpx.get(f"{live.url}/v1/generation", params={"id": row.request_id}, headers=bearer(world.raw))
    receipt = answer.json()["data"]
    assert receipt["rate"] == "off-peak"
    assert receipt["price_version"]["rate"] == "off-peak"
    assert receipt["price_version"]["rates"] == ["peak", "off-peak"]
    assert receipt["price_version"]["per_mtok_micros"] == {
        "input": 150_000,
        "output": 600_000,
        "cache_read": 3_000,
        "cache_write": 0,
    }
    assert receipt["total_cost_micros"] == row.cost


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_cloudflares_cost_tag_carries_the_rate_of_the_hour_the_call_starts(world, settings):
    settings.CF_AIG_ACCOUNT_ID, settings.CF_AIG_GATEWAY_ID, settings.CF_AIG_TOKEN = "acct", "gw", "cf-token"
    (host,) = build_snapshot().models["deepseek-flash"].hosts
    host = replace(host, provider=replace(host.provider, via_cloudflare=True))
    body = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "hi"}]}

    def tagged_input_price(at: datetime) -> float:
        request = openai_compat.build_request(pipeline.make_call(host, body, False, {}, {}, at=at))
        return json.loads(request.headers["cf-aig-custom-cost"])["per_token_in"]

    assert tagged_input_price(MONDAY_PEAK) == pytest.approx(321_000 / 10**12)  # $0.30 + 7% per million
    assert tagged_input_price(MONDAY_OFF_PEAK) == pytest.approx(160_500 / 10**12)  # $0.15 + 7%
