from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.urls import reverse_lazy
from django.utils.feedgenerator import Atom1Feed

from blog.models import Entry


class RssEntries(Feed):
    title = "qlaud blog"
    description = "How qlaud is built, and what LLM traffic really costs."
    link = reverse_lazy("blog:index")

    def items(self) -> QuerySet[Entry]:
        return Entry.objects.published().prefetch_related("tags")[:20]

    def item_title(self, item: Entry) -> str:
        return item.title

    def item_description(self, item: Entry) -> str:
        return item.summary

    def item_pubdate(self, item: Entry) -> datetime:
        return item.pub_date

    def item_updateddate(self, item: Entry) -> datetime:
        return item.updated

    def item_author_name(self, item: Entry) -> str:
        return item.author

    def item_categories(self, item: Entry) -> list[str]:
        return [tag.name for tag in item.tags.all()]

    def item_guid(self, item: Entry) -> str:
        return f"{settings.SITE_URL}{item.get_absolute_url()}"


class AtomEntries(RssEntries):
    feed_type = Atom1Feed
    subtitle = RssEntries.description
