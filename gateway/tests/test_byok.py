"""Bring your own key: an org's own provider key (catalog.byok) is what the gateway sends upstream for that org's
requests to that provider; such a request is charged only the BYOK fee; a refused own key fails over to qlaud's key
("mine_first") or is answered clearly ("only_mine"); another org's requests never use it."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import anthropic
import httpx
import openai
import pytest
from django.conf import settings

from accounts.keys import mint_key
from catalog import byok, crypto
from catalog.models import OrgCredential
from gateway import pipeline
from gateway.tests.conftest import E2E, PRICES
from gateway.tests.e2e import anthropic_client, billed, fake_usage, openai_client
from gateway.tests.fake_upstream import REFUSED_KEY
from wallet.ledger import adjust
from wallet.models import Hold, LedgerEntry
from wallet.money import Prices, byok_cost, cost, estimate_hold, exact_total, rate_to_bps

pytestmark = E2E

HI = [{"role": "user", "content": "hi"}]
QLAUD_KEY = "sk-qlaud-operator-0000"
ORG_KEY = "sk-alice-own-key-1234"


@pytest.fixture
def world(catalog: Any, tenant: Any) -> Any:
    operator = {"api_key_encrypted": crypto.encrypt(QLAUD_KEY)}
    openai_p = catalog.provider("openai", "openai", "/v1", **operator)
    anthropic_p = catalog.provider("anthropic", "anthropic", **operator)
    catalog.model("on-openai", (openai_p, "fake-text"))
    catalog.model("on-anthropic", (anthropic_p, "fake-text"))
    tenant.openai, tenant.anthropic = openai_p, anthropic_p
    return tenant


def own_key(org: Any, provider: Any, secret: str, mode: str = byok.MINE_FIRST) -> OrgCredential:
    """Stored as save_credential stores it, without its upstream check (the refused key would fail it)."""
    return OrgCredential.objects.create(
        org=org, provider=provider, secret_encrypted=crypto.encrypt(secret), last4=secret[-4:], mode=mode
    )


def sent_keys(fake: Any) -> list[str]:
    return [r.headers.get("Authorization") or r.headers.get("x-api-key", "") for r in fake.requests]


def byok_fee() -> int:
    fee_bps = rate_to_bps(settings.BYOK_FEE_RATE)
    return byok_cost(fake_usage(), Prices(**PRICES), settings.QLAUD_MARKUP_BPS, fee_bps).total


def test_the_byok_fee_is_five_percent_of_the_qlaud_price_rounded_up_once():
    usage, prices = fake_usage(), Prices(**PRICES)
    full = cost(usage, prices, settings.QLAUD_MARKUP_BPS).total
    fee = byok_cost(usage, prices, settings.QLAUD_MARKUP_BPS, rate_to_bps("0.05"))
    assert fee.upstream == 0
    assert fee.total == math.ceil(exact_total(usage, prices, settings.QLAUD_MARKUP_BPS) * Fraction(5, 100))
    assert 0 < fee.total < full and fee.markup == fee.total
    with pytest.raises(TypeError):
        rate_to_bps(0.05)  # type: ignore[arg-type]


def test_saving_a_key_checks_it_upstream_and_keeps_only_its_last_four(world, fake):
    cred = byok.save_credential(world.org, world.openai, ORG_KEY)
    assert cred.last4 == "1234" and ORG_KEY not in cred.secret_encrypted
    assert fake.requests[-1].path == "/v1/models"
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {ORG_KEY}"
    with pytest.raises(byok.CredentialRefused):
        byok.save_credential(world.org, world.anthropic, f"sk-{REFUSED_KEY}-0000")
    assert not OrgCredential.objects.filter(provider=world.anthropic).exists()


def test_the_orgs_request_reaches_the_upstream_with_the_orgs_key_and_pays_only_the_byok_fee(live, world, fake):
    own_key(world.org, world.openai, ORG_KEY)
    before = world.balance
    openai_client(live, world.raw).chat.completions.create(model="on-openai", messages=HI)
    assert sent_keys(fake) == [f"Bearer {ORG_KEY}"]
    (row,) = billed()
    assert row.byok is True and row.upstream_cost == 0
    assert row.cost == byok_fee()
    assert before - world.balance == byok_fee()
    entry = LedgerEntry.objects.get(reference=row.request_id, kind=LedgerEntry.Kind.USAGE)
    assert entry.amount == -byok_fee()


def test_an_anthropic_stream_on_the_orgs_key_is_marked_byok_on_its_receipt(live, world, fake):
    own_key(world.org, world.anthropic, ORG_KEY)
    with anthropic_client(live, world.raw).messages.stream(model="on-anthropic", max_tokens=64, messages=HI) as s:
        s.get_final_message()
    assert sent_keys(fake) == [ORG_KEY]
    (row,) = billed()
    assert row.byok and row.cost == byok_fee()
    receipt = live_get(live, world.raw, f"/v1/generation?id={row.request_id}")
    assert receipt["data"]["byok"] is True
    assert receipt["data"]["upstream_cost_micros"] == 0 and receipt["data"]["charged_micros"] == byok_fee()


def live_get(live: Any, raw: str, path: str) -> dict[str, Any]:
    return httpx.get(live.url + path, headers={"authorization": f"Bearer {raw}"}).json()


def test_a_refused_own_key_fails_over_to_qlauds_key_when_the_org_allowed_it(live, world, fake):
    cred = own_key(world.org, world.openai, f"sk-{REFUSED_KEY}-9999")
    openai_client(live, world.raw).chat.completions.create(model="on-openai", messages=HI)
    assert sent_keys(fake) == [f"Bearer sk-{REFUSED_KEY}-9999", f"Bearer {QLAUD_KEY}"]
    (row,) = billed()
    assert row.byok is False and row.upstream_cost > 0
    cred.refresh_from_db()
    assert cred.last_error.startswith("401") and cred.last_error_at is not None


def test_a_refused_own_key_is_answered_clearly_when_the_org_uses_only_its_own(live, world, fake):
    own_key(world.org, world.openai, f"sk-{REFUSED_KEY}-9999", byok.ONLY_MINE)
    own_key(world.org, world.anthropic, f"sk-{REFUSED_KEY}-8888", byok.ONLY_MINE)
    with pytest.raises(openai.AuthenticationError) as chat_err:
        openai_client(live, world.raw).chat.completions.create(model="on-openai", messages=HI)
    assert "own" in chat_err.value.message and "key" in chat_err.value.message
    with pytest.raises(anthropic.AuthenticationError) as msg_err:
        anthropic_client(live, world.raw).messages.create(model="on-anthropic", max_tokens=64, messages=HI)
    assert "your organization's own anthropic key" in str(msg_err.value)
    assert QLAUD_KEY not in " ".join(sent_keys(fake))
    rows = billed(2)
    assert all(r.cost == 0 for r in rows)


def test_another_orgs_requests_never_use_alices_key(live, world, fake, org_b, charlie):
    own_key(world.org, world.openai, ORG_KEY)
    _key, raw = mint_key(org_b, charlie, "charlie's key")
    adjust(org_id=org_b.pk, amount=10_000_000, reason="test credit", idempotency_key=f"credit-{org_b.pk}")
    openai_client(live, raw).chat.completions.create(model="on-openai", messages=HI)
    assert sent_keys(fake) == [f"Bearer {QLAUD_KEY}"]
    (row,) = billed()
    assert row.byok is False and row.org_id == org_b.pk


def _hold_of(request_id: str) -> int:
    return Hold.objects.get(request_id=request_id).amount


def test_only_mine_holds_just_the_byok_fee_and_mine_first_holds_the_full_price(live, world, fake, monkeypatch):
    """A key with a spend limit holds through a Hold row: its amount is what the request reserved."""
    monkeypatch.setattr(pipeline, "estimate_input", lambda body, model_id: (1000, 1000))
    cred = own_key(world.org, world.openai, ORG_KEY, byok.ONLY_MINE)
    _key, raw = mint_key(world.org, None, "limited", spend_limit=5_000_000)
    client = openai_client(live, raw)
    client.chat.completions.create(model="on-openai", messages=HI, max_tokens=100)
    (only_mine,) = billed()
    fee_bps, markup = rate_to_bps(settings.BYOK_FEE_RATE), settings.QLAUD_MARKUP_BPS
    assert _hold_of(only_mine.request_id) == estimate_hold(1000, 100, Prices(**PRICES), markup, fee_bps)
    byok.set_mode(cred, byok.MINE_FIRST)
    client.chat.completions.create(model="on-openai", messages=HI, max_tokens=100)
    mine_first = next(r for r in billed(2) if r.request_id != only_mine.request_id)
    assert _hold_of(mine_first.request_id) == estimate_hold(1000, 100, Prices(**PRICES), markup)
    assert _hold_of(only_mine.request_id) * 15 < _hold_of(mine_first.request_id)


def test_a_wallet_short_of_the_full_price_still_serves_a_request_only_the_orgs_key_can_serve(live, world, fake):
    """$0.002 left: the full-price hold of 1,000 output tokens ($0.0056) is refused, its 5% is not."""
    adjust(org_id=world.org.pk, amount=2_000 - world.balance, reason="spent", idempotency_key="spent")
    cred = own_key(world.org, world.openai, ORG_KEY, byok.MINE_FIRST)
    client = openai_client(live, world.raw)
    with pytest.raises(openai.APIStatusError) as short:
        client.chat.completions.create(model="on-openai", messages=HI, max_tokens=1000)
    assert short.value.status_code == 402
    byok.set_mode(cred, byok.ONLY_MINE)
    client.chat.completions.create(model="on-openai", messages=HI, max_tokens=1000)
    assert sent_keys(fake) == [f"Bearer {ORG_KEY}"]
    served = next(r for r in billed(2) if r.status == 200)
    assert served.byok and served.cost == byok_fee()


def test_the_responses_surface_sizes_its_hold_the_same_way(live, world, fake):
    adjust(org_id=world.org.pk, amount=2_000 - world.balance, reason="spent", idempotency_key="spent")
    cred = own_key(world.org, world.openai, ORG_KEY, byok.MINE_FIRST)
    client = openai_client(live, world.raw)
    with pytest.raises(openai.APIStatusError) as short:
        client.responses.create(model="on-openai", input="hi", max_output_tokens=1000)
    assert short.value.status_code == 402
    byok.set_mode(cred, byok.ONLY_MINE)
    client.responses.create(model="on-openai", input="hi", max_output_tokens=1000)
    assert sent_keys(fake) == [f"Bearer {ORG_KEY}"]
    served = next(r for r in billed(2) if r.status == 200)
    assert served.byok and served.cost == byok_fee()
