"""Management keys (`mk_...`): mint, look up, revoke. They open the management API, never models.

Stored like API keys: the 12-character lookup prefix and an HMAC of the whole key (keys.hash_key).
The management API is not a hot path, so a lookup is one indexed query and no cache; revocation
therefore takes effect at once everywhere.
"""

from __future__ import annotations

import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.keys import (
    ALPHABET,
    KEY_BODY_LENGTH,
    MANAGEMENT_KEY_PREFIX,
    PREFIX_LENGTH,
    KeyRefused,
    hash_key,
)
from accounts.models import ManagementKey, Membership, Org
from accounts.orgs import OrgRuleError

MANAGEMENT_KEY_LENGTH = len(MANAGEMENT_KEY_PREFIX) + KEY_BODY_LENGTH


def generate_raw_management_key() -> str:
    return MANAGEMENT_KEY_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(KEY_BODY_LENGTH))


def _prefix(raw: str) -> str:
    return raw[len(MANAGEMENT_KEY_PREFIX) : len(MANAGEMENT_KEY_PREFIX) + PREFIX_LENGTH]


@transaction.atomic
def mint_management_key(org: Org, *, by: Membership, name: str, scope: str) -> tuple[ManagementKey, str]:
    """Owners and admins only; returns the key and its raw secret, shown once."""
    if not by.is_manager or by.org_id != org.pk:
        raise OrgRuleError("Only owners and admins can create management keys.")
    if scope not in ManagementKey.Scope.values:
        raise OrgRuleError("Unknown scope: choose read or write.")
    raw = generate_raw_management_key()
    key = ManagementKey.objects.create(
        org=org, created_by=by.user, name=name, scope=scope, prefix=_prefix(raw), hashed=hash_key(raw)
    )
    return key, raw


def revoke_management_key(key: ManagementKey, *, by: Membership) -> ManagementKey:
    if not by.is_manager or by.org_id != key.org_id:
        raise OrgRuleError("Only owners and admins can revoke management keys.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        ManagementKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=key.revoked_at)
    return key


def management_key_for(raw: str) -> tuple[ManagementKey, Membership]:
    """The key and the membership it acts as (its creator's, now), or KeyRefused."""
    digest = hash_key(raw)  # hashed even for a malformed key, so timing tells nothing
    well_formed = len(raw) == MANAGEMENT_KEY_LENGTH and raw.startswith(MANAGEMENT_KEY_PREFIX)
    key = ManagementKey.objects.select_related("org").filter(prefix=_prefix(raw)).first() if well_formed else None
    if key is None or not hmac.compare_digest(digest, key.hashed):
        raise KeyRefused("Invalid management key.")
    if key.revoked_at is not None:
        raise KeyRefused("This management key has been revoked.")
    membership = Membership.objects.select_related("org", "user").filter(org=key.org, user_id=key.created_by_id).first()
    if membership is None:
        raise KeyRefused("This management key's creator is no longer in the org; the key no longer works.")
    ManagementKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key, membership
