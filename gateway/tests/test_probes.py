"""Live-board probes against the local fake upstream: one tiny streaming request per configured provider's probe
host, recorded as a probe sample, paid by the house account (never a customer), stopped by the daily budget, and
off unless configured."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from catalog import health
from catalog.models import ProbeSample, Provider
from gateway import probes
from gateway.tests.conftest import E2E
from wallet import ledger
from wallet.models import LedgerEntry, Wallet

pytestmark = E2E


def probed(catalog: Any, slug: str, upstream: str = "fake-text", model: str | None = None) -> Any:
    """A provider on the fake upstream whose probe host serves `upstream`."""
    provider = catalog.provider(slug)
    host = catalog.model(model or f"m-{slug}", (provider, upstream)).hosts.get()
    Provider.objects.filter(pk=provider.pk).update(probe_host=host)
    return host


def streamed(fake: Any) -> list[Any]:
    return [r.body for r in fake.requests if r.path.endswith("/chat/completions")]


def house_wallet() -> Wallet:
    return Wallet.objects.get(org_id=ledger.house_org_id())


def test_probes_are_off_when_unconfigured_and_nothing_is_sent_or_scheduled(catalog: Any, fake: Any) -> None:
    probed(catalog, "deepseek")
    assert probes.run_probes() == {"probed": 0, "state": "off"}
    assert streamed(fake) == []
    assert not ProbeSample.objects.exists()
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert "probes" not in out.getvalue()


def test_a_run_probes_each_configured_provider_once_and_the_house_pays(
    catalog: Any, fake: Any, tenant: Any, probes_on: Any
) -> None:
    first = probed(catalog, "deepseek")
    second = probed(catalog, "groq")
    catalog.provider("mistral", api_key_env="QLAUD_TEST_MISSING_KEY")  # not configured: never probed
    before = tenant.balance

    result = probes.run_probes()

    assert result["probed"] == 2 and result["state"] == "on"
    bodies = streamed(fake)
    assert sorted(b["model"] for b in bodies) == ["fake-text", "fake-text"]
    assert all(b["stream"] is True and b["max_tokens"] <= 48 for b in bodies)
    samples = {s.host_id: s for s in ProbeSample.objects.all()}
    assert set(samples) == {first.id, second.id}
    for sample in samples.values():
        assert sample.ok is True and sample.error == ""
        assert sample.ttft_ms is not None and sample.ttft_ms > 0
        assert sample.tokens_per_s is not None and sample.tokens_per_s > 0
        assert sample.cost > 0
    house = house_wallet()
    entries = LedgerEntry.objects.filter(wallet=house)
    assert sorted(e.idempotency_key for e in entries) == sorted(f"probe:{s.probe_id}" for s in samples.values())
    assert {e.kind for e in entries} == {LedgerEntry.Kind.PROBE}
    assert house.balance == -sum(s.cost for s in samples.values()) == -result["spent"]
    assert tenant.balance == before  # no customer paid anything
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PROBE).exclude(wallet=house).exists()
    assert not house.org.memberships.exists() and not house.org.api_keys.exists()
    ledger.assert_ledger_invariant()


def test_a_second_run_in_the_same_interval_sends_nothing_and_charges_nothing(
    catalog: Any, fake: Any, probes_on: Any
) -> None:
    probed(catalog, "deepseek")
    probes.run_probes()
    again = probes.run_probes()
    assert again["probed"] == 0 and again["taken"] == 1
    assert len(streamed(fake)) == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PROBE).count() == 1


def test_charging_the_same_probe_twice_moves_money_once(transactional_db: Any) -> None:
    assert ledger.charge_probe(probe_id="7:1", amount=500, receipt={}) is True
    assert ledger.charge_probe(probe_id="7:1", amount=500, receipt={}) is False
    assert house_wallet().balance == -500
    assert ledger.probe_spend_since(timezone.now() - timedelta(minutes=1)) == 500


def test_the_daily_budget_stops_probes_once_spent(catalog: Any, fake: Any, probes_on: Any) -> None:
    host = probed(catalog, "deepseek")
    from catalog.snapshot import build_snapshot

    worst = probes.worst_cost(build_snapshot().hosts[host.id])
    probes_on.PROBE_DAILY_BUDGET_MICROS = worst + worst // 2  # room for one probe, not two
    start = timezone.now().replace(hour=1, minute=0)
    with time_machine.travel(start, tick=False):
        assert probes.run_probes()["probed"] == 1
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        stopped = probes.run_probes()
    assert stopped["probed"] == 0 and stopped["over_budget"] == 1
    assert len(streamed(fake)) == 1
    assert ledger.probe_spend_since(start - timedelta(hours=1)) <= probes_on.PROBE_DAILY_BUDGET_MICROS
    with time_machine.travel(start + timedelta(days=1), tick=False):  # a new UTC day, a new budget
        assert probes.run_probes()["probed"] == 1
    assert len(streamed(fake)) == 2


def test_a_provider_that_refuses_gives_a_failed_sample_that_costs_nothing(
    catalog: Any, fake: Any, probes_on: Any
) -> None:
    probed(catalog, "deepseek", upstream="fake-500")
    probes.run_probes()
    sample = ProbeSample.objects.get()
    assert sample.ok is False and "500" in sample.error
    assert sample.cost == 0 and sample.ttft_ms is None
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PROBE).exists()


def test_probes_feed_the_live_stats_apart_from_customer_figures(catalog: Any, fake: Any, probes_on: Any) -> None:
    host = probed(catalog, "deepseek")
    probes.run_probes()
    live = health.host_stats_sync([host.id])[host.id]
    assert live.probe_samples == 1 and live.probe_p50_ttft_ms is not None and live.probe_p50_tokens_per_s
    assert live.samples == 0 and live.p50_ttft_ms is None  # no customer figure was made up


def test_setup_schedules_schedules_the_probes_at_their_interval_when_configured(
    transactional_db: Any, probes_on: Any
) -> None:
    from django_celery_beat.models import PeriodicTask

    call_command("setup_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(task="gateway.tasks.run_probes")
    assert task.enabled and task.interval.every == 300
    probes_on.PROBE_INTERVAL_SECONDS = 0
    call_command("setup_schedules", stdout=StringIO())
    assert not PeriodicTask.objects.get(task="gateway.tasks.run_probes").enabled


def test_nitro_picks_the_faster_host_by_probe_figures_when_there_is_no_customer_traffic(
    live: Any, tenant: Any, fake: Any, catalog: Any, probes_on: Any
) -> None:
    from gateway.tests.conftest import settle_background
    from gateway.tests.e2e import openai_client

    slow, fast = catalog.provider("deepseek", path="/v1"), catalog.provider("groq", path="/v1")
    model = catalog.model("ds", (slow, "fake-slow"), (fast, "fake-text"))  # the slow host has the better priority
    for host in model.hosts.all():
        Provider.objects.filter(pk=host.provider_id).update(probe_host=host)
    client = openai_client(live, tenant.raw)

    def served(prompt: str) -> str:  # a new prompt each time: no sticky routing to a cached conversation
        raw = client.chat.completions.with_raw_response.create(
            model="ds:nitro", messages=[{"role": "system", "content": prompt}, {"role": "user", "content": prompt}]
        )
        settle_background()
        return raw.headers["x-qlaud-host"].split("/")[0]

    assert served("first") == "deepseek"  # nothing measured yet: priority order
    assert probes.run_probes()["probed"] == 2
    health.reset_memo()  # the gateway reuses computed stats for 15 s (health.STATS_TTL): skip the wait
    assert served("second") == "groq"  # one customer request is thin traffic: the probes rank the hosts
    tps = {s.provider: s.tokens_per_s for s in ProbeSample.objects.all()}
    assert tps["groq"] > tps["deepseek"]


@pytest.mark.parametrize("upstream", ["fake-text", "groq/fake-text", "mistral/fake-text"])
def test_the_house_pays_what_the_upstream_reported_in_any_providers_usage_shape(
    catalog: Any, fake: Any, probes_on: Any, upstream: str
) -> None:
    from gateway.tests.fake_upstream import COMPLETION_TOKENS, PROMPT_TOKENS

    probed(catalog, "groq", upstream=upstream)
    probes.run_probes()
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.PROBE)
    usage = entry.receipt["usage"]
    assert entry.receipt["estimated"] is False  # the upstream's own count, not a guess from the text
    assert (usage["input"] + usage["cache_read"], usage["output"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert -entry.amount == ProbeSample.objects.get().cost > 0
