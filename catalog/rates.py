"""A price's other rates: prompt-size tiers and time-of-day schedules, as the catalog file writes them.

`PriceVersion.rates` stores them as plain JSON (`normalise` checks the catalog file's form and writes it);
`money_rates` reads them back as `wallet.money.Rate`s; `describe` writes one for people (pages, /v1/catalog).
Times are UTC; days are written `mon-fri`, `sat-sun`, `mon` or a list of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from wallet import money

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class RateError(ValueError):
    """A rate in the catalog file that cannot be read; the message names what is wrong."""


def _minute(value: Any, what: str) -> int:
    # Quoted on purpose: YAML 1.1 reads an unquoted 16:30 as the base-60 number 990.
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise RateError(f'{what} must be a quoted UTC time such as "16:30", not {value!r}')
    return int(match.group(1)) * 60 + int(match.group(2))


def _days(value: Any) -> list[int]:
    if value is None:
        return list(range(7))
    parts = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for part in parts:
        first, _, last = str(part).strip().lower().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise RateError(f"days must be day names such as mon-fri or [sat, sun], not {value!r}")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(d % 7 for d in range(start, end + 1 if end >= start else end + 8))
    return sorted(days)


def _window(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise RateError(f"a window is a mapping with days, from and to, not {spec!r}")
    start, end = _minute(spec.get("from", "00:00"), "from"), _minute(spec.get("to", "24:00"), "to")
    return {"days": _days(spec.get("days")), "from": start, "to": end % money.MINUTES_PER_DAY}


def _dates(spec: dict[str, Any]) -> list[str]:
    """`dates:` whole UTC days a rate applies all day (a provider's holidays), as ISO dates."""
    found = []
    for value in spec.get("dates") or []:
        try:
            found.append((value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat())
        except ValueError:
            raise RateError(f"dates must be ISO dates such as 2027-01-01, not {value!r}") from None
    return sorted(found)


def _prices(spec: Any, name: str) -> dict[str, int]:
    raw = spec if isinstance(spec, dict) else {}
    prices = {k: raw.get(k, 0) for k in PRICE_FIELDS}
    if not raw or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in prices.values()):
        raise RateError(f"rate {name!r}: prices must be non-negative integers (micro-$/Mtok)")
    return prices


def normalise(specs: Any, source: str, as_of: date | None) -> list[dict[str, Any]]:
    """The catalog file's `rates:` as stored JSON; each rate keeps its own source and date (default: the price's)."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise RateError("rates must be a list")
    out = []
    for spec in specs:
        name = str(spec.get("name", "")).strip() if isinstance(spec, dict) else ""
        if not name:
            raise RateError("every rate needs a name")
        above, windows, dates = spec.get("above"), [_window(w) for w in spec.get("when") or []], _dates(spec)
        if above is not None and (isinstance(above, bool) or not isinstance(above, int) or above < 0):
            raise RateError(f"rate {name!r}: above must be a whole number of prompt tokens")
        if above is None and not windows and not dates:
            raise RateError(f"rate {name!r} needs `above` (prompt tokens), `when` (times of day) or `dates`")
        rate_as_of = spec.get("as_of") or as_of
        out.append(
            {
                "name": name,
                "above": above,
                "windows": windows,
                **({"dates": dates} if dates else {}),
                **_prices(spec.get("prices"), name),
                "source": spec.get("source") or source,
                "as_of": rate_as_of.isoformat() if isinstance(rate_as_of, date) else rate_as_of,
                **({"note": str(spec["note"])} if spec.get("note") else {}),
            }
        )
    return out


def money_rates(stored: list[dict[str, Any]] | None) -> tuple[money.Rate, ...]:
    """Stored JSON -> the rates `wallet.money` prices with."""
    return tuple(
        money.Rate(
            name=r["name"],
            prices=money.Prices(r["input"], r["output"], r.get("cache_read", 0), r.get("cache_write", 0)),
            above=r.get("above"),
            windows=tuple(
                money.Window(w["from"], w["to"], frozenset(w.get("days", range(7)))) for w in r.get("windows", [])
            ),
            dates=frozenset(date.fromisoformat(d) for d in r.get("dates", [])),
        )
        for r in stored or []
    )


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_text(days: frozenset[int]) -> str:
    if days == money.ALL_DAYS:
        return "every day"
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{DAY_NAMES[ordered[0]].title()}-{DAY_NAMES[ordered[-1]].title()}"
    return ", ".join(DAY_NAMES[d].title() for d in ordered)


def window_text(w: money.Window) -> str:
    """`Mon-Fri 10:00-24:00 UTC`, `every day 16:30-00:30 UTC`."""
    end = "24:00" if w.end == 0 and w.start != 0 else _clock(w.end)
    if w.start == 0 and w.end in (0, money.MINUTES_PER_DAY):
        return f"{_day_text(w.days)}, all day (UTC)"
    return f"{_day_text(w.days)} {_clock(w.start)}-{end} UTC"


def describe(rate: money.Rate) -> str:
    """When a rate applies, for people: `prompts over 200,000 tokens`, `Sat-Sun, all day (UTC); ...`."""
    parts = []
    if rate.above is not None:
        parts.append(f"prompts over {rate.above:,} tokens")
    if rate.windows:
        parts.append("; ".join(window_text(w) for w in rate.windows))
    if rate.dates:
        parts.append("all day on " + ", ".join(d.isoformat() for d in sorted(rate.dates)) + " (UTC)")
    return ", ".join(parts) or "always"


def for_display(rate: money.Rate, detail: Mapping[str, Any], markup_bps: int) -> dict[str, Any]:
    """One rate as /v1/catalog and the pages show it: when it applies, customer and upstream prices, provenance."""
    return {
        "name": rate.name,
        "applies": describe(rate),
        "above_prompt_tokens": rate.above,
        "windows_utc": [
            {"days": [DAY_NAMES[d] for d in sorted(w.days)], "from": _clock(w.start), "to": _clock(w.end or 1440)}
            for w in rate.windows
        ],
        "dates_utc": sorted(d.isoformat() for d in rate.dates),
        "pricing": _four(money.customer_prices(rate.prices, markup_bps)),
        "upstream_pricing": _four(rate.prices),
        "source": detail.get("source") or None,
        "as_of": detail.get("as_of") or None,
    }


def _four(prices: money.Prices) -> dict[str, int]:
    return {k: getattr(prices, k) for k in PRICE_FIELDS}


def host_rates(
    found: tuple[money.Rate, ...], details: tuple[Mapping[str, Any], ...], markup_bps: int
) -> list[dict[str, Any]]:
    """A host's rates for display, each with its stored provenance (none if the details are missing)."""
    return [for_display(r, details[i] if i < len(details) else {}, markup_bps) for i, r in enumerate(found)]
