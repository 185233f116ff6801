"""Gateway test fixtures: the fake upstream, a seeded catalog pointing at it, a funded tenant,
and qlaud itself under uvicorn (a thread with its own loop, so streams are real ASGI streams)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from gateway.tests.fake_upstream import FakeUpstream


def _sqlite_test_db_in_a_file() -> None:
    """Threads of the live server must share the test database: SQLite's shared-cache in-memory
    database answers concurrent writers with "table is locked", a WAL file database does not."""
    from django.db import connections

    db = connections["default"].settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3" and not db.get("TEST", {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = os.path.join(tempfile.gettempdir(), f"qlaud-test-{os.getpid()}.sqlite3")


_sqlite_test_db_in_a_file()

# End-to-end tests run against a live server, so they need real transactions; flushing only the
# apps they touch (not dj-stripe's many tables) keeps each test's teardown fast on PostgreSQL.
E2E_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "accounts",
    "requestlog",
    "wallet",
    "catalog",
    "gateway",
]
E2E = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, available_apps=E2E_APPS)]

# Upstream prices of every seeded host (micro-dollars per million tokens).
PRICES = {"input": 1_000_000, "output": 4_000_000, "cache_read": 100_000, "cache_write": 1_250_000}
CREDIT = 10_000_000  # $10


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream.reset()
    yield fake_upstream
    fake_upstream.reset()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Personas get real passwords; hashing them slowly only slows these API tests down."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_gateway_state(own_cache_namespace: None) -> Iterator[None]:
    """No snapshot, key cache, circuit or rate-limit counter survives a test: each test caches under
    its own key prefix, and the stores below are made again for it."""
    from catalog import aliases, byok, health, snapshot, sticky
    from gateway import ratelimit

    def reset() -> None:
        snapshot.reset()
        aliases.reset()
        byok.reset()
        health.reset()
        sticky.reset()
        ratelimit.reset()

    reset()
    yield
    reset()


@pytest.fixture
def probes_on(settings: Any) -> Any:
    """Live-board probes configured (gateway/probes.py): every 5 minutes, $1 a day."""
    settings.PROBE_INTERVAL_SECONDS = 300
    settings.PROBE_DAILY_BUDGET_MICROS = 1_000_000
    return settings


@dataclass
class Catalog:
    fake_url: str

    def provider(self, slug: str, protocol: str = "openai", path: str = "", **kw: Any) -> Any:
        from catalog.models import Provider

        base = {"name": slug.title(), "protocol": protocol, "base_url": self.fake_url + path, "api_key_env": ""}
        provider, _ = Provider.objects.get_or_create(slug=slug, defaults={**base, **kw})
        return provider

    def model(self, public_id: str, *hosts: tuple[Any, str], caps: tuple[str, ...] = ("tools", "reasoning")) -> Any:
        """A model served by `hosts`, each (provider, upstream model id), tried in the given order."""
        from catalog.models import Host, Model, PriceVersion

        model = Model.objects.create(
            public_id=public_id,
            name=public_id,
            context_length=128_000,
            capabilities=list(caps),
            created=date(2025, 1, 1),
        )
        for priority, (provider, upstream) in enumerate(hosts):
            host = Host.objects.create(model=model, provider=provider, upstream_model=upstream, priority=priority)
            host.price = PriceVersion.objects.create(host=host, **PRICES)
            host.save()
        return model

    def alias(self, org: Any, alias: str, model: Any) -> None:
        from catalog.models import ModelAlias

        ModelAlias.objects.create(org=org, alias=alias, model=model)


@pytest.fixture
def catalog(fake: FakeUpstream, transactional_db: None) -> Catalog:
    return Catalog(fake.url)


@dataclass
class Tenant:
    org: Any
    key: Any
    raw: str

    @property
    def balance(self) -> int:
        from wallet.models import Wallet

        return Wallet.objects.get(org=self.org).balance


@pytest.fixture
def tenant(org_a: Any, alice: Any, transactional_db: None) -> Tenant:
    from accounts.keys import mint_key
    from wallet.ledger import adjust

    key, raw = mint_key(org_a, alice, "test key")
    adjust(org_id=org_a.pk, amount=CREDIT, reason="test credit", idempotency_key=f"test-credit-{org_a.pk}")
    return Tenant(org_a, key, raw)


class LiveServer:
    """qlaud's ASGI app under uvicorn in a background thread, on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        import uvicorn

        from qlaud.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(application, lifespan="off", log_level="warning", loop="asyncio", http="httptools")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True, name="qlaud-uvicorn")

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from gateway import outbound, pipeline, records
        from wallet import leases

        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            await asyncio.gather(*list(pipeline._background), return_exceptions=True)
            await records.aflush()
            await leases.flush()
            await outbound.aclose()

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def _live_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    server = LiveServer().start()
    yield server
    server.stop()
    with django_db_blocker.unblock():
        _close_server_connections()


def _close_server_connections() -> None:
    """The server's worker threads keep their database connections; end them so the test
    database can be dropped (PostgreSQL refuses while other sessions use it)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def live(_live_server: LiveServer, transactional_db: None) -> Iterator[LiveServer]:
    yield _live_server
    settle_background()


def settle_background(timeout: float = 10.0) -> None:
    """Wait until the server finished its bookkeeping (settlements, RequestLog rows)."""
    from gateway import records
    from wallet import leases

    deadline = time.monotonic() + timeout
    time.sleep(0.02)
    while time.monotonic() < deadline:
        from gateway import pipeline

        if not pipeline._background and records.wait_idle(0.05) and leases.wait_idle(0.05):
            return
        time.sleep(0.02)


def wait_for_log(request_id: str | None = None, count: int = 1, timeout: float = 10.0) -> list[Any]:
    """RequestLog rows, once the background writer wrote them."""
    from requestlog.models import RequestLog

    deadline = time.monotonic() + timeout
    while True:
        settle_background(timeout)
        rows = RequestLog.objects.order_by("id")
        if request_id:
            rows = rows.filter(request_id=request_id)
        found = list(rows)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def fuzz_world(catalog: Any, tenant: Any) -> Any:
    """A tenant and two models on the fake upstream: `text` (OpenAI protocol) and `claude-text` (Anthropic)."""
    ds = catalog.provider("deepseek")
    an = catalog.provider("anthropic", "anthropic")
    catalog.model("text", (ds, "fake-text"), caps=("tools", "reasoning", "vision"))
    catalog.model("claude-text", (an, "fake-text"), caps=("tools", "reasoning", "vision"))
    return tenant


@pytest.fixture
def asgi_driver(fuzz_world: Any) -> Iterator[Any]:
    """qlaud's ASGI app in-process (gateway.tests.fuzz.Driver), for a fuzz_world tenant."""
    from gateway.tests.fuzz import Driver

    d = Driver()
    yield d
    d.close()
