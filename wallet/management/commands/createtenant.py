"""createtenant: an operator's one-liner to get a customer going (user, org, key, optional credit)."""

from __future__ import annotations

import json
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.keys import mint_key
from accounts.management_keys import mint_management_key
from accounts.models import Membership, Org, User
from accounts.orgs import create_org, create_personal_org
from wallet.ledger import adjust
from wallet.money import usd_to_micros


class Command(BaseCommand):
    help = (
        "Create (or reuse) a user and their org, mint an API key, optionally credit the wallet; prints one JSON line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--org", help="org name (default: the user's personal org)")
        parser.add_argument("--credit", help="USD to credit, as a decimal string, e.g. 20 or 5.50")
        parser.add_argument("--key-name", default="default")
        parser.add_argument("--password", help="set the user's password, to sign in to the dashboard")
        parser.add_argument(
            "--management-key",
            choices=["read", "write"],
            nargs="?",
            const="write",
            help="also mint a management key (mk_) for /api/v1/, read or write (default write)",
        )

    def handle(
        self,
        *args: Any,
        email: str,
        org: str | None,
        credit: str | None,
        key_name: str,
        password: str | None = None,
        management_key: str | None = None,
        **options: Any,
    ) -> None:
        email = _valid_email(email)
        micros = _credit_micros(credit) if credit else None
        with transaction.atomic():
            user = _user(email)
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
            tenant = _org(user, org)
            _key, raw = mint_key(tenant, user, key_name)
            mk_raw = _management_key(tenant, user, management_key) if management_key else None
        if micros:
            adjust(org_id=tenant.pk, amount=micros, reason="createtenant", idempotency_key=None)
        line = {"org": tenant.slug, "org_id": tenant.pk, "user": user.email, "api_key": raw}
        if mk_raw:
            line["management_key"] = mk_raw
        self.stdout.write(json.dumps(line))


def _valid_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except Exception as error:
        raise CommandError(f"not an email address: {email!r}") from error
    return email


def _credit_micros(credit: str) -> int:
    try:
        micros = usd_to_micros(credit)
    except (TypeError, ValueError) as error:
        raise CommandError(str(error)) from error
    if micros <= 0:
        raise CommandError("--credit must be positive")
    return micros


def _user(email: str) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email)  # no password: they sign in by resetting it
        user.set_unusable_password()
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email__iexact=email, defaults={"email": email, "verified": True, "primary": True}
    )
    return user


def _org(user: User, name: str | None) -> Org:
    if not name:
        return create_personal_org(user)
    existing = Org.objects.filter(name=name, memberships__user=user, memberships__role=Membership.Role.OWNER).first()
    return existing or create_org(user, name)


def _management_key(org: Org, user: User, scope: str) -> str:
    membership = Membership.objects.filter(org=org, user=user).first()
    if membership is None or not membership.is_manager:
        raise CommandError("a management key needs an owner or admin of the org")
    _key, raw = mint_management_key(org, by=membership, name="createtenant", scope=scope)
    return raw
