from __future__ import annotations

import asyncio

import pytest

from accounts.keys import mint_key, verify_key
from accounts.models import Membership, Org
from accounts.orgs import OrgRuleError, set_auto_cache


def test_a_new_org_lets_qlaud_place_cache_breakpoints(org_a):
    assert Org.objects.get(pk=org_a.pk).auto_cache is True


def test_an_owner_sees_and_switches_off_automatic_caching(alice_client, org_a):
    page = alice_client.get("/dashboard/org/settings/").content.decode()
    assert "Automatic prompt caching" in page and "Save settings" in page
    assert alice_client.post("/dashboard/org/settings/", {}).status_code == 302
    org_a.refresh_from_db()
    assert org_a.auto_cache is False
    assert alice_client.post("/dashboard/org/settings/", {"auto_cache": "on"}).status_code == 302
    org_a.refresh_from_db()
    assert org_a.auto_cache is True


def test_a_member_sees_the_setting_but_cannot_change_it(bob_client, org_a):
    page = bob_client.get("/dashboard/org/settings/").content.decode()
    assert "Automatic prompt caching" in page and "Save settings" not in page
    assert bob_client.post("/dashboard/org/settings/", {}).status_code == 404
    org_a.refresh_from_db()
    assert org_a.auto_cache is True


def test_charlie_changes_only_his_own_org(charlie_client, org_a, org_b):
    assert charlie_client.post("/dashboard/org/settings/", {}).status_code == 302
    org_a.refresh_from_db()
    org_b.refresh_from_db()
    assert org_a.auto_cache is True and org_b.auto_cache is False


def test_a_manager_of_another_org_cannot_switch_it(org_a, org_b, charlie):
    with pytest.raises(OrgRuleError):
        set_auto_cache(org_a, False, by=Membership.objects.get(org=org_b, user=charlie))


@pytest.mark.django_db(transaction=True)
def test_the_key_context_carries_the_orgs_choice_at_once(org_a, alice):
    _, raw = mint_key(org_a, alice, "ci")
    assert asyncio.run(verify_key(raw)).auto_cache is True
    set_auto_cache(org_a, False, by=Membership.objects.get(org=org_a, user=alice))
    assert asyncio.run(verify_key(raw)).auto_cache is False
