from __future__ import annotations

from fractions import Fraction

import pytest

from blog.models import Entry, Tag
from blog.posts import load_launch_posts
from blog.shortcodes import expand, turn_cost
from qlaud.catalogview import ModelPrice


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


@pytest.mark.django_db
def test_the_cost_post_renders_its_numbers_from_the_live_catalog(client, seeded_catalog, settings):
    settings.QLAUD_MARKUP_BPS = 700
    load_launch_posts(Entry, Tag)
    entry = Entry.objects.get(slug="claude-code-on-deepseek-costs")
    html = client.get(entry.get_absolute_url()).content.decode()
    assert "[[turn_costs" not in html
    # Cold turn on Claude Sonnet 4.5 at $3/$15: 20,000 x 3 + 600 x 15 = 69,000 micro-dollars, +7% = $0.0738
    assert "$0.0738" in html
    # DeepSeek V3.2's cheapest cold host (openrouter, $0.27/$0.40): 20,000 x 0.27 + 600 x 0.40 = 5,640, +7%
    assert "$0.0060" in html
    assert "costs <strong>12.2×</strong> as much as" in html  # 73,830 / 6,034.8
    assert "not in the catalog" not in html


@pytest.mark.django_db
def test_the_cost_post_says_so_when_a_model_leaves_the_catalog(client):
    load_launch_posts(Entry, Tag)
    entry = Entry.objects.get(slug="claude-code-on-deepseek-costs")
    assert "not in the catalog right now" in client.get(entry.get_absolute_url()).content.decode()
