from __future__ import annotations

import json
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command

from accounts.keys import verify_key
from accounts.models import Membership, Org, User


def createtenant(*args: str) -> dict:
    out = StringIO()
    call_command("createtenant", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.django_db
def test_it_creates_a_verified_user_a_personal_org_and_a_working_key():
    result = createtenant("--email", "Erin@Example.com", "--key-name", "ci")
    assert set(result) == {"org", "org_id", "user", "api_key"}
    user = User.objects.get(email="erin@example.com")
    assert result["user"] == "erin@example.com"
    assert EmailAddress.objects.get(user=user).verified
    org = Org.objects.get(pk=result["org_id"], slug=result["org"])
    assert org.personal and Membership.objects.get(org=org, user=user).role == "owner"
    context = async_to_sync(verify_key)(result["api_key"])
    assert context.org_id == org.pk and context.name == "ci"


@pytest.mark.django_db
def test_running_it_again_reuses_the_user_and_org_and_mints_another_key():
    first = createtenant("--email", "erin@example.com")
    second = createtenant("--email", "erin@example.com")
    assert first["org_id"] == second["org_id"] and first["api_key"] != second["api_key"]
    assert User.objects.filter(email="erin@example.com").count() == 1


@pytest.mark.django_db
def test_a_named_org_is_created_once_and_reused():
    first = createtenant("--email", "erin@example.com", "--org", "Acme")
    second = createtenant("--email", "erin@example.com", "--org", "Acme")
    assert first["org_id"] == second["org_id"]
    assert not Org.objects.get(pk=first["org_id"]).personal


@pytest.mark.django_db
def test_credit_is_written_through_the_ledger():
    ledger = pytest.importorskip("wallet.ledger")
    from wallet.models import Wallet

    result = createtenant("--email", "erin@example.com", "--credit", "20.50")
    assert Wallet.objects.get(org_id=result["org_id"]).balance == 20_500_000
    ledger.assert_ledger_invariant()


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--email", "not-an-email"], ["--email", "a@b.co", "--credit", "-5"]])
def test_it_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("createtenant", *args, stdout=StringIO())
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_password_given_to_createtenant_signs_the_user_in_to_the_dashboard(client):
    createtenant("--email", "erin@example.com", "--password", "a long and unusual passphrase 42")
    assert client.login(email="erin@example.com", password="a long and unusual passphrase 42")
    assert client.get("/dashboard/").status_code == 200
