"""Sealed reasoning blobs for the Responses API's `encrypted_content` (pure, no Django).

Clients that ask for `include: ["reasoning.encrypted_content"]` (Codex always does) hand reasoning
items back on the next turn. qlaud uses that field as its carrier: the upstream's reasoning text and
whatever it needs to accept it again (Anthropic signatures, redacted data) travel to the client and
back, authenticated so a client cannot forge a "signed" Anthropic thinking block or read another
server's blob.

Format: "qlaud:v1:" + base64url(nonce(12) + AES-256-GCM(json payload)), the prefix bound as AAD.
Payload keys (short, the blob rides along every turn): p provider family, k kind
(text | thinking | redacted), t text, s signature, d redacted data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "qlaud:v1:"
_AAD = PREFIX.encode()
_NONCE_BYTES = 12


def derive_key(secret: str) -> bytes:
    """A 256-bit AES key from a setting; a dedicated label keeps it apart from other SECRET_KEY uses."""
    return hashlib.sha256(b"qlaud.responses.seal\x00" + secret.encode()).digest()


def seal(payload: dict[str, Any], key: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, _AAD)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def is_qlaud_blob(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def unseal(blob: object, key: bytes) -> dict[str, Any] | None:
    """The payload, or None for anything not sealed by this key (foreign blobs, tampering, junk)."""
    if not is_qlaud_blob(blob):
        return None
    body = blob[len(PREFIX) :]  # type: ignore[index]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
        payload = json.loads(plain)
    except (ValueError, InvalidTag):
        return None
    return payload if isinstance(payload, dict) else None
