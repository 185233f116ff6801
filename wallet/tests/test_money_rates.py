"""Prices as providers bill them: time-of-day windows and prompt-size tiers in wallet.money (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wallet import money
from wallet.money import Prices, PriceSheet, Rate, Tokens, Window

# DeepSeek as billed today: peak prices, half of them outside weekdays 01:00-04:00 and 06:00-10:00 UTC.
PEAK = Prices(input=300_000, output=1_200_000, cache_read=6_000)
OFF_PEAK = Prices(input=150_000, output=600_000, cache_read=3_000)
WEEKDAYS = frozenset(range(5))
DEEPSEEK = PriceSheet(
    PEAK,
    (
        Rate(
            "off-peak",
            OFF_PEAK,
            windows=(
                Window(0, 60, WEEKDAYS),
                Window(240, 360, WEEKDAYS),
                Window(600, 0, WEEKDAYS),
                Window(0, 0, frozenset({5, 6})),
            ),
        ),
    ),
    "peak",
)
# DeepSeek's 2025 night discount (16:30-00:30 UTC every day), no longer billed: the window that wraps midnight.
NIGHT = PriceSheet(PEAK, (Rate("off-peak", OFF_PEAK, windows=(Window(16 * 60 + 30, 30),)),))
# Gemini 2.5 Pro: prompts over 200k tokens pay more for every token of the request.
GEMINI = PriceSheet(
    Prices(input=1_250_000, output=10_000_000, cache_read=125_000),
    (Rate("over 200k", Prices(input=2_500_000, output=15_000_000, cache_read=250_000), above=200_000),),
)
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday


def at(day: datetime, hhmm: str, seconds: int = 0) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)


@pytest.mark.parametrize(
    ("when", "rate"),
    [
        ("00:59", "off-peak"),
        ("01:00", "peak"),  # the peak starts on the minute
        ("03:59", "peak"),
        ("04:00", "off-peak"),  # and ends before its end minute
        ("05:59", "off-peak"),
        ("06:00", "peak"),
        ("09:59", "peak"),
        ("10:00", "off-peak"),
        ("23:59", "off-peak"),
    ],
)
def test_deepseek_bills_peak_only_inside_the_weekday_peak_hours(when: str, rate: str) -> None:
    assert DEEPSEEK.rate_for(1000, at(MONDAY, when)).name == rate


def test_a_second_before_the_peak_is_still_off_peak_and_the_last_second_of_it_is_peak() -> None:
    assert DEEPSEEK.rate_for(10, at(MONDAY, "00:59", 59)).name == "off-peak"
    assert DEEPSEEK.rate_for(10, at(MONDAY, "03:59", 59)).name == "peak"


def test_weekends_are_off_peak_all_day() -> None:
    saturday, sunday = MONDAY - timedelta(days=2), MONDAY - timedelta(days=1)
    for day in (saturday, sunday):
        for hour in ("00:00", "02:00", "07:00", "12:00", "23:59"):
            assert DEEPSEEK.rate_for(10, at(day, hour)).name == "off-peak"


def test_the_time_is_read_in_utc_whatever_zone_it_is_given_in() -> None:
    beijing = timezone(timedelta(hours=8))
    nine_in_beijing = datetime(2026, 12, 7, 9, 0, tzinfo=beijing)  # Monday 01:00 UTC: peak
    assert DEEPSEEK.rate_for(10, nine_in_beijing).name == "peak"
    with pytest.raises(ValueError):
        DEEPSEEK.rate_for(10, datetime(2026, 12, 7, 2, 0))


@pytest.mark.parametrize(
    ("when", "rate"),
    [
        ("16:29", "standard"),
        ("16:30", "off-peak"),
        ("23:59", "off-peak"),
        ("24:00", "off-peak"),  # midnight: the window runs on into the next day
        ("24:29", "off-peak"),
        ("24:30", "standard"),
        ("12:00", "standard"),
    ],
)
def test_a_window_that_wraps_midnight_runs_from_its_start_to_its_end_the_next_day(when: str, rate: str) -> None:
    assert NIGHT.rate_for(10, at(MONDAY, when)).name == rate


def test_a_wrapping_window_belongs_to_the_day_it_starts_on() -> None:
    fridays_night = PriceSheet(PEAK, (Rate("off-peak", OFF_PEAK, windows=(Window(990, 30, frozenset({4})),)),))
    friday, saturday = MONDAY + timedelta(days=4), MONDAY + timedelta(days=5)
    assert fridays_night.rate_for(10, at(friday, "23:00")).name == "off-peak"
    assert fridays_night.rate_for(10, at(saturday, "00:15")).name == "off-peak"
    assert fridays_night.rate_for(10, at(saturday, "16:45")).name == "standard"
    assert fridays_night.rate_for(10, at(friday, "00:15")).name == "standard"  # that is Thursday's night


def test_a_request_inside_and_outside_the_off_peak_window_is_charged_that_rate_plus_markup() -> None:
    usage = Tokens(input=1_000_000, output=1_000_000)
    peak, rate = money.price_at(usage, DEEPSEEK, at(MONDAY, "02:00"), 700)
    assert rate.name == "peak" and peak.upstream == 1_500_000 and peak.total == 1_605_000
    off, rate = money.price_at(usage, DEEPSEEK, at(MONDAY, "12:00"), 700)
    assert rate.name == "off-peak" and off.upstream == 750_000 and off.total == 802_500


def test_a_prompt_exactly_at_the_threshold_pays_the_standard_rate_and_one_token_more_pays_the_tier() -> None:
    noon = at(MONDAY, "12:00")
    at_threshold, rate = money.price_at(Tokens(input=200_000, output=1000), GEMINI, noon, 700)
    assert rate.name == "standard"
    assert at_threshold.upstream == 200_000 * 1_250_000 // 10**6 + 1000 * 10_000_000 // 10**6  # 250,000 + 10,000
    above, rate = money.price_at(Tokens(input=200_001, output=1000), GEMINI, noon, 700)
    assert rate.name == "over 200k"
    # Every token of a long prompt pays the tier, not just the part above the threshold.
    exact = 200_001 * 2_500_000 + 1000 * 15_000_000
    assert above.upstream == -(-exact // 10**6)
    assert above.total == -(-exact * 10_700 // (10**6 * 10_000))


def test_cache_reads_count_toward_the_prompt_size_and_are_billed_at_the_tiers_cache_price() -> None:
    usage = Tokens(input=50_000, cache_read=160_000, output=0)  # 210,000 prompt tokens, mostly cached
    charge, rate = money.price_at(usage, GEMINI, at(MONDAY, "12:00"), 0)
    assert money.prompt_tokens(usage) == 210_000
    assert rate.name == "over 200k"
    assert charge.upstream == 50_000 * 2_500_000 // 10**6 + 160_000 * 250_000 // 10**6  # 125,000 + 40,000


def test_cache_writes_count_toward_the_prompt_size_too() -> None:
    usage = Tokens(input=100_000, cache_write=100_001)
    assert GEMINI.rate_for(money.prompt_tokens(usage), at(MONDAY, "12:00")).name == "over 200k"


def test_the_first_rate_that_applies_wins_when_a_tier_and_a_window_both_apply() -> None:
    both = PriceSheet(
        PEAK,
        (
            Rate(
                "long, off-peak", Prices(input=400_000, output=1), above=100, windows=(Window(0, 0, frozenset({5, 6})),)
            ),
            Rate("long", Prices(input=500_000, output=1), above=100),
        ),
    )
    saturday = MONDAY - timedelta(days=2)
    assert both.rate_for(101, at(saturday, "12:00")).name == "long, off-peak"
    assert both.rate_for(101, at(MONDAY, "12:00")).name == "long"
    assert both.rate_for(100, at(saturday, "12:00")).name == "standard"


def test_a_hold_reserves_the_dearest_rate_any_time_of_day_can_bring() -> None:
    # Held off-peak, the call may still start in the peak (the hold is placed before it, failover retries later).
    off_peak_only = PriceSheet(OFF_PEAK, (Rate("peak", PEAK, windows=(Window(60, 240, WEEKDAYS),)),))
    assert money.hold_for(1000, 1000, off_peak_only, 700) == money.estimate_hold(1000, 1000, PEAK, 700)


def test_a_hold_reserves_a_size_tier_once_the_estimated_prompt_can_reach_it() -> None:
    small = money.hold_for(1000, 1000, GEMINI, 700)
    assert small == money.estimate_hold(1000, 1000, GEMINI.base, 700)  # a short prompt cannot cross 200k
    near = money.hold_for(150_000, 1000, GEMINI, 700)  # an estimate may be short: 150k may really be 210k
    assert near == money.estimate_hold(150_000, 1000, GEMINI.rates[0].prices, 700)
    assert near > money.estimate_hold(150_000, 1000, GEMINI.base, 700)


def test_a_sheet_without_rates_prices_exactly_as_before() -> None:
    usage = Tokens(input=1234, cache_read=99, output=567)
    plain = PriceSheet(PEAK)
    charge, rate = money.price_at(usage, plain, at(MONDAY, "02:00"), 700)
    assert rate.name == money.STANDARD and charge == money.cost(usage, PEAK, 700)
    assert money.hold_for(1234, 567, plain, 700) == money.estimate_hold(1234, 567, PEAK, 700)


def test_a_rate_applies_all_day_on_its_dates_and_only_in_its_windows_otherwise() -> None:
    holiday = datetime(2027, 1, 1, tzinfo=UTC).date()  # a Friday, China's New Year holiday: DeepSeek bills off-peak
    with_holidays = PriceSheet(
        PEAK, (Rate("off-peak", OFF_PEAK, windows=DEEPSEEK.rates[0].windows, dates=frozenset({holiday})),), "peak"
    )
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert with_holidays.rate_for(10, at(new_year, "02:00")).name == "off-peak"  # inside the weekday peak hours
    assert with_holidays.rate_for(10, at(new_year, "07:30")).name == "off-peak"
    assert with_holidays.rate_for(10, at(new_year - timedelta(days=3), "02:00")).name == "peak"  # Tuesday
    assert DEEPSEEK.rate_for(10, at(new_year, "02:00")).name == "peak"  # without the date: billed at peak
    only_dates = PriceSheet(PEAK, (Rate("holiday", OFF_PEAK, dates=frozenset({holiday})),))
    assert only_dates.rate_for(10, at(new_year, "23:59")).name == "holiday"
    assert only_dates.rate_for(10, at(new_year + timedelta(days=1), "00:00")).name == money.STANDARD
