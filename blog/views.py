from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.views.generic import ArchiveIndexView, DateDetailView, ListView

from blog.models import Entry, Tag


class BlogMixin:
    def get_queryset(self):
        return Entry.objects.published().prefetch_related("tags")


class EntryArchive(BlogMixin, ArchiveIndexView):
    date_field = "pub_date"
    paginate_by = 20
    allow_empty = True
    context_object_name = "entries"
    template_name = "blog/index.html"


class EntryDetail(BlogMixin, DateDetailView):
    date_field = "pub_date"
    month_format = "%m"
    context_object_name = "entry"
    template_name = "blog/entry.html"


class TagEntries(BlogMixin, ListView):
    paginate_by = 20
    context_object_name = "entries"
    template_name = "blog/tag.html"

    def get_queryset(self):
        self.tag = get_object_or_404(Tag, slug=self.kwargs["slug"])
        return super().get_queryset().filter(tags=self.tag)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(tag=self.tag, **kwargs)
