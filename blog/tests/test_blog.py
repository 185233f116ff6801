from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from blog.models import Entry, Tag
from blog.posts import POSTS_DIR, load_launch_posts


def make_entry(**kw) -> Entry:
    values = {
        "title": "Hello",
        "slug": "hello",
        "summary": "A summary.",
        "body": "Some *Markdown*.",
        "author": "Ada",
        "pub_date": timezone.now() - timedelta(days=1),
    }
    return Entry.objects.create(**{**values, **kw})


@pytest.mark.django_db
def test_published_excludes_drafts_inactive_and_future_posts():
    visible = make_entry(slug="visible")
    make_entry(slug="draft", is_draft=True)
    make_entry(slug="inactive", is_active=False)
    make_entry(slug="future", pub_date=timezone.now() + timedelta(days=1))
    assert list(Entry.objects.published()) == [visible]


@pytest.mark.django_db
def test_markdown_is_rendered_on_save_and_script_is_stripped():
    entry = make_entry(body="# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **bold**")
    assert "<strong>bold</strong>" in entry.body_html
    assert "<script" not in entry.body_html
    assert "javascript:" not in entry.body_html


@pytest.mark.django_db
def test_a_post_lives_at_its_date_based_url(client):
    entry = make_entry()
    url = entry.get_absolute_url()
    date = timezone.localtime(entry.pub_date)
    assert url == f"/blog/{date:%Y/%m/%d}/hello/"
    response = client.get(url)
    assert response.status_code == 200
    assert b"<em>Markdown</em>" in response.content


@pytest.mark.django_db
def test_a_draft_is_not_reachable_by_url(client):
    entry = make_entry(is_draft=True)
    assert client.get(entry.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_the_index_lists_published_posts_newest_first(client):
    make_entry(slug="older", title="Older post", pub_date=timezone.now() - timedelta(days=3))
    make_entry(slug="newer", title="Newer post")
    make_entry(slug="secret", title="Secret draft", is_draft=True)
    html = client.get("/blog/").content.decode()
    assert html.index("Newer post") < html.index("Older post")
    assert "Secret draft" not in html


@pytest.mark.django_db
def test_a_tag_page_lists_only_that_tags_posts(client):
    tag = Tag.objects.create(name="pricing", slug="pricing")
    tagged = make_entry(slug="tagged", title="Tagged post")
    tagged.tags.add(tag)
    make_entry(slug="other", title="Other post")
    html = client.get("/blog/tag/pricing/").content.decode()
    assert "Tagged post" in html and "Other post" not in html
    assert client.get("/blog/tag/nope/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "marker"), [("/blog/feed/rss/", b"<rss"), ("/blog/feed/atom/", b"<feed")])
def test_feeds_carry_published_posts_only(client, path, marker):
    make_entry(slug="public", title="Public post")
    make_entry(slug="draft", title="Draft post", is_draft=True)
    response = client.get(path)
    assert response.status_code == 200
    assert marker in response.content
    assert b"Public post" in response.content and b"Draft post" not in response.content


@pytest.mark.django_db
def test_the_launch_posts_load_idempotently_with_their_tags():
    load_launch_posts(Entry, Tag)
    load_launch_posts(Entry, Tag)
    assert Entry.objects.published().count() == 3
    built = Entry.objects.get(slug="how-qlaud-is-built")
    assert "wallet/ledger.py" in built.body_html
    assert {t.slug for t in Entry.objects.get(slug="claude-code-on-deepseek-costs").tags.all()} >= {"deepseek"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("announced", "slug"),
    [
        ("/blog/building-qlaud-on-cloudflare-ai-gateway", "how-qlaud-is-built"),
        ("/blog/why-claude-code-on-deepseek-costs-30x-less", "claude-code-on-deepseek-costs"),
        ("/blog/why-claude-code-on-deepseek-costs-30x-less/", "claude-code-on-deepseek-costs"),
        ("/blog/benchmarks/", "benchmarks"),
    ],
)
def test_the_announced_addresses_reach_the_matching_posts(client, announced, slug):
    load_launch_posts(Entry, Tag)
    response = client.get(announced)
    entry = Entry.objects.get(slug=slug)
    assert response.status_code == 301 and response["Location"] == entry.get_absolute_url()
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_an_unknown_slug_is_a_404(client):
    assert client.get("/blog/no-such-post/").status_code == 404


def test_every_number_in_the_benchmarks_post_comes_from_the_latest_run_in_docs_benchmarks():
    post = (POSTS_DIR / "0003-benchmarks.md").read_text()
    docs = (POSTS_DIR.parents[1] / "docs" / "benchmarks.md").read_text()
    latest = re.search(r"Run (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)", docs).group(1)
    assert latest in post
    numbers = set(re.findall(r"\d+\.\d+", post)) - {"1.108"}  # LiteLLM's version, 1.108.7
    missing = {n for n in numbers if not re.search(rf"(?<![\d.]){re.escape(n)}(?!\d)", docs)}
    assert numbers and not missing, f"not in docs/benchmarks.md: {sorted(missing)}"
