"""Clean edges: re-sending an invitation, the sole owner told before confirming."""

from __future__ import annotations

from django.core import mail

from accounts.models import Invitation, Membership


def invite(client, email: str, role: str = "member"):
    return client.post("/dashboard/team/", {"email": email, "role": role}, follow=True)


def test_inviting_the_same_address_again_resends_the_invitation_and_the_first_link_still_works(
    alice_client, org_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, "dana@example.com")
    first = Invitation.objects.get(org=org_a, email="dana@example.com")
    first_link = mail.outbox[-1].body.split("http", 1)[1].split()[0]
    with django_capture_on_commit_callbacks(execute=True):
        page = invite(alice_client, "dana@example.com", "admin").content.decode()
    assert "again" in page and "earlier link still works" in page
    again = Invitation.objects.get(org=org_a, email="dana@example.com")
    assert again.pk == first.pk and again.role == "admin"
    html = alice_client.get("/dashboard/invitations/" + first_link.rsplit("/invitations/", 1)[1]).content.decode()
    assert "withdrawn" not in html


def test_the_sole_owner_is_told_they_cannot_leave_before_confirming(alice_client, org_a, alice):
    me = Membership.objects.get(org=org_a, user=alice)
    html = alice_client.get(f"/dashboard/team/members/{me.pk}/remove/").content.decode()
    assert "You cannot leave Org A yet" in html and "only owner" in html
    assert "Leave org</button>" not in html


def test_a_member_who_is_not_the_last_owner_sees_the_usual_confirmation(bob_client, org_a, bob):
    me = Membership.objects.get(org=org_a, user=bob)
    html = bob_client.get(f"/dashboard/team/members/{me.pk}/remove/").content.decode()
    assert "Leave Org A?" in html and "Leave org</button>" in html


def test_charlie_cannot_open_a_remove_page_in_org_a(charlie_client, org_a, alice):
    me = Membership.objects.get(org=org_a, user=alice)
    assert charlie_client.get(f"/dashboard/team/members/{me.pk}/remove/").status_code == 404
