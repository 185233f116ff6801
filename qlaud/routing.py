"""Websocket routes. Each app appends its consumers here."""

from __future__ import annotations

from django.urls import path

from qlaud.consumers import RequestFeedConsumer

websocket_urlpatterns: list = [
    path("ws/dashboard/requests/", RequestFeedConsumer.as_asgi(), name="ws_request_feed"),
]
