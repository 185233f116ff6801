"""Local credit: without Stripe the wallet page says so and shows the exact adjust_wallet command."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Org


def test_without_stripe_keys_the_wallet_page_says_so_and_shows_the_adjust_wallet_command(alice_client, org_a, settings):
    settings.STRIPE_TEST_SECRET_KEY = settings.STRIPE_LIVE_SECRET_KEY = ""
    page = alice_client.get("/dashboard/wallet/").content.decode()
    assert "This server takes no card payments" in page
    assert f"manage.py adjust_wallet {org_a.slug} 5 &quot;local credit&quot;" in page
    assert ">$5</button>" not in page and "Save a card" not in page and "Add custom amount" not in page


def test_with_a_stripe_key_the_wallet_page_offers_checkout_and_no_local_command(alice_client, org_a, settings):
    settings.STRIPE_TEST_SECRET_KEY = "sk_test_" + "0" * 24
    page = alice_client.get("/dashboard/wallet/").content.decode()
    assert ">$5</button>" in page and "Save a card" in page and "adjust_wallet" not in page


def test_saving_a_card_without_stripe_explains_instead_of_failing(alice_client, org_a, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""
    page = alice_client.post("/dashboard/wallet/card/", follow=True).content.decode()
    assert "no Stripe key configured" in page


def test_the_team_page_shows_the_org_slug(alice_client, org_a):
    assert f'<code id="org-slug">{org_a.slug}</code>' in alice_client.get("/dashboard/team/").content.decode()


def test_charlie_sees_his_own_slug_not_org_as(client, charlie, org_a, org_b, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""
    client.force_login(charlie)
    page = client.get("/dashboard/wallet/").content.decode()
    assert org_b.slug in page and org_a.slug not in page


@pytest.mark.django_db
def test_adjust_wallet_with_an_unknown_slug_lists_close_matches():
    Org.objects.create(name="Dana", slug="dana-x7k2p9")
    Org.objects.create(name="Other", slug="zebra-000000")
    with pytest.raises(CommandError) as error:
        call_command("adjust_wallet", "dana", "5", "local credit")
    assert "did you mean: dana-x7k2p9" in str(error.value) and "zebra" not in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command("adjust_wallet", "dana-x7k2p8", "5", "local credit")
    assert "dana-x7k2p9" in str(error.value)


@pytest.mark.django_db
def test_adjust_wallet_with_nothing_close_says_where_slugs_are_shown():
    with pytest.raises(CommandError, match="Team page shows"):
        call_command("adjust_wallet", "nobody", "5", "x")
