"""Sticky routing end to end: the turns of one conversation go back to the host that holds its implicit cache."""

from __future__ import annotations

from typing import Any

from catalog.models import Host
from gateway.tests.conftest import E2E, settle_background
from gateway.tests.e2e import openai_client

pytestmark = E2E


def _turn(client: Any, system: str, turns: int, **extra: Any) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "fix the bug"}]
    for i in range(turns):
        messages += [{"role": "assistant", "content": f"step {i}"}, {"role": "user", "content": f"result {i}"}]
    raw = client.chat.completions.with_raw_response.create(model="ds", messages=messages, **extra)
    settle_background()
    return raw.headers["x-qlaud-host"].split("/")[0]


def _two_hosts(catalog: Any) -> Any:
    return catalog.model("ds", (catalog.provider("deepseek", path="/v1"), "fake-text"),
                         (catalog.provider("groq", path="/v1"), "fake-text"))  # fmt: skip


def test_a_conversation_stays_on_its_host_after_the_route_order_changes(live, tenant, fake, catalog):
    model = _two_hosts(catalog)
    client = openai_client(live, tenant.raw)
    assert _turn(client, "agent A", 0) == "deepseek"
    Host.objects.filter(model=model, provider__slug="deepseek").update(priority=5)
    Host.objects.get(model=model, provider__slug="groq").save()  # bump the catalog version: groq is first now
    assert _turn(client, "agent B", 0) == "groq"  # a new conversation follows the new order
    assert _turn(client, "agent A", 1) == "deepseek"  # the old one returns to the host that holds its cache
    assert _turn(client, "agent A", 2) == "deepseek"


def test_a_conversation_leaves_its_host_when_that_host_fails(live, tenant, fake, catalog):
    model = _two_hosts(catalog)
    client = openai_client(live, tenant.raw)
    assert _turn(client, "agent A", 0) == "deepseek"
    Host.objects.filter(model=model, provider__slug="deepseek").update(upstream_model="fake-503")
    Host.objects.get(model=model, provider__slug="groq").save()
    assert _turn(client, "agent A", 1) == "groq"  # failover, and the cache now lives on groq
    Host.objects.filter(model=model, provider__slug="deepseek").update(upstream_model="fake-text")
    Host.objects.get(model=model, provider__slug="groq").save()
    assert _turn(client, "agent A", 2) == "groq"


def test_a_client_that_orders_providers_itself_is_not_overruled(live, tenant, fake, catalog):
    _two_hosts(catalog)
    client = openai_client(live, tenant.raw)
    assert _turn(client, "agent A", 0) == "deepseek"
    assert _turn(client, "agent A", 1, extra_body={"provider": {"order": ["groq"]}}) == "groq"
