"""Writes across Org, Membership, Invitation and ApiKey: each one named function in one transaction.

Team rules: owners and admins manage the team; only an owner may grant the owner role or
change or remove another owner; an org always keeps at least one owner.

Invitations: the emailed link carries `signing.dumps(invitation id)`, valid for 7 days. It is
accepted by a signed-in user holding a *verified* address equal to the invited one, so a
forwarded or leaked link cannot add somebody else to the org.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from accounts.models import ApiKey, Invitation, ManagementKey, Membership, Org, User

INVITATION_MAX_AGE = timedelta(days=7)
INVITATION_SALT = "accounts.invitation"
Role = Membership.Role


class OrgRuleError(Exception):
    """A team change that the rules forbid; the message is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@transaction.atomic
def create_org(owner: User, name: str, *, personal: bool = False) -> Org:
    slug = f"{slugify(name)[:40] or 'org'}-{get_random_string(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}"
    org = Org.objects.create(name=name, slug=slug, personal=personal)
    Membership.objects.create(org=org, user=owner, role=Role.OWNER)
    return org


def create_personal_org(user: User) -> Org:
    existing = Org.objects.filter(personal=True, memberships__user=user).first()
    if existing:
        return existing
    return create_org(user, user.email.split("@")[0], personal=True)


# --- Roles and members ------------------------------------------------------------------


def _other_owners(membership: Membership) -> bool:
    owners = Membership.objects.select_for_update().filter(org_id=membership.org_id, role=Role.OWNER)
    return owners.exclude(pk=membership.pk).exists()


def _require_manager(by: Membership, target_role: str, new_role: str | None = None) -> None:
    if not by.is_manager:
        raise OrgRuleError("Only owners and admins can manage the team.")
    if Role.OWNER in (target_role, new_role) and by.role != Role.OWNER:
        raise OrgRuleError("Only an owner can grant or change the owner role.")


@transaction.atomic
def change_role(membership: Membership, role: str, *, by: Membership) -> Membership:
    if role not in Role.values:
        raise OrgRuleError("Unknown role.")
    _require_manager(by, membership.role, role)
    if membership.role == Role.OWNER and role != Role.OWNER and not _other_owners(membership):
        raise OrgRuleError("An org needs at least one owner: make someone else owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, by: Membership) -> None:
    """Remove a member (or leave, when `by` is the membership itself) and revoke their keys in the org
    (API keys and management keys alike)."""
    if by.pk != membership.pk:
        _require_manager(by, membership.role)
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise OrgRuleError("The last owner cannot leave or be removed.")
    _revoke_keys_of(membership)
    membership.delete()


def set_auto_cache(org: Org, on: bool, *, by: Membership) -> None:
    """Switch automatic prompt-cache breakpoints; every worker's cached key contexts carry the org's choice."""
    from accounts.keys import keys_changed

    if not by.is_manager or by.org_id != org.pk:
        raise OrgRuleError("Only the org's owners and admins change its settings.")
    if Org.objects.filter(pk=org.pk).exclude(auto_cache=on).update(auto_cache=on):
        keys_changed()
    org.auto_cache = on


def _revoke_keys_of(membership: Membership) -> None:
    from accounts.keys import keys_changed

    mine = {"org_id": membership.org_id, "created_by_id": membership.user_id, "revoked_at__isnull": True}
    ManagementKey.objects.filter(**mine).update(revoked_at=timezone.now())
    if ApiKey.objects.filter(**mine).update(revoked_at=timezone.now()):
        keys_changed()


# --- Invitations ------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation | None:
    """The pending invitation, None if it was withdrawn; raises signing.SignatureExpired / BadSignature."""
    pk = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    return Invitation.objects.select_related("org").filter(pk=pk).first()


@transaction.atomic
def invite_member(org: Org, *, email: str, role: str, by: Membership, site: str = "") -> Invitation:
    """Create an invitation and email its link after the commit. Inviting the same address again
    re-sends the pending invitation with a fresh link and the role chosen now; the earlier link
    keeps working until it expires (it is not "withdrawn")."""
    email = email.strip().lower()
    _require_manager(by, Role.MEMBER, role)
    if Membership.objects.filter(org=org, user__email__iexact=email).exists():
        raise OrgRuleError(f"{email} is already a member.")
    invitation = Invitation.objects.filter(org=org, email=email, accepted_at__isnull=True).first()
    if invitation is None:
        invitation = Invitation.objects.create(org=org, email=email, role=role, invited_by=by.user)
    else:
        invitation.role, invitation.invited_by, invitation.created = role, by.user, timezone.now()
        invitation.save(update_fields=["role", "invited_by", "created"])
    transaction.on_commit(lambda: send_invitation(invitation, site=site))
    return invitation


def send_invitation(invitation: Invitation, *, site: str = "") -> None:
    url = (site or settings.SITE_URL) + reverse("invitation_accept", args=[invitation_token(invitation)])
    context = {"invitation": invitation, "url": url, "days": INVITATION_MAX_AGE.days}
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/email/invitation_message.txt", context)
    send_mail(subject, body, None, [invitation.email])


@transaction.atomic
def withdraw_invitation(invitation: Invitation, *, by: Membership) -> None:
    _require_manager(by, Role.MEMBER, invitation.role)
    invitation.delete()


def can_accept(invitation: Invitation, user: User) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists()


@transaction.atomic
def accept_invitation(invitation: Invitation, user: User) -> Membership:
    """Join the org with the invited role (an existing membership is kept as it is)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise OrgRuleError("This invitation has already been used.")
    if not can_accept(invitation, user):
        raise OrgRuleError(f"This invitation is for {invitation.email}. Sign in with that address to accept it.")
    membership, _ = Membership.objects.get_or_create(
        org_id=invitation.org_id, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership
