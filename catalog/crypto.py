"""Provider API keys stored encrypted at rest (Fernet), keyed from settings.FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    try:
        return Fernet(secret.encode())
    except ValueError:
        # Not a Fernet key: stretch any string into one, so SECRET_KEY-style values work too.
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt(plaintext: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


@lru_cache(maxsize=64)
def _decrypt(token: str, secret: str) -> str | None:
    try:
        return _fernet(secret).decrypt(token.encode()).decode()
    except InvalidToken:
        return None  # the encryption key changed; callers treat it as "no key"


def decrypt(token: str) -> str | None:
    """Plaintext of a stored token (memoised: the gateway asks on every request)."""
    return _decrypt(token, settings.FIELD_ENCRYPTION_KEY) if token else None
