from __future__ import annotations

from django.core.management.base import BaseCommand

from blog.models import Entry, Tag
from blog.posts import load_launch_posts


class Command(BaseCommand):
    help = "Create or update the launch posts from blog/posts/*.md (matched by slug)."

    def handle(self, *args, **options) -> None:
        load_launch_posts(Entry, Tag)
        self.stdout.write(f"{Entry.objects.count()} entries")
