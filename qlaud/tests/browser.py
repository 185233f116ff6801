"""Browser-test plumbing: qlaud under uvicorn in a thread, and Debian's Chromium driven by Playwright.

Chromium is the system one (/usr/bin/chromium, `apt-get install chromium`); Playwright never
downloads a browser here. Tests using these fixtures are marked `browser` and skip with a reason
when Chromium is absent.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from gateway.tests.conftest import Catalog
from gateway.tests.fake_upstream import FakeUpstream

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"
)


def site_application() -> Any:
    """qlaud's ASGI app as qlaud/asgi.py composes it, built now so it sees the test's settings."""
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.core.asgi import get_asgi_application

    from qlaud.routing import websocket_urlpatterns

    websocket = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    return ProtocolTypeRouter({"http": get_asgi_application(), "websocket": websocket})


class SiteServer:
    """uvicorn on 127.0.0.1:<ephemeral> in a daemon thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan="off", log_level="warning", loop="asyncio", ws="auto")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True, name="site-uvicorn")

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            try:
                from gateway import outbound, records

                await records.aflush()
                await outbound.aclose()
            except ImportError:
                pass

    def start(self) -> SiteServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def run(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's event loop (where its in-memory channel layer lives)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def site(settings, transactional_db, monkeypatch) -> Iterator[SiteServer]:
    """The whole site over real HTTP and websockets, static files served from the source tree."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test thread runs Playwright's loop
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    server = SiteServer(site_application()).start()
    settings.SITE_URL = server.url
    settings.CSRF_TRUSTED_ORIGINS = [server.url]
    yield server
    server.stop()


@dataclass
class Browser:
    page: Any
    base_url: str
    console_errors: list[str] = field(default_factory=list)

    def sign_in(self, email: str, password: str = "correct horse battery staple") -> None:
        self.go("/accounts/login/")
        self.page.fill("input[name=login]", email)
        self.page.fill("input[name=password]", password)
        self.page.locator("main form button[type=submit]").first.click()
        self.page.wait_for_load_state("networkidle")

    def sign_up(self, email: str, password: str = "correct horse battery staple") -> str:
        """Sign up and open the link of the verification e-mail (which signs in); returns that e-mail's text."""
        self.go("/accounts/signup/")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password1]", password)
        self.page.fill("input[name=password2]", password)
        self.page.locator("form button[type=submit]").last.click()
        self.page.wait_for_load_state("networkidle")
        body = mail.outbox[-1].body
        self.go(re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", body).group(1))
        self.page.locator("main form button[type=submit]").first.click()
        self.page.wait_for_load_state("networkidle")
        return body

    def go(self, path: str) -> Any:
        return self.page.goto(self.base_url + path, wait_until="networkidle")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _describe(message: Any) -> str:
    return f"{message.text} ({message.location.get('url')})"


@pytest.fixture
def browser(site: SiteServer) -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
        b = Browser(context.new_page(), site.url)
        b.page.on("console", lambda m: b.console_errors.append(_describe(m)) if m.type == "error" else None)
        b.page.on("pageerror", lambda exc: b.console_errors.append(str(exc)))
        try:
            yield b
        finally:
            context.close()
            chromium.close()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """The gateway's local fake upstream (no network), for journeys that make real requests."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def served_model(upstream, transactional_db) -> str:
    """One catalog model served by the fake upstream."""
    catalog = Catalog(upstream.url)
    catalog.model("journey-text", (catalog.provider("deepseek"), "fake-text"))
    return "journey-text"
