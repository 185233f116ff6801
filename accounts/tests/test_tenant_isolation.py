"""charlie (owner of org B) must get a 404 for every org-A object URL of the accounts dashboard."""

from __future__ import annotations

import pytest

from accounts.keys import mint_key
from accounts.middleware import SESSION_ORG_KEY
from accounts.models import ApiKey, Invitation, Membership


@pytest.fixture
def org_a_objects(org_a, alice, bob):
    key, _ = mint_key(org_a, alice, "alice-secret-key")
    invitation = Invitation.objects.create(org=org_a, email="dana@example.com", role="member", invited_by=alice)
    return {
        "key": key,
        "alice": Membership.objects.get(org=org_a, user=alice),
        "bob": Membership.objects.get(org=org_a, user=bob),
        "invitation": invitation,
    }


def org_a_urls(objects) -> list[tuple[str, str, dict]]:
    key, alice, bob, inv = objects["key"], objects["alice"], objects["bob"], objects["invitation"]
    return [
        ("get", f"/dashboard/keys/{key.pk}/revoke/", {}),
        ("post", f"/dashboard/keys/{key.pk}/revoke/", {}),
        ("post", f"/dashboard/team/members/{alice.pk}/role/", {"role": "member"}),
        ("post", f"/dashboard/team/members/{bob.pk}/role/", {"role": "owner"}),
        ("get", f"/dashboard/team/members/{bob.pk}/remove/", {}),
        ("post", f"/dashboard/team/members/{bob.pk}/remove/", {}),
        ("post", f"/dashboard/team/invitations/{inv.pk}/withdraw/", {}),
        ("post", "/dashboard/org/switch/", {"org": objects["key"].org_id}),
    ]


def test_charlie_gets_404_on_every_org_a_url(charlie_client, org_a_objects):
    for method, url, data in org_a_urls(org_a_objects):
        response = getattr(charlie_client, method)(url, data)
        assert response.status_code == 404, (method, url, response.status_code)
    key = ApiKey.objects.get(pk=org_a_objects["key"].pk)
    assert key.revoked_at is None
    assert Membership.objects.filter(org=key.org).count() == 2
    assert Invitation.objects.filter(pk=org_a_objects["invitation"].pk).exists()


def test_charlie_sees_nothing_of_org_a_on_his_pages(charlie_client, org_a_objects):
    for url in ["/dashboard/", "/dashboard/keys/", "/dashboard/team/"]:
        page = charlie_client.get(url).content.decode()
        assert "alice-secret-key" not in page and "alice@example.com" not in page and "Org A" not in page, url


def test_a_forged_session_org_id_does_not_reach_org_a(charlie_client, org_a_objects):
    session = charlie_client.session
    session[SESSION_ORG_KEY] = org_a_objects["key"].org_id
    session.save()
    page = charlie_client.get("/dashboard/keys/").content.decode()
    assert "alice-secret-key" not in page and "Org B" in page


def test_anonymous_visitors_are_sent_to_sign_in(client, org_a_objects):
    for method, url, data in org_a_urls(org_a_objects):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
