from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.keys import mint_key
from accounts.middleware import SESSION_ORG_KEY
from accounts.models import ApiKey, Invitation, Membership
from accounts.orgs import OrgRuleError, change_role, invitation_token, remove_member
from accounts.tests.conftest import signed_in


def membership(org, user) -> Membership:
    return Membership.objects.get(org=org, user=user)


def test_the_team_page_lists_members_with_roles(alice_client, org_a):
    page = alice_client.get("/dashboard/team/").content.decode()
    assert "alice@example.com" in page and "bob@example.com" in page
    assert "Invite someone" in page


def test_an_owner_changes_a_role(alice_client, org_a, bob):
    bob_m = membership(org_a, bob)
    assert alice_client.post(f"/dashboard/team/members/{bob_m.pk}/role/", {"role": "admin"}).status_code == 302
    bob_m.refresh_from_db()
    assert bob_m.role == "admin"


def test_a_member_cannot_manage_the_team(bob_client, org_a, alice):
    alice_m = membership(org_a, alice)
    assert bob_client.post(f"/dashboard/team/members/{alice_m.pk}/role/", {"role": "member"}).status_code == 404
    assert bob_client.post("/dashboard/team/", {"email": "x@example.com", "role": "member"}).status_code == 404
    assert "Invite someone" not in bob_client.get("/dashboard/team/").content.decode()
    alice_m.refresh_from_db()
    assert alice_m.role == "owner"


def test_the_last_owner_cannot_be_demoted_removed_or_leave(alice_client, org_a, alice, bob):
    alice_m = membership(org_a, alice)
    with pytest.raises(OrgRuleError):
        change_role(alice_m, "member", by=alice_m)
    with pytest.raises(OrgRuleError):
        remove_member(alice_m, by=alice_m)
    assert alice_client.post(f"/dashboard/team/members/{alice_m.pk}/remove/").status_code == 302
    assert Membership.objects.filter(pk=alice_m.pk, role="owner").exists()


def test_with_a_second_owner_the_first_may_leave(alice_client, org_a, alice, bob):
    alice_m, bob_m = membership(org_a, alice), membership(org_a, bob)
    change_role(bob_m, "owner", by=alice_m)
    assert alice_client.post(f"/dashboard/team/members/{alice_m.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=alice_m.pk).exists()


def test_an_admin_cannot_touch_owners_or_make_owners(org_a, alice, bob, charlie):
    alice_m, bob_m = membership(org_a, alice), membership(org_a, bob)
    change_role(bob_m, "admin", by=alice_m)
    with pytest.raises(OrgRuleError):
        change_role(alice_m, "member", by=bob_m)
    charlie_m = Membership.objects.create(org=org_a, user=charlie, role="member")
    with pytest.raises(OrgRuleError):
        change_role(charlie_m, "owner", by=bob_m)
    change_role(charlie_m, "admin", by=bob_m)


def test_removing_a_member_revokes_their_keys_in_that_org(alice_client, org_a, bob):
    key, _ = mint_key(org_a, bob, "bob-laptop")
    bob_m = membership(org_a, bob)
    assert alice_client.get(f"/dashboard/team/members/{bob_m.pk}/remove/").status_code == 200
    assert alice_client.post(f"/dashboard/team/members/{bob_m.pk}/remove/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and not Membership.objects.filter(pk=bob_m.pk).exists()


@pytest.fixture
def dana(db):
    from conftest import _person

    return _person("dana@example.com")


def test_an_invited_user_accepts_and_joins_with_the_invited_role(
    alice_client, org_a, dana, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/dashboard/team/", {"email": "dana@example.com", "role": "admin"})
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["dana@example.com"] and "Org A" in mail.outbox[-1].subject
    path = re.search(r"http://\S+(/dashboard/invitations/\S+/)", mail.outbox[-1].body).group(1)
    dana_client = signed_in(dana)
    assert "Accept and join" in dana_client.get(path).content.decode()
    response = dana_client.post(path)
    assert response.status_code == 302
    assert membership(org_a, dana).role == "admin"
    assert dana_client.session[SESSION_ORG_KEY] == org_a.pk
    # The link is single-use.
    assert dana_client.post(path).status_code == 400


def test_an_invitation_cannot_be_accepted_by_someone_else(org_a, alice, charlie):
    invitation = Invitation.objects.create(org=org_a, email="dana@example.com", role="member", invited_by=alice)
    path = f"/dashboard/invitations/{invitation_token(invitation)}/"
    charlie_client = signed_in(charlie)
    assert "This invitation is for dana@example.com" in charlie_client.get(path).content.decode()
    assert charlie_client.post(path).status_code == 403
    assert not Membership.objects.filter(org=org_a, user=charlie).exists()


def test_anonymous_visitors_are_asked_to_sign_in(client, org_a, alice):
    invitation = Invitation.objects.create(org=org_a, email="dana@example.com", role="member", invited_by=alice)
    page = client.get(f"/dashboard/invitations/{invitation_token(invitation)}/").content.decode()
    assert "Sign in" in page and "Org A" in page


def test_an_expired_invitation_shows_a_clear_page(org_a, alice, dana):
    invitation = Invitation.objects.create(org=org_a, email="dana@example.com", role="member", invited_by=alice)
    token = invitation_token(invitation)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = signed_in(dana).post(f"/dashboard/invitations/{token}/")
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not Membership.objects.filter(org=org_a, user=dana).exists()


def test_a_forged_or_withdrawn_invitation_shows_a_clear_page(alice_client, org_a, alice, dana):
    invitation = Invitation.objects.create(org=org_a, email="dana@example.com", role="owner", invited_by=alice)
    token = invitation_token(invitation)
    forged = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    response = signed_in(dana).post(f"/dashboard/invitations/{forged}/")
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert alice_client.post(f"/dashboard/team/invitations/{invitation.pk}/withdraw/").status_code == 302
    response = signed_in(dana).post(f"/dashboard/invitations/{token}/")
    assert response.status_code == 400 and "withdrawn" in response.content.decode()


def test_inviting_an_existing_member_is_refused(alice_client, org_a):
    response = alice_client.post("/dashboard/team/", {"email": "BOB@example.com", "role": "member"})
    assert response.status_code == 200 and "already a member" in response.content.decode()


def test_a_user_switches_between_orgs_and_creates_new_ones(alice_client, org_a, alice):
    assert alice_client.post("/dashboard/org/new/", {"name": "Side project"}).status_code == 302
    new = alice.memberships.get(org__name="Side project").org
    assert alice_client.session[SESSION_ORG_KEY] == new.pk
    key_page = alice_client.post("/dashboard/keys/", {"name": "side", "limit_period": "never"})
    assert ApiKey.objects.get(name="side").org == new and key_page.status_code == 200
    response = alice_client.post("/dashboard/org/switch/", {"org": org_a.pk, "next": "/dashboard/keys/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/keys/"
    assert alice_client.session[SESSION_ORG_KEY] == org_a.pk
    assert "<strong>side</strong>" not in alice_client.get("/dashboard/keys/").content.decode()
