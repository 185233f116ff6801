"""Provider text made fit for customers and logs: anything that looks like a credential, an id of the
operator's account at the provider, or an address of the operator's network is replaced by "[redacted]".

Pure (no Django): the gateway's error mapping (gateway/errors.py) and the stream translators
(gateway/translate/) read upstream error text only through here, before and after the first byte alike.
"""

from __future__ import annotations

import re

_REDACT = re.compile(
    r"""
    \b(?:sk|rk|pk)-[A-Za-z0-9_\-]{6,}              # OpenAI / Anthropic style keys (sk-..., sk-ant-..., sk-proj-...)
    | \b(?:ak|gsk|xai|csk|nvapi|pplx|fw|hf)_[A-Za-z0-9_\-]{8,}   # other providers' key prefixes (and ours)
    | \bAIza[0-9A-Za-z_\-]{20,}                     # Google API keys
    | \b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{12,}  # AWS access key ids
    | \b(?:org|proj|user|acct|ws|wrkspc)[-_][A-Za-z0-9]{6,}   # organisation, project, account ids
    | \b(?:bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}   # Authorization header values
    | \b(?:api[_-]?key|key|token|secret|password|access[_-]?token|account(?:[_ -]?id)?|project(?:[_ -]?id)?)
      \s*[:=]\s*["']?[^\s"',;&]+                    # key=..., token: ..., account_id=...
    | \barn:aws[A-Za-z\-]*:[^\s"']+                  # AWS ARNs (they carry the account id)
    | \b[a-z][a-z0-9+.\-]*://[^\s"'<>]+               # URLs: internal hosts, account-named endpoints, keys in queries
    | \b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b           # IPv4 addresses (the operator's network)
    | \b[0-9a-f]{32}\b                              # 32-hex ids (Cloudflare account and gateway ids)
    | \b\d{12}\b                                    # AWS account ids
    | [A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}   # emails (service accounts included)
    | \beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}(?:\.[A-Za-z0-9_\-]*)?   # JWTs
    """,
    re.IGNORECASE | re.VERBOSE,
)
REDACTED = "[redacted]"
# What of a provider's message reaches the customer: one line, this long at most.
MESSAGE_LIMIT = 500
# A provider's error type or code, as it may appear in an error object and the request log.
TYPE_LIMIT = 60


def redact(text: str) -> str:
    """Provider text with anything credential- or account-id-like replaced."""
    return _REDACT.sub(REDACTED, text)


def provider_message(message: object) -> str:
    """A provider's error message, redacted, on one line and at most MESSAGE_LIMIT characters."""
    return redact(" ".join(str(message or "").split()))[:MESSAGE_LIMIT]


def provider_type(value: object, default: str) -> str:
    """A provider's error type or code as a short redacted word (`default` when it gave none)."""
    text = "".join(str(value or "").split())
    return redact(text)[:TYPE_LIMIT] if text else default


def stream_error_message(error_type: str, message: object) -> str:
    """qlaud's words for an error the upstream sent inside a stream, with the provider's text redacted."""
    detail = provider_message(message)
    said = f"The upstream provider reported an error during the stream (type {error_type})"
    return f"{said}: {detail}" if detail else f"{said}."
