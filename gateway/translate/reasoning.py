"""Reasoning provenance sealed into Anthropic thinking-block signatures. Pure, no Django.

Non-Anthropic reasoning models (DeepSeek ``reasoning_content``, Groq/OpenRouter ``reasoning``...) produce thinking
with no Anthropic signature. qlaud gives such a block a signature of its own so that:
- clients keep the block in their history (Claude Code drops thinking blocks it cannot carry back), and
- when the client echoes the block, qlaud can prove it produced this exact text for this provider and restore it the
  way that provider requires (DeepSeek thinking mode needs ``reasoning_content`` on tool-call turns).

Format: ``qlaud.v1.<b64url(provider)>.<b64url(mac)>[.<b64url(json(details))>]`` where
``mac = HMAC-SHA256(secret, header | sha256(thinking) [| payload])[:18]``. The MAC binds the provider and the optional
provider reasoning items (OpenRouter ``reasoning_details``: signed or encrypted reasoning that must go back verbatim)
to the thinking text, so an edited text, a forged provider or altered items do not verify.

- ``Sealer(secret)``: ``seal(provider, thinking, details=None) -> str``; ``open(signature, thinking) -> str | None``
  (the provider slug if the signature verifies); ``details(signature, thinking)`` (the sealed items if it verifies).
- ``unsealed(provider, details=None) -> str``: the marker used when no secret is configured (recognisably ours, never
  verifies); ``claimed_provider`` / ``claimed_details`` read such markers, unverified.
- ``is_qlaud(signature)``: True for any qlaud-made signature, sealed or not.
- ``is_anthropic(signature)``: a real Anthropic signature (non-empty and not ours).
- ``ThinkSplitter`` / ``split_think(text)``: route ``<think>...</think>`` found inside content to reasoning, for
  upstreams that inline it (``shaping.Rules.inline_think``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

__all__ = [
    "PREFIX",
    "Sealer",
    "ThinkSplitter",
    "claimed_details",
    "claimed_provider",
    "is_anthropic",
    "is_qlaud",
    "split_think",
    "unsealed",
]

PREFIX = "qlaud.v1."
_OURS = ("qlaud.", "qlaud:")
_MAC_BYTES = 18  # 144 bits: plenty against forgery, keeps the signature short


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def is_qlaud(signature: str | None) -> bool:
    # "qlaud:" covers the Responses API blobs (translate/responses/blob.py): ours too, and foreign to Anthropic.
    return bool(signature) and signature.startswith(_OURS)  # type: ignore[union-attr]


def is_anthropic(signature: str | None) -> bool:
    return bool(signature) and not is_qlaud(signature)


def _split(signature: str | None) -> tuple[str, str, str] | None:
    """(header, mac, payload) of a qlaud.v1 signature, None if it is not one."""
    if not signature or not signature.startswith(PREFIX):
        return None
    header, _, rest = signature[len(PREFIX) :].partition(".")
    mac, _, payload = rest.partition(".")
    return header, mac, payload


def claimed_provider(signature: str | None) -> str | None:
    """The provider a qlaud.v1 signature names, NOT verified (for deployments without a sealing secret)."""
    parts = _split(signature)
    try:
        return _unb64(parts[0]).decode() or None if parts else None
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def claimed_details(signature: str | None) -> list[dict[str, Any]] | None:
    """The provider reasoning items a qlaud.v1 signature carries, NOT verified."""
    parts = _split(signature)
    if not parts or not parts[2]:
        return None
    try:
        details = json.loads(_unb64(parts[2]))
    except ValueError:
        return None
    return details if isinstance(details, list) else None


def unsealed(provider: str, details: list[dict[str, Any]] | None = None) -> str:
    payload = f".{_b64(_compact(details))}" if details else ""
    return f"{PREFIX}{_b64(provider.encode())}.{payload}"


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Sealer:
    """HMAC sealing of (provider, thinking text, provider reasoning items). The secret comes from the caller
    (settings), never from here."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a sealing secret is required")
        self._secret = secret

    def seal(self, provider: str, thinking: str, details: list[dict[str, Any]] | None = None) -> str:
        """``details``: provider reasoning items that must go back verbatim (OpenRouter ``reasoning_details``)."""
        header = _b64(provider.encode())
        payload = _b64(_compact(details)) if details else ""
        mac = _b64(self._mac(header, thinking, payload))
        return f"{PREFIX}{header}.{mac}.{payload}" if payload else f"{PREFIX}{header}.{mac}"

    def open(self, signature: str | None, thinking: str) -> str | None:
        """The provider the thinking came from, or None if the signature is not a valid qlaud seal of this text."""
        parts = _split(signature)
        provider = claimed_provider(signature)
        if parts is None or provider is None:
            return None
        header, mac, payload = parts
        try:
            given = _unb64(mac)
        except ValueError:
            return None
        return provider if hmac.compare_digest(given, self._mac(header, thinking, payload)) else None

    def details(self, signature: str | None, thinking: str) -> list[dict[str, Any]] | None:
        """The reasoning items sealed with this text, if the seal verifies."""
        return claimed_details(signature) if self.open(signature, thinking) else None

    def _mac(self, header: str, thinking: str, payload: str) -> bytes:
        digest = hashlib.sha256(thinking.encode()).digest()
        message = header.encode() + b"|" + digest + (b"|" + payload.encode() if payload else b"")
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


_OPEN_TAG, _CLOSE_TAG = "<think>", "</think>"


class ThinkSplitter:
    """Splits ``<think>...</think>`` reasoning out of streamed content (R1-style models, Groq ``raw``, Workers AI).

    ``feed(text) -> [("thinking" | "text", piece), ...]`` may be called with any fragments: a tag split across
    chunks is held back (at most ``len("</think>") - 1`` characters) until it can be recognised. ``flush()`` returns
    what is held back at the end. Whitespace right after ``</think>`` is dropped (the models put a blank line there).
    """

    __slots__ = ("_held", "_inside", "_trim")

    def __init__(self) -> None:
        self._inside = False
        self._trim = False
        self._held = ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        text = self._held + text
        while True:
            tag = _CLOSE_TAG if self._inside else _OPEN_TAG
            at = text.find(tag)
            if at < 0:
                break
            self._emit(text[:at], out)
            self._inside = not self._inside
            self._trim = not self._inside
            text = text[at + len(tag) :]
        keep = _partial_tag(text, _CLOSE_TAG if self._inside else _OPEN_TAG)
        self._held = text[len(text) - keep :] if keep else ""
        self._emit(text[: len(text) - keep], out)
        return out

    def flush(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        self._emit(self._held, out)
        self._held = ""
        return out

    def _emit(self, piece: str, out: list[tuple[str, str]]) -> None:
        if self._trim:
            piece = piece.lstrip()
            self._trim = not piece
        if piece:
            out.append(("thinking" if self._inside else "text", piece))


def _partial_tag(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def split_think(text: str) -> list[tuple[str, str]]:
    """The whole-message form of ``ThinkSplitter`` (non-streaming answers)."""
    splitter = ThinkSplitter()
    return splitter.feed(text) + splitter.flush()
