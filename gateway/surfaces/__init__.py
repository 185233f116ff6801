"""What clients speak: one module per API (messages, chat, responses), one stream loop (streaming), and the route
registry below, from which both gateway.asgi (the fast path) and gateway.urls (the site's URLconf) are built.

A *surface* is an API clients call; each answers in one dialect (its wire format and error shape, see
gateway.translate). Adding one: a module here, its rows in ROUTES, tests.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponseBase

from gateway.surfaces import chat, messages, responses
from gateway.translate import relay

View = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # a django.urls.path() pattern
    view: View
    dialect: str  # the error shape of anything escaping the view
    name: str  # for reverse()
    methods: tuple[str, ...] = ("POST",)  # any other method is a JSON 405 (the view's, or gateway.asgi's)

    @property
    def fast(self) -> bool:
        """Served by gateway.asgi without Django's request cycle (exact paths only: it looks them up in a dict)."""
        return "<" not in self.path


ROUTES = (
    Route("v1/messages", messages.messages, relay.ANTHROPIC, "gateway-messages"),
    Route("v1/messages/count_tokens", messages.count_tokens, relay.ANTHROPIC, "gateway-count-tokens"),
    Route("v1/chat/completions", chat.chat_completions, relay.OPENAI, "gateway-chat-completions"),
    Route("v1/responses", responses.responses, relay.OPENAI, "gateway-responses", ("GET", "POST")),
    Route("v1/responses/<str:response_id>", responses.retrieve, relay.OPENAI, "gateway-responses-retrieve", ("GET",)),
)
METHODS = {route.name: route.methods for route in ROUTES}


def fast_paths() -> dict[str, tuple[View, str]]:
    """path -> (view, dialect) for gateway.asgi."""
    return {"/" + route.path: (route.view, route.dialect) for route in ROUTES if route.fast}


__all__ = ["METHODS", "ROUTES", "Route", "View", "fast_paths"]
