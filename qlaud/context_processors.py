from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from lib.site_url import site_url


def site(request: HttpRequest) -> dict:
    return {
        "SITE_URL": site_url(request),
        "MARKUP_PERCENT": settings.QLAUD_MARKUP_BPS / 100,
        "TOPUP_MIN_USD": settings.TOPUP_MIN_USD,
        "CONTACT_EMAIL": settings.CONTACT_EMAIL,
        "SECURITY_EMAIL": settings.SECURITY_EMAIL,
        "current_org": getattr(request, "org", None),
    }
