from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe
from django.views.generic import ArchiveIndexView, DateDetailView, ListView

from blog.models import Entry, Tag
from blog.posts import announced_slugs


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


@require_safe
def entry_by_slug(request: HttpRequest, slug: str) -> HttpResponsePermanentRedirect:
    """`/blog/<slug>/`, and the slugs posts were announced under, lead to the dated URL."""
    slug = announced_slugs().get(slug, slug)
    entry = Entry.objects.published().filter(slug=slug).first()
    if entry is None:
        raise Http404("No such post")
    return HttpResponsePermanentRedirect(entry.get_absolute_url())
