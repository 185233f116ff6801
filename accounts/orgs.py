"""Writes across Org and Membership: each one named function in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify
from django.utils.crypto import get_random_string

from accounts.models import Membership, Org, User


@transaction.atomic
def create_org(owner: User, name: str, *, personal: bool = False) -> Org:
    slug = f"{slugify(name)[:40] or 'org'}-{get_random_string(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}"
    org = Org.objects.create(name=name, slug=slug, personal=personal)
    Membership.objects.create(org=org, user=owner, role=Membership.Role.OWNER)
    return org


def create_personal_org(user: User) -> Org:
    existing = Org.objects.filter(personal=True, memberships__user=user).first()
    if existing:
        return existing
    return create_org(user, user.email.split("@")[0], personal=True)
