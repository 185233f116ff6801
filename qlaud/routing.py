"""Websocket routes. Each app appends its consumers here."""

from __future__ import annotations

from django.urls import path  # noqa: F401

websocket_urlpatterns: list = []
