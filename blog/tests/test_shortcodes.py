from __future__ import annotations

import re
from fractions import Fraction

import pytest

from blog.models import Entry, Tag
from blog.posts import load_launch_posts
from blog.shortcodes import expand, turn_cost
from catalog.public import ModelPrice


def test_turn_cost_prices_cached_tokens_at_the_cache_read_price_plus_markup():
    price = ModelPrice("m", "p", input=3_000_000, output=15_000_000, cache_read=300_000, cache_write=None)
    # 2,000 x $3 + 18,000 x $0.30 + 600 x $15 per Mtok = 6,000 + 5,400 + 9,000 micro-dollars, + 7%
    cost = turn_cost(price, uncached=2_000, cached=18_000, output=600, markup_bps=700)
    assert cost == Fraction(20_400 * 107, 100)


def test_turn_cost_charges_full_input_price_where_a_host_has_no_cache_price():
    price = ModelPrice("m", "p", input=1_000_000, output=0, cache_read=None, cache_write=None)
    assert turn_cost(price, uncached=0, cached=1_000, output=0, markup_bps=0) == 1_000


@pytest.mark.django_db
def test_an_unknown_shortcode_is_shown_escaped_not_executed():
    assert str(expand("<p>[[nope x=1]]</p>")) == "&lt;p&gt;[[nope x=1]]&lt;/p&gt;"


def _cold_turn_usd(model_id: str, markup_bps: int) -> str:
    """The cheapest host's cold 20k-in / 600-out turn, from the price rows, in integer arithmetic."""
    from catalog.models import Host

    costs = [
        (20_000 * h.price.input + 600 * h.price.output) * (10_000 + markup_bps)
        for h in Host.objects.filter(model__public_id=model_id, enabled=True).select_related("price")
    ]
    return f"${min(costs) / 10_000 / 1_000_000 / 1_000_000:.4f}"


@pytest.mark.django_db
def test_the_cost_post_renders_its_numbers_from_the_live_catalog(client, seeded_catalog, settings):
    settings.QLAUD_MARKUP_BPS = 700
    load_launch_posts(Entry, Tag)
    entry = Entry.objects.get(slug="claude-code-on-deepseek-costs")
    html = client.get(entry.get_absolute_url()).content.decode()
    assert "[[turn_costs" not in html
    for model_id in ("claude-sonnet-5", "deepseek-v4-pro", "deepseek-flash"):
        assert _cold_turn_usd(model_id, 700) in html, model_id
    assert "not in the catalog" not in html
    assert re.search(r"claude-sonnet-5</strong> costs <strong>[0-9.]+×</strong> as much as", html)


@pytest.mark.django_db
def test_the_cost_post_says_so_when_a_model_leaves_the_catalog(client):
    load_launch_posts(Entry, Tag)
    entry = Entry.objects.get(slug="claude-code-on-deepseek-costs")
    assert "not in the catalog right now" in client.get(entry.get_absolute_url()).content.decode()
