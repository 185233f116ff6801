from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections

from catalog import byok, health, pages, snapshot, version
from catalog.models import Host, Model, PriceVersion, Provider


@pytest.fixture(autouse=True)
def _fresh_catalog_state(own_cache_namespace) -> Iterator[None]:
    """Each test gets its own cache namespace (versions, health, circuits), no process snapshot and no org's keys."""
    snapshot.reset()
    health.reset_memo()
    pages.reset()
    byok.reset()
    yield
    cache.delete(version.VERSION_KEY)
    snapshot.reset()
    health.reset()
    byok.reset()


@pytest.fixture
async def close_thread_connections() -> AsyncIterator[None]:
    """Async tests run ORM code in asgiref's thread: close its connection so the test DB can be dropped."""
    yield
    await sync_to_async(connections.close_all)()


def make_provider(slug: str, **kw) -> Provider:
    defaults = {"name": slug.title(), "protocol": "openai", "base_url": f"https://{slug}.test/v1"}
    return Provider.objects.create(slug=slug, **{**defaults, **kw})


def make_model(public_id: str, caps: tuple[str, ...] = ("tools",), **kw) -> Model:
    defaults = {"name": public_id, "context_length": 128000, "capabilities": list(caps), "created": date(2025, 1, 1)}
    return Model.objects.create(public_id=public_id, **{**defaults, **kw})


def make_host(model: Model, provider: Provider, inp: int = 1_000_000, out: int = 2_000_000, **kw) -> Host:
    host = Host.objects.create(model=model, provider=provider, upstream_model=kw.pop("upstream", model.public_id), **kw)
    host.price = PriceVersion.objects.create(host=host, input=inp, output=out)
    host.save()
    return host


@pytest.fixture
def seeded(db):
    from catalog import loader

    return loader.load(loader.read())
