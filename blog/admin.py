from __future__ import annotations

from django.contrib import admin

from blog.models import Entry, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["title", "pub_date", "author", "is_draft", "is_active"]
    list_filter = ["is_draft", "is_active", "tags"]
    search_fields = ["title", "summary", "body"]
    date_hierarchy = "pub_date"
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ["tags"]
