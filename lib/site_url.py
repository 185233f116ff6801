"""The site's own address for links, snippets and e-mails.

settings.SITE_URL is the configured public address (by default http://HOST:PORT, what `make run`
serves). While it is that default, a page rendered in a request uses the request's own host, if the
host is allowed (ALLOWED_HOSTS), so a page reached as localhost:18500 names localhost:18500. A
SITE_URL set on purpose always wins: behind a proxy the request's host may be an internal name.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest


def site_url(request: HttpRequest | None = None) -> str:
    configured = settings.SITE_URL
    if request is None or configured != getattr(settings, "SITE_URL_DEFAULT", configured):
        return configured
    try:
        host = request.get_host()  # validated against ALLOWED_HOSTS
    except DisallowedHost:
        return configured
    return f"{request.scheme}://{host}"
