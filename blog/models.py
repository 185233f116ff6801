from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from blog.markup import render_markdown


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("blog:tag", kwargs={"slug": self.slug})


class EntryQuerySet(models.QuerySet):
    def published(self) -> EntryQuerySet:
        """Active, not a draft, and dated now or earlier: what readers and feeds may see."""
        return self.filter(is_active=True, is_draft=False, pub_date__lte=timezone.now())


class Entry(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique_for_date="pub_date")
    summary = models.TextField(help_text="One or two plain sentences; used in listings, feeds and Open Graph.")
    body = models.TextField(help_text="Markdown. Shortcodes such as [[claude_code_turn_costs]] are expanded on view.")
    # Rendered and sanitised on save, so a page view never runs the Markdown parser.
    body_html = models.TextField(editable=False, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="entries")
    author = models.CharField(max_length=100)
    pub_date = models.DateTimeField(default=timezone.now, db_index=True)
    is_draft = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Untick to take a published post down.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-pub_date"]
        get_latest_by = "pub_date"
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        date = timezone.localtime(self.pub_date)
        kwargs = {"year": f"{date:%Y}", "month": f"{date:%m}", "day": f"{date:%d}", "slug": self.slug}
        return reverse("blog:entry", kwargs=kwargs)

    def rendered(self) -> SafeString:
        from blog.shortcodes import expand

        return expand(self.body_html)
