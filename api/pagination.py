from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    """Opaque cursors (`next` / `previous` URLs): stable while rows are added, unlike page numbers."""

    ordering = ("-created", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class DaysNewestFirst(NewestFirst):
    ordering = ("-period_start", "-id")
