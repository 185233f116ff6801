"""The launch posts, kept as Markdown files in blog/posts/ with a small header of `key: value` lines.

Loaded by a data migration so every database (dev, CI, production) has them; editing a file later
and running `load_launch_posts` again updates the post in place (matched by slug).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

POSTS_DIR = Path(__file__).resolve().parent / "posts"


@dataclass(frozen=True)
class PostFile:
    title: str
    slug: str
    author: str
    pub_date: datetime
    tags: tuple[str, ...]
    summary: str
    body: str
    aliases: tuple[str, ...] = ()  # slugs the post was announced under; /blog/<alias> redirects to it


def parse(text: str) -> PostFile:
    header, _, body = text.partition("\n---\n")
    fields = dict(line.split(": ", 1) for line in header.strip().splitlines())
    return PostFile(
        title=fields["title"],
        slug=fields["slug"],
        author=fields["author"],
        pub_date=datetime.fromisoformat(fields["pub_date"]),
        tags=tuple(t.strip() for t in fields["tags"].split(",") if t.strip()),
        summary=fields["summary"],
        body=body.strip() + "\n",
        aliases=tuple(a.strip() for a in fields.get("aliases", "").split(",") if a.strip()),
    )


def launch_posts() -> list[PostFile]:
    return [parse(path.read_text()) for path in sorted(POSTS_DIR.glob("*.md"))]


def announced_slugs() -> dict[str, str]:
    """{announced slug: the post's slug} from the files' `aliases:` lines."""
    return {alias: post.slug for post in launch_posts() for alias in post.aliases}


def load_launch_posts(entry_model, tag_model) -> None:
    """Create or update the launch posts. Takes the models so a migration can pass its historical ones."""
    from django.utils.text import slugify

    from blog.markup import render_markdown

    for post in launch_posts():
        entry, _ = entry_model.objects.update_or_create(
            slug=post.slug,
            defaults={
                "title": post.title,
                "author": post.author,
                "pub_date": post.pub_date,
                "summary": post.summary,
                "body": post.body,
                # Historical models in migrations have no custom save(), so render here too.
                "body_html": render_markdown(post.body),
                "is_draft": False,
                "is_active": True,
            },
        )
        tags = [tag_model.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0] for name in post.tags]
        entry.tags.set(tags)
