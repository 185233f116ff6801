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
from gateway.tests.conftest import E2E, PRICES
from gateway.tests.e2e import anthropic_client, billed, fake_usage, openai_client
from gateway.tests.fake_upstream import REFUSED_KEY
from wallet.ledger import adjust
from wallet.models import LedgerEntry
from wallet.money import Prices, byok_cost, cost, exact_total, rate_to_bps

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
