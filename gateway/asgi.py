"""An early-return path for the API: gateway requests skip the site's middleware.

The site's middleware (sessions, CSRF, auth, messages, allauth, htmx, the org middleware) is
sync and exists for pages; on an async view each sync middleware costs a thread hop. Requests
to the gateway's own paths go to a second Django ASGI handler with no middleware at all: the
views authenticate with API keys and answer every error themselves.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

# /v1/responses too: through the sync middleware its view ran under async_to_sync, and the bookkeeping tasks it
# starts (settle, record, host health) inherited a thread executor that is gone once the response is returned.
PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/v1/responses"})


class BareASGIHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # Private BaseHandler methods (what Django's own load_middleware wraps); django-stubs omits them.
        get_response = self._get_response_async if is_async else self._get_response  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(get_response)


def with_fast_path(site: Any) -> Any:
    """Wrap the site's ASGI app so the gateway's paths bypass its middleware."""
    bare = BareASGIHandler()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS:
            await bare(scope, receive, send)
        else:
            await site(scope, receive, send)

    return app
