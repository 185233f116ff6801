"""The prompt-cache replay: a recorded 20-turn agent conversation through qlaud to a Claude upstream that does
Anthropic's cache accounting, from the openai SDK, with and without client breakpoints, auto-breakpoints on and off.

`pytest -s gateway/tests/test_cache_replay.py` prints the table docs/prompt-caching.md quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from accounts.models import Membership
from accounts.orgs import set_auto_cache
from catalog.models import Host, Model, PriceVersion
from gateway.tests import cache_replay, fake_claude_cache
from gateway.tests.conftest import E2E, wait_for_log
from gateway.tests.e2e import openai_client

pytestmark = E2E

# Claude Sonnet 4.5's list prices, micro-dollars per million tokens.
SONNET = {"input": 3_000_000, "output": 15_000_000, "cache_read": 300_000, "cache_write": 3_750_000}


@dataclass(frozen=True)
class Run:
    client_marks: bool
    auto: bool
    fresh_input: int
    cache_read: int
    cache_write: int
    cost: int  # micro-dollars charged to the customer

    @property
    def label(self) -> str:
        return f"client breakpoints {'yes' if self.client_marks else 'no '} | auto {'on ' if self.auto else 'off'}"


@pytest.fixture
def claude(catalog: Any) -> Any:
    provider = catalog.provider("anthropic-cachey", protocol="anthropic", path="/cachey")
    model = Model.objects.create(
        public_id=cache_replay.MODEL, name="Claude Sonnet 4.5", context_length=200_000,
        capabilities=["tools"], created=date(2025, 9, 29),
    )  # fmt: skip
    host = Host.objects.create(model=model, provider=provider, upstream_model="claude-sonnet-4-5")
    host.price = PriceVersion.objects.create(host=host, **SONNET)
    host.save()
    return host


def _replay(live: Any, tenant: Any, *, client_marks: bool, auto: bool) -> Run:
    set_auto_cache(tenant.org, auto, by=Membership.objects.get(org=tenant.org, role="owner"))
    fake_claude_cache.ACCOUNTANT.reset()
    before = len(wait_for_log(count=0))
    client = openai_client(live, tenant.raw)
    for body in cache_replay.turns(client_marks=client_marks):
        answer = client.chat.completions.create(**body)
        assert (answer.choices[0].message.content or "").startswith("Step")
    rows = wait_for_log(count=before + cache_replay.TURNS)[before:]
    assert [(r.status, r.error_type) for r in rows] == [(200, "")] * cache_replay.TURNS
    return Run(
        client_marks, auto, sum(r.input_tokens for r in rows), sum(r.cache_read_tokens for r in rows),
        sum(r.cache_write_tokens for r in rows), sum(r.cost for r in rows),
    )  # fmt: skip


def _report(runs: list[Run]) -> None:
    base = runs[0].cost
    print("\n20-turn agent replay, Claude Sonnet 4.5 prices (customer cost includes qlaud's markup)")
    print("mode                               | fresh input | cache read | cache write | cost      | saved")
    for r in runs:
        saved = 100 * (base - r.cost) / base
        print(
            f"{r.label} | {r.fresh_input:11,} | {r.cache_read:10,} | {r.cache_write:11,} "
            f"| ${r.cost / 1e6:8.4f} | {saved:4.1f}%"
        )


def test_breakpoints_turn_a_growing_agent_prompt_into_cache_reads_and_cut_the_bill(live, tenant, fake, claude):
    runs = [
        _replay(live, tenant, client_marks=False, auto=False),
        _replay(live, tenant, client_marks=False, auto=True),
        _replay(live, tenant, client_marks=True, auto=False),
        _replay(live, tenant, client_marks=True, auto=True),
    ]
    _report(runs)
    none, auto, marked, marked_auto = runs
    assert none.cache_read == 0 and none.cache_write == 0  # no breakpoint, no cache on Claude
    total = none.fresh_input
    for run in (auto, marked):
        assert run.fresh_input + run.cache_read + run.cache_write == total  # the same prompts, split differently
        assert run.cache_read > 0.8 * total  # most of every turn's prompt is the previous turn's prefix
        assert run.cost < 0.45 * none.cost
    assert marked_auto == Run(True, True, marked.fresh_input, marked.cache_read, marked.cache_write, marked.cost)


def test_client_breakpoints_reach_the_claude_upstream_within_the_limit_of_four(live, tenant, fake, claude):
    body = list(cache_replay.turns(client_marks=True))[5]
    body["tools"][-1]["cache_control"] = {"type": "ephemeral"}
    body["messages"][1]["content"] = [{"type": "text", "text": "task", "cache_control": {"type": "ephemeral"}}]
    openai_client(live, tenant.raw).chat.completions.create(**body)
    (sent,) = fake.bodies(fake_claude_cache.PATH)
    marked = [b for b in fake_claude_cache.prompt_blocks(sent) if fake_claude_cache._marked(b)]
    assert len(marked) == 4
    assert "tool" not in marked[0]  # the earliest (the tools' end) was dropped
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
