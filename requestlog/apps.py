from __future__ import annotations

from django.apps import AppConfig


class RequestLogConfig(AppConfig):
    name = "requestlog"
    verbose_name = "request log"
