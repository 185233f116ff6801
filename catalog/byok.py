"""Bring your own key: an org's own provider keys (catalog.models.OrgCredential).

The gateway asks `org_keys(org_id)` on every request: one query per org per catalog version, then memory
(saving or deleting a credential bumps the catalog version, catalog.signals). A key is looked up by the
requesting org's id only, so it is never used for another org. Secrets are never logged or returned: callers
see `last4`. The dashboard and the management API both save and delete through this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from django.utils import timezone

from catalog import crypto
from catalog.byok_shapes import SHAPES, CredentialRefused, answered
from catalog.snapshot import expand_base_url, get_snapshot
from lib.threads import in_pool

if TYPE_CHECKING:
    from accounts.models import Org
    from catalog.models import OrgCredential, Provider

MINE_FIRST = "mine_first"
ONLY_MINE = "only_mine"
# Protocols whose credential is one bearer-style key checked with GET {base}/models.
VALIDATE_PATHS = {"openai": "/models", "anthropic": "/v1/models"}
VALIDATE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class OrgKey:
    """One org's key for one provider, decrypted for the gateway. Never log it."""

    credential_id: int
    mode: str
    secret: str = field(repr=False)
    # Bedrock / Vertex: the structured credential (see SHAPES); None for a plain bearer-style key.
    fields: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def bearer(self) -> str | None:
        """The key to send as the provider's API key; None where the credential signs or mints instead."""
        return None if self.fields is not None else self.secret


_by_org: dict[int, tuple[int, dict[int, OrgKey]]] = {}


def load_org_keys(org_id: int) -> dict[int, OrgKey]:
    from catalog.models import OrgCredential

    keys: dict[int, OrgKey] = {}
    for cred_id, provider_id, protocol, token, mode in OrgCredential.objects.filter(org_id=org_id).values_list(
        "id", "provider_id", "provider__protocol", "secret_encrypted", "mode"
    ):
        secret = crypto.decrypt(token)
        fields = stored_fields(secret) if protocol in SHAPES else None
        if secret and (fields is not None or protocol not in SHAPES):
            keys[provider_id] = OrgKey(cred_id, mode, secret, fields)
    return keys


def stored_fields(secret: str | None) -> dict[str, Any] | None:
    """A stored Bedrock/Vertex credential's fields; None when it was stored in another shape (the provider's
    protocol changed since): such a key is not used, and qlaud's serves as if the org had none."""
    try:
        fields = json.loads(secret or "")
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


async def org_keys(org_id: int) -> dict[int, OrgKey]:
    """provider id -> this org's own key for it."""
    snap_version = (await get_snapshot()).version
    cached = _by_org.get(org_id)
    if cached is not None and cached[0] == snap_version:
        return cached[1]
    keys = await in_pool(load_org_keys)(org_id)
    _by_org[org_id] = (snap_version, keys)
    return keys


def reset() -> None:
    _by_org.clear()


def supports(provider: Provider) -> bool:
    return provider.protocol in VALIDATE_PATHS or provider.protocol in SHAPES


def check_key(provider: Provider, secret: str) -> None:
    """A cheap upstream call (GET the provider's model list) with the key; CredentialRefused if it fails."""
    if provider.protocol not in VALIDATE_PATHS:
        raise CredentialRefused(f"Own keys for {provider.name} are not supported yet.")
    url = expand_base_url(provider.base_url, provider.config).rstrip("/") + VALIDATE_PATHS[provider.protocol]
    if provider.protocol == "anthropic":
        headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    else:
        headers = {"authorization": f"Bearer {secret}"}
    answered(provider, lambda: httpx.get(url, headers=headers, timeout=VALIDATE_TIMEOUT))


def secret_from(provider: Provider, given: Mapping[str, Any]) -> str | dict[str, Any]:
    """What save_credential takes, from a form's or an API body's fields: `key` for a bearer-style provider, the
    shape's fields (SHAPES) for Bedrock and Vertex. The dashboard and the API both read their input through it."""
    shape = SHAPES.get(provider.protocol)
    if shape is None:
        return str(given.get("key") or "")
    return {name: given.get(name) for name in shape.fields}


def save_credential(
    org: Org, provider: Provider, secret: str | Mapping[str, Any], mode: str = MINE_FIRST
) -> OrgCredential:
    """Check the key upstream, then store it (replacing this org's key for the provider). `secret`: the key, or
    for Bedrock and Vertex the mapping of their shape's fields (secret_from)."""
    from catalog.models import OrgCredential

    if mode not in (MINE_FIRST, ONLY_MINE):
        raise CredentialRefused(f"mode must be {MINE_FIRST} or {ONLY_MINE}.")
    shape = SHAPES.get(provider.protocol)
    if shape is not None:
        fields = shape.clean(secret if isinstance(secret, Mapping) else {})
        shape.check(provider, fields)
        stored, last4, label = json.dumps(fields), shape.last4(fields), shape.label(fields)
    else:
        stored = secret.strip() if isinstance(secret, str) else ""
        if len(stored) < 8:
            raise CredentialRefused("That does not look like a provider key.")
        check_key(provider, stored)
        last4, label = stored[-4:], ""
    cred, _ = OrgCredential.objects.update_or_create(
        org=org,
        provider=provider,
        defaults={
            "secret_encrypted": crypto.encrypt(stored),
            "last4": last4,
            "label": label,
            "mode": mode,
            "last_error": "",
            "last_error_at": None,
        },
    )
    return cred


def set_mode(cred: OrgCredential, mode: str) -> OrgCredential:
    """Switch between "use mine first, fall back to qlaud's" and "only mine" (a save: the gateway sees it at once)."""
    if mode not in (MINE_FIRST, ONLY_MINE):
        raise CredentialRefused(f"mode must be {MINE_FIRST} or {ONLY_MINE}.")
    cred.mode = mode
    cred.save(update_fields=["mode"])
    return cred


def delete_credential(cred: OrgCredential) -> None:
    cred.delete()


def note_failure(credential_id: int, message: str) -> None:
    """Record why the org's key was refused (shown on the dashboard). An update, not a save: no catalog bump."""
    from catalog.models import OrgCredential

    OrgCredential.objects.filter(pk=credential_id).update(last_error=message[:300], last_error_at=timezone.now())


async def anote_failure(credential_id: int, message: str) -> None:
    await in_pool(note_failure)(credential_id, message)
