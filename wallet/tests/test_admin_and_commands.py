from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from wallet.models import LedgerEntry, Wallet


def test_the_admin_shows_money_rows_read_only(client, funded_a, django_user_model):
    admin = django_user_model.objects.create_superuser("root@example.com", "pw")
    client.force_login(admin)
    entry = LedgerEntry.objects.get()
    assert client.get("/admin/wallet/ledgerentry/").status_code == 200
    detail = client.get(f"/admin/wallet/ledgerentry/{entry.pk}/change/")
    assert detail.status_code == 200 and 'name="amount"' not in detail.content.decode()
    assert client.post(f"/admin/wallet/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/wallet/ledgerentry/add/").status_code == 403
    assert LedgerEntry.objects.get().amount == 10_000_000


def test_adjust_wallet_credits_and_debits_with_a_reason_once_per_key(org_a):
    out = StringIO()
    call_command("adjust_wallet", org_a.slug, "2.50", "outage credit", "--key", "ticket-42", stdout=out)
    call_command("adjust_wallet", org_a.slug, "2.50", "outage credit", "--key", "ticket-42", stdout=out)
    call_command("adjust_wallet", org_a.slug, "-0.50", "correction", stdout=out)
    assert Wallet.objects.get(org=org_a).balance == 2_000_000
    assert "already applied" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("adjust_wallet", org_a.slug, "0.0000001", "too precise")
    with pytest.raises(CommandError):
        call_command("adjust_wallet", "no-such-org", "1", "x")
