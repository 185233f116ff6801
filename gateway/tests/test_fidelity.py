"""The fidelity suite against local fakes: a host that answers correctly passes, one whose streamed tool calls lack
their index fails the streaming tool cases, one that answers garbage fails what it answers; the results are stored
on the host and read by /v1/catalog and :nitro (the /models/<id> page: catalog/tests/test_pages.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from catalog import fidelity as records
from catalog import routing
from catalog.models import Host
from catalog.snapshot import build_snapshot
from gateway import fidelity
from gateway.tests import fake_conformant
from gateway.tests.conftest import E2E

pytestmark = E2E

ALL_PASS_OPENAI = {
    "tool_call": True,
    "streamed_tool_arguments": True,
    "parallel_tool_calls": True,
    "reasoning_with_tools": True,
    "json_mode": True,
    "cache_accounting": True,
    "count_tokens": None,  # OpenAI-compatible hosts have no count endpoint
}


@pytest.fixture(autouse=True)
def _fresh_fakes() -> None:
    fake_conformant.reset()


def _ok(host: Host) -> dict[str, bool | None]:
    host.refresh_from_db()
    return records.outcomes(host.fidelity)


def test_the_suite_names_the_cases_the_catalog_records() -> None:
    assert tuple(fidelity.CASES) == records.CASES


def test_an_openai_style_host_that_answers_correctly_passes_every_case(catalog: Any) -> None:
    good = catalog.provider("good", "openai", fake_conformant.CONFORM + "/v1")
    model = catalog.model("m-good", (good, "up-good"))
    call_command("fidelity", "--provider", "good")
    host = model.hosts.get()
    assert _ok(host) == ALL_PASS_OPENAI
    assert host.fidelity["checked"].startswith("20")


def test_a_claude_style_host_passes_cache_accounting_and_count_tokens_too(catalog: Any) -> None:
    claude = catalog.provider("claude-good", "anthropic", fake_conformant.CONFORM)
    model = catalog.model("m-claude", (claude, "claude-sonnet-4-5"))
    fidelity.check_hosts(provider="claude-good")
    assert _ok(model.hosts.get()) == {**ALL_PASS_OPENAI, "count_tokens": True}


def test_a_host_whose_streamed_tool_calls_lack_an_index_fails_the_streaming_tool_cases(catalog: Any) -> None:
    broken = catalog.provider("noindex", "openai", fake_conformant.NOINDEX + "/v1")
    model = catalog.model("m-noindex", (broken, "up-noindex"))
    results = fidelity.check_hosts(host_id=model.hosts.get().pk)
    ok = _ok(model.hosts.get())
    assert ok["streamed_tool_arguments"] is False and ok["parallel_tool_calls"] is False
    assert ok["tool_call"] is True and ok["json_mode"] is True and ok["cache_accounting"] is True
    (cases,) = results.values()
    assert "no index" in cases["streamed_tool_arguments"][1]
    assert not records.tools_passed(model.hosts.get().fidelity)


def test_a_host_that_answers_garbage_fails_every_case_it_answers(catalog: Any) -> None:
    junk = catalog.provider("junk", "openai", fake_conformant.GARBAGE + "/v1")
    model = catalog.model("m-junk", (junk, "up-junk"), caps=("tools",))
    fidelity.check_hosts(provider="junk")
    ok = _ok(model.hosts.get())
    assert ok.pop("reasoning_with_tools") is None and ok.pop("count_tokens") is None
    assert set(ok.values()) == {False}


def test_nitro_puts_the_host_that_passed_the_tool_cases_first_and_the_catalog_shows_why(catalog: Any, client) -> None:
    broken = catalog.provider("noindex", "openai", fake_conformant.NOINDEX + "/v1")
    good = catalog.provider("good", "openai", fake_conformant.CONFORM + "/v1")
    catalog.model("m-two", (broken, "up-noindex"), (good, "up-good"))  # the broken host has the better priority
    fidelity.check_hosts()
    snap = build_snapshot()
    needs = routing.Needs()
    nitro = routing.resolve(snap, "m-two:nitro", aliases={}, needs=needs, options=routing.RoutingOptions(), health={})
    plain = routing.resolve(snap, "m-two", aliases={}, needs=needs, options=routing.RoutingOptions(), health={})
    assert [h.provider.slug for h in nitro.hosts] == ["good", "noindex"]
    assert [h.provider.slug for h in plain.hosts] == ["noindex", "good"]
    (listed,) = [m for m in client.get("/v1/catalog").json()["data"] if m["id"] == "m-two"]
    shown = {h["provider"]["slug"]: h["fidelity"] for h in listed["hosts"]}
    assert shown["good"]["tools"] is True and shown["good"]["failed"] == []
    assert shown["noindex"]["tools"] is False
    assert set(shown["noindex"]["failed"]) == {"streamed_tool_arguments", "parallel_tool_calls"}


def test_a_host_never_checked_shows_no_fidelity_and_is_not_preferred_by_nitro(catalog: Any, client) -> None:
    plain = catalog.provider("plain", "openai", fake_conformant.CONFORM + "/v1")
    catalog.model("m-new", (plain, "up"))
    (listed,) = [m for m in client.get("/v1/catalog").json()["data"] if m["id"] == "m-new"]
    assert listed["hosts"][0]["fidelity"] is None
    assert not build_snapshot().hosts[listed["hosts"][0]["id"]].tools_passed
