"""sitemap.xml: the public pages, every catalog model and every published blog post.

URLs are built on settings.SITE_URL rather than django.contrib.sites' Site row, so one setting
decides the public address everywhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from blog.models import Entry
from catalog import public
from qlaud import clients, views


class SiteUrlSitemap(Sitemap):
    def get_domain(self, site=None) -> str:
        return urlsplit(settings.SITE_URL).netloc

    def get_protocol(self, protocol=None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"


class StaticPages(SiteUrlSitemap):
    changefreq = "weekly"

    def items(self) -> list[str]:
        docs = [reverse("docs_page", args=[c.slug]) for c in clients.CLIENTS]
        docs += [reverse("docs_page", args=[t]) for t in views.DOC_TOPICS]
        fixed = ["/", "/models", "/pricing", reverse("docs"), reverse("security"), reverse("status")]
        return [*fixed, *docs, reverse("blog:index")]

    def location(self, item: str) -> str:
        return item


class CatalogModels(SiteUrlSitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return public.model_ids()

    def location(self, item: str) -> str:
        return f"/models/{item}"


class BlogEntries(SiteUrlSitemap):
    changefreq = "monthly"

    def items(self):
        return Entry.objects.published()

    def lastmod(self, item: Entry):
        return item.updated


SITEMAPS = {"pages": StaticPages, "models": CatalogModels, "blog": BlogEntries}
