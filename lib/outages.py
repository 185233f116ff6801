"""What "a backing service is down" looks like to the code: the exceptions of the database and Redis clients when
they cannot reach their server. Callers answer those with a 503 and Retry-After (the client may retry), not a 500."""

from __future__ import annotations

import redis.exceptions
from django.db import InterfaceError, OperationalError

__all__ = ["RETRY_AFTER_SECONDS", "UNAVAILABLE", "unavailable"]

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
RETRY_AFTER_SECONDS = 5


def unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, UNAVAILABLE)
