"""Shortcodes in blog posts, expanded at view time from the live catalog so numbers never go stale.

`[[turn_costs models=a,b input=20000 cached=18000 output=600]]` renders a table of what one turn
costs on each model, on the host that is cheapest for that turn, at upstream price plus qlaud's markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from catalog.public import ModelPrice, host_prices
from wallet import money

SHORTCODE = re.compile(r"(?:<p>)?\[\[(?P<name>[a-z_]+)(?P<args>(?: [a-z_]+=[^\s\]]+)*)\]\](?:</p>)?")


def _args(raw: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in raw.split())


def turn_cost(price: ModelPrice, *, uncached: int, cached: int, output: int, markup_bps: int) -> Fraction:
    """Customer cost of one turn in micro-dollars (exact; rounded only for display)."""
    cache_read = price.cache_read if price.cache_read is not None else price.input
    prices = money.Prices(input=price.input, output=price.output, cache_read=cache_read)
    return money.exact_total(money.Tokens(input=uncached, cache_read=cached, output=output), prices, markup_bps)


def _usd(micro: Fraction) -> str:
    """A turn's cost: four decimals below a dollar (a turn costs fractions of a cent), cents above."""
    return money.format_usd(micro, 4 if micro < money.MICROS_PER_USD else 2)


def _turn_costs(args: dict[str, str]) -> str:
    total_in, cached, output = int(args.get("input", 20000)), int(args.get("cached", 0)), int(args.get("output", 600))
    uncached = max(total_in - cached, 0)
    markup = settings.QLAUD_MARKUP_BPS
    rows = []
    for model_id in args.get("models", "").split(","):
        priced = [
            (turn_cost(p, uncached=uncached, cached=cached, output=output, markup_bps=markup), p)
            for p in host_prices(model_id)
        ]
        if not priced:
            rows.append({"model": model_id, "missing": True})
            continue
        cost, price = min(priced, key=lambda pair: pair[0])  # the cheapest host for this turn shape
        row = {"model": model_id, "price": price, "exact": cost, "cost": _usd(cost), "per_1000": _usd(cost * 1000)}
        rows.append(row)
    context = {"rows": rows, "uncached": uncached, "cached": cached, "output": output, "markup": markup / 100}
    context["ratio"] = _ratio(rows)
    return render_to_string("blog/shortcodes/turn_costs.html", context)


def _ratio(rows: list[dict]) -> dict | None:
    """How many times dearer the first model's turn is than the cheapest other one."""
    priced = [r for r in rows if not r.get("missing")]
    if len(priced) < 2:
        return None
    first, cheapest = priced[0], min(priced[1:], key=lambda r: r["exact"])
    if not cheapest["exact"]:
        return None
    return {"dear": first["model"], "cheap": cheapest["model"], "times": float(first["exact"] / cheapest["exact"])}


SHORTCODES: dict[str, Callable[[dict[str, str]], str]] = {"turn_costs": _turn_costs}


def expand(html: str) -> SafeString:
    def replace(match: re.Match[str]) -> str:
        handler = SHORTCODES.get(match["name"])
        if handler is None:
            return escape(match.group(0))
        return handler(_args(match["args"]))

    return mark_safe(SHORTCODE.sub(replace, html))  # input was sanitised by nh3; handlers escape
