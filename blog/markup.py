"""Markdown to safe HTML: one pipeline for blog posts and any Markdown page.

Authors are trusted staff, but the output is still sanitised with nh3 so a pasted snippet can never
run script on the site. Shortcodes (`[[name arg]]`) are expanded after sanitising, by server code
only, so their HTML is ours and never the author's.
"""

from __future__ import annotations

import markdown
import nh3

EXTENSIONS = ["fenced_code", "tables", "toc", "sane_lists", "smarty"]
ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "table", "thead", "tbody"}
ALLOWED_TAGS |= {"tr", "th", "td", "hr", "img", "span", "div", "sup", "sub", "del"}
ALLOWED_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "th": {"align", "style"},
    "td": {"align", "style"},
    "h1": {"id"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
}


def render_markdown(text: str) -> str:
    """Markdown source -> sanitised HTML (links get rel=noopener noreferrer)."""
    html = markdown.markdown(text, extensions=EXTENSIONS, output_format="html")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener noreferrer")
