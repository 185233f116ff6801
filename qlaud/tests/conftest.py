from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Stats and the catalog snapshot are cached: every test starts from nothing.

    Only our own key is deleted: cache.clear() would flush the shared Redis database under
    other test runs.
    """
    from catalog import snapshot
    from qlaud.stats import CACHE_KEY

    cache.delete(CACHE_KEY)
    snapshot.reset()
    yield
    cache.delete(CACHE_KEY)
    snapshot.reset()


@pytest.fixture
def seeded_catalog(db):
    """The real seed catalog (catalog/data/catalog.yaml) loaded into the test database."""
    from catalog import loader

    loader.load(loader.read())


def make_log(org, *, provider: str = "deepseek", model: str = "deepseek-v3.2", ago: timedelta = timedelta(0), **kw):
    from requestlog.models import RequestLog

    values = {
        "request_id": f"req_{next(_ids)}",
        "created": timezone.now() - ago,
        "surface": "chat",
        "requested_model": model,
        "model": model,
        "provider": provider,
        "status": 200,
        "input_tokens": 1000,
        "output_tokens": 100,
        "cost": 5_000,
        "ttft_ms": 300.0,
        "total_ms": 900.0,
    }
    return RequestLog.objects.create(org=org, **{**values, **kw})
