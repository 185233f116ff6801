from __future__ import annotations

from django.urls import path, re_path

from blog import feeds, views

app_name = "blog"

urlpatterns = [
    path("", views.EntryArchive.as_view(), name="index"),
    re_path(
        r"^(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?P<day>[0-9]{2})/(?P<slug>[-\w]+)/$",
        views.EntryDetail.as_view(),
        name="entry",
    ),
    path("tag/<slug:slug>/", views.TagEntries.as_view(), name="tag"),
    path("feed/rss/", feeds.RssEntries(), name="rss"),
    path("feed/atom/", feeds.AtomEntries(), name="atom"),
    # Slug-only addresses (as announced) redirect to the dated canonical URL; with or without the slash.
    re_path(r"^(?P<slug>[-\w]+)/?$", views.entry_by_slug, name="entry_by_slug"),
]
