"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import ctypes
import os

from django.core.asgi import get_asgi_application


def _few_malloc_arenas() -> None:
    """glibc gives every thread that allocates its own malloc arena; the DB pool's and the
    clients' threads each kept megabytes of free memory in theirs. Two arenas serve them all."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


_few_malloc_arenas()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qlaud.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from gateway.asgi import freeze_heap, lifespan, with_fast_path  # noqa: E402
from qlaud.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": with_fast_path(django_asgi_app),  # the API's own paths skip the site's middleware
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan,  # on shutdown: write the worker's pending charges and give its leases back
    }
)

freeze_heap()  # Django, the catalog code and the gateway are loaded: keep them out of every GC pass
