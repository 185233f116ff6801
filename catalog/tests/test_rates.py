"""Prices as providers bill them: the catalog file's rates, loaded, snapshotted and charged through the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync

from catalog import loader, rates, snapshot
from catalog.models import Host
from wallet import ledger, money
from wallet.models import LedgerEntry, Wallet

MONDAY_PEAK = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SATURDAY_PEAK_HOUR = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def _sheet(model_id: str) -> money.PriceSheet:
    snap = async_to_sync(snapshot.get_snapshot)()
    (host,) = [h for h in snap.models[model_id].hosts if h.provider.slug in ("deepseek", "google-ai-studio")]
    return host.sheet


@pytest.fixture
def shipped(db) -> None:
    loader.load(loader.read())


def test_the_shipped_deepseek_prices_are_peak_with_off_peak_at_half(shipped):
    sheet = _sheet("deepseek-flash")
    assert sheet.base_name == "peak" and sheet.base == money.Prices(300_000, 1_200_000, 6_000)
    assert sheet.rate_for(10, MONDAY_PEAK).name == "peak"
    off = sheet.rate_for(10, MONDAY_NOON)
    assert off.name == "off-peak" and off.prices == money.Prices(150_000, 600_000, 3_000)
    assert sheet.rate_for(10, SATURDAY_PEAK_HOUR).name == "off-peak"
    assert sheet.rate_for(10, datetime(2027, 1, 1, 2, 0, tzinfo=UTC)).name == "off-peak"  # New Year, a Friday


def test_every_shipped_rate_names_its_source_and_date(shipped):
    for host in Host.objects.exclude(price__rates=[]).select_related("price"):
        for rate in host.price.rates:
            assert rate["source"].startswith("https://") and rate["as_of"], (str(host), rate)


def test_loading_the_catalog_twice_adds_no_price_version_and_a_changed_rate_adds_one(shipped):
    data = loader.read()
    assert loader.load(data).new_price_versions == 0
    (flash,) = [m for m in data["models"] if m["id"] == "deepseek-flash"]
    flash["hosts"][0]["rates"][0]["prices"]["input"] = 140_000
    assert loader.load(data).new_price_versions == 1


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ({"name": "x", "prices": {"input": 1, "output": 1}}, "needs `above`"),
        ({"name": "x", "above": 10, "prices": {"input": 1.5, "output": 1}}, "non-negative integers"),
        ({"name": "x", "when": [{"from": 990, "to": "00:30"}], "prices": {"input": 1, "output": 1}}, "quoted UTC"),
        ({"name": "x", "when": [{"days": "mon-fry"}], "prices": {"input": 1, "output": 1}}, "day names"),
        ({"name": "x", "dates": ["2027-13-01"], "prices": {"input": 1, "output": 1}}, "ISO dates"),
    ],
)
def test_a_rate_the_loader_cannot_read_is_refused_naming_the_host(db, rate, message):
    data = loader.read()
    (flash,) = [m for m in data["models"] if m["id"] == "deepseek-flash"]
    flash["hosts"][0]["rates"] = [rate]
    with pytest.raises(loader.CatalogFileError, match=message):
        loader.load(data)


def test_rates_are_described_for_people(shipped):
    flash, gemini = _sheet("deepseek-flash"), _sheet("gemini-2.5-pro")
    assert rates.describe(flash.rates[0]) == (
        "Mon-Fri 00:00-01:00 UTC; Mon-Fri 04:00-06:00 UTC; Mon-Fri 10:00-24:00 UTC; Sat, Sun, all day (UTC),"
        " all day on 2027-01-01 (UTC)"
    )
    assert rates.describe(gemini.rates[0]) == "prompts over 200,000 tokens"


def _charge(org_id: int, request_id: str, usage: money.Tokens, sheet: money.PriceSheet, at: datetime) -> int:
    hold = ledger.place_hold(
        org_id=org_id,
        key_id=None,
        amount=money.hold_for(money.prompt_tokens(usage), usage.output, sheet, 700),
        request_id=request_id,
    )
    charge, rate = money.price_at(usage, sheet, at, 700)
    ledger.settle(hold, charge=charge.total, upstream_cost=charge.upstream, receipt={"rate": rate.name})
    return charge.total


def test_the_ledger_charges_deepseek_peak_and_off_peak_and_a_long_prompt_at_the_provider_rate_plus_7_percent(
    shipped, org_a
):
    org = org_a.pk
    ledger.credit_topup(org_id=org, amount=10_000_000, reference="cs_seed", idempotency_key="cs_seed")
    usage = money.Tokens(input=1_000_000, output=1_000_000)
    flash = _sheet("deepseek-flash")
    assert _charge(org, "req_peak", usage, flash, MONDAY_PEAK) == 1_605_000  # ($0.30 + $1.20) x 1.07
    assert _charge(org, "req_off", usage, flash, MONDAY_NOON) == 802_500  # ($0.15 + $0.60) x 1.07
    long_prompt = money.Tokens(input=250_000, output=10_000)
    # Gemini 2.5 Pro over 200k: 250k x $2.50 + 10k x $15.00 = $0.775 upstream, x 1.07 = $0.82925.
    assert _charge(org, "req_long", long_prompt, _sheet("gemini-2.5-pro"), MONDAY_PEAK) == 829_250
    entries = {e.idempotency_key: e for e in LedgerEntry.objects.filter(wallet__org_id=org, kind="usage")}
    assert {k: (-e.amount, e.receipt["rate"]) for k, e in entries.items()} == {
        "usage:req_peak": (1_605_000, "peak"),
        "usage:req_off": (802_500, "off-peak"),
        "usage:req_long": (829_250, "over 200k"),
    }
    assert Wallet.objects.get(org_id=org).balance == 10_000_000 - 1_605_000 - 802_500 - 829_250


def test_the_catalog_api_shows_each_hosts_rates_with_customer_prices_and_provenance(client, shipped, settings):
    settings.QLAUD_MARKUP_BPS = 700
    body = client.get("/v1/catalog").json()
    models = {m["id"]: m for m in body["data"]}
    (flash,) = [h for h in models["deepseek-flash"]["hosts"] if h["provider"]["slug"] == "deepseek"]
    assert flash["rate_name"] == "peak" and flash["upstream_pricing"]["input"] == 300_000
    (off,) = flash["rates"]
    assert off["name"] == "off-peak" and off["above_prompt_tokens"] is None
    assert off["upstream_pricing"] == {"input": 150_000, "output": 600_000, "cache_read": 3_000, "cache_write": 0}
    assert off["pricing"]["input"] == 160_500 and off["pricing"]["output"] == 642_000
    assert {"days": ["sat", "sun"], "from": "00:00", "to": "24:00"} in off["windows_utc"]
    assert {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "24:00"} in off["windows_utc"]
    assert off["dates_utc"] == ["2027-01-01"]
    assert off["source"] == "https://api-docs.deepseek.com/quick_start/pricing" and off["as_of"] == "2026-12-07"
    (gemini,) = [h for h in models["gemini-2.5-pro"]["hosts"] if h["provider"]["slug"] == "google-ai-studio"]
    (tier,) = gemini["rates"]
    assert tier["name"] == "over 200k" and tier["above_prompt_tokens"] == 200_000 and tier["windows_utc"] == []
    assert gemini["rate_name"] == "standard" and models["gpt-oss-120b"]["hosts"][0]["rates"] == []


def test_the_model_page_shows_the_off_peak_rate_and_when_it_applies(client, shipped):
    html = client.get("/models/deepseek-flash").content.decode()
    assert "prices by prompt size and time of day" in html and "<strong>peak</strong>" in html
    assert (
        "<strong>off-peak</strong>" in html and "Mon-Fri 10:00-24:00 UTC" in html and "Sat, Sun, all day (UTC)" in html
    )
    assert "$0.1605" in html  # $0.15 off-peak input + 7%
    long_context = client.get("/models/gemini-2.5-pro").content.decode()
    assert "prompts over 200,000 tokens" in long_context and "$2.675" in long_context  # $2.50 + 7%


def test_the_pricing_page_lists_other_rates_and_the_calculator_prices_a_long_prompt_at_its_tier(client, shipped):
    html = client.get("/pricing").content.decode()
    assert "off-peak" in html and "prompts over 200,000 tokens" in html
    short = client.get("/pricing/calculate?model=gemini-2.5-pro&input_tokens=200000&output_tokens=0").content.decode()
    assert 'id="calc-rate">standard<' in short and "$0.2675" in short  # 200k x $1.25 x 1.07
    long_ = client.get("/pricing/calculate?model=gemini-2.5-pro&input_tokens=200001&output_tokens=0").content.decode()
    assert 'id="calc-rate">over 200k<' in long_ and "$0.535003" in long_  # 200,001 x $2.50 x 1.07, rounded up
    timed = client.get("/pricing/calculate?model=deepseek-flash&input_tokens=1000&output_tokens=0").content.decode()
    assert "also bills by time of day" in timed


def test_a_dashboard_receipt_names_the_rate_a_request_paid(client, shipped, org_a, alice):
    from requestlog.models import RequestLog

    flash = Host.objects.get(model__public_id="deepseek-flash", provider__slug="deepseek")
    RequestLog.objects.create(
        request_id="req_off",
        org=org_a,
        surface="chat",
        requested_model="deepseek-flash",
        model="deepseek-flash",
        provider="deepseek",
        host_id=flash.id,
        price_version_id=flash.price_id,
        rate="off-peak",
        input_tokens=1000,
        output_tokens=10,
        cost=167,
        upstream_cost=156,
    )
    client.force_login(alice)
    html = client.get("/dashboard/usage/req_off/").content.decode()
    assert 'id="receipt-rate">off-peak' in html and "$0.1605" not in html  # upstream prices: $0.15
    assert "in $0.15, out $0.60" in html
