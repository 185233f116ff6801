from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The management API at /api/v1/: the top floor (imports accounts, wallet, catalog; nothing imports it)."""

    name = "api"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers the schema extensions)
