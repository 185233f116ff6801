from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "SITE_URL": settings.SITE_URL,
        "MARKUP_PERCENT": settings.QLAUD_MARKUP_BPS / 100,
        "current_org": getattr(request, "org", None),
    }
