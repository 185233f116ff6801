"""The live board is a live benchmark: after one probe run against the local fake upstream, a fresh deployment's home
board, /status, /v1/status and /v1/catalog?include_latency=true show the probe figures beside the customers'."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from catalog.models import ProbeSample
from gateway import probes
from gateway.tests.test_probes import probed
from qlaud import stats
from wallet import ledger

# The site's pages need every app installed (template tags of qlaud/): no available_apps here.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_fresh_deployment_shows_probe_figures_beside_customer_ones_after_one_run(
    catalog: Any, fake: Any, probes_on: Any, client: Any
) -> None:
    from catalog import api

    host = probed(catalog, "deepseek")
    assert "No traffic measured in the last hour" in client.get("/partials/ttft-board/").content.decode()

    probes.run_probes()
    sample = ProbeSample.objects.get()
    cache.delete(stats.CACHE_KEY)  # the board's figures are shared for 5 s (CACHE_SECONDS): skip the wait

    board = client.get("/").content.decode()
    row = board[board.index('id="ttft-board"') :]
    assert "Deepseek" in row and "No traffic measured" not in row
    assert "p50 TTFT, customers" in row and "p50 TTFT, probes" in row
    status = client.get("/status").content.decode()
    assert "p50 TTFT, probes" in status and "Deepseek" in status
    provider = next(p for p in client.get("/v1/status").json()["providers"] if p["slug"] == "deepseek")
    assert provider["probes_1h"] == 1 and provider["probe_p50_ttft_ms"] == pytest.approx(sample.ttft_ms)
    assert provider["p50_ttft_ms"] is None and provider["requests_1h"] == 0  # customers: none, and said so
    api._bytes_cache.clear()
    body = client.get("/v1/catalog?include_latency=true").json()
    hosts = [h for m in body["data"] for h in m["hosts"] if h["id"] == host.id]
    latency = hosts[0]["latency"]
    assert latency["samples_30m"] == 0 and latency["p50_ttft_ms"] is None
    assert latency["probes"]["samples_30m"] == 1 and latency["probes"]["p50_ttft_ms"] > 0
    assert latency["probes"]["p50_tokens_per_s"] > 0


def test_the_board_ranks_providers_by_their_probes_and_keeps_customer_figures_beside_them(
    catalog: Any, fake: Any, probes_on: Any, client: Any
) -> None:
    fast = probed(catalog, "groq")
    slow = probed(catalog, "deepseek")
    now = timezone.now()
    for host, ttft in ((fast, 150.0), (slow, 900.0)):
        ProbeSample.objects.create(
            probe_id=f"{host.id}:x", host=host, provider=host.provider.slug, created=now, ok=True, ttft_ms=ttft
        )
    from requestlog.models import RequestLog

    RequestLog.objects.create(org_id=ledger.house_org_id(), request_id="req_c", provider="deepseek", ttft_ms=80.0)
    html = client.get("/partials/ttft-board/").content.decode()
    assert html.index("Groq") < html.index("Deepseek")  # probes rank: 150 ms before 900 ms
    assert "80 ms" in html and "150 ms" in html and "900 ms" in html
