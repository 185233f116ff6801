"""The credential shapes of providers whose own key is more than one string (catalog.byok): Bedrock's access key
id, secret and region; Vertex's service account JSON, project and region.

Each shape cleans what a form or an API body gave (every value is checked before it reaches a URL: the region
and project become part of a host name or path), checks it upstream with one cheap signed call, and says what
may be shown back: the last four characters of the access key id or of the service account's key id, and a
label (region; the service account's e-mail, project and region). The secrets are stored encrypted as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings

from catalog.snapshot import expand_base_url
from lib import aws, jsonio

if TYPE_CHECKING:
    from catalog.models import Provider

CHECK_TIMEOUT = 10.0
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
AWS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
GOOGLE_REGION = re.compile(r"^(global|[a-z]+-[a-z]+\d{1,2})$")
GOOGLE_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
GOOGLE_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SERVICE_ACCOUNT_FIELDS = ("type", "client_email", "private_key", "private_key_id")


class CredentialRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Shape:
    fields: tuple[str, ...]
    clean: Callable[[Mapping[str, Any]], dict[str, Any]]
    check: Callable[[Provider, Mapping[str, Any]], None]
    last4: Callable[[Mapping[str, Any]], str]
    label: Callable[[Mapping[str, Any]], str]


def _text(given: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = given.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise CredentialRefused(f"{name} is required.")
    if pattern is not None and not pattern.match(text):
        raise CredentialRefused(f"{name} is not valid.")
    return text


# --- Bedrock ---------------------------------------------------------------------------------


def clean_bedrock(given: Mapping[str, Any]) -> dict[str, Any]:
    secret = _text(given, "secret_access_key")
    if len(secret) < 16:
        raise CredentialRefused("secret_access_key is not valid.")
    return {
        "access_key_id": _text(given, "access_key_id", AWS_KEY_ID),
        "secret_access_key": secret,
        "region": _text(given, "region", AWS_REGION),
    }


def bedrock_control_url(provider: Provider, region: str) -> str:
    """Bedrock's control plane for the region (ListFoundationModels); a non-AWS base URL (a test fake) wins."""
    base = expand_base_url(provider.base_url or "", provider.config).replace("{region}", region).rstrip("/")
    if not base or "amazonaws.com" in base:
        return f"https://bedrock.{region}.amazonaws.com/foundation-models"
    return base + "/foundation-models"


def check_bedrock(provider: Provider, fields: Mapping[str, Any]) -> None:
    """GET ListFoundationModels signed with the org's key: answers 200 for any key allowed to use Bedrock."""
    url = bedrock_control_url(provider, fields["region"])
    headers = {"accept": "application/json"}
    headers |= aws.sigv4_headers(
        fields["access_key_id"], fields["secret_access_key"], None, "bedrock", fields["region"], ("GET", url, {}, b"")
    )
    answered(provider, lambda: httpx.get(url, headers=headers, timeout=CHECK_TIMEOUT))


# --- Vertex ----------------------------------------------------------------------------------


def clean_vertex(given: Mapping[str, Any]) -> dict[str, Any]:
    raw = given.get("service_account")
    try:
        account = jsonio.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        raise CredentialRefused("service_account is not JSON.") from None
    if not isinstance(account, dict) or any(not isinstance(account.get(f), str) for f in SERVICE_ACCOUNT_FIELDS):
        raise CredentialRefused("service_account must be a service account key JSON (type, client_email, ...).")
    if account["type"] != "service_account":
        raise CredentialRefused("service_account must be of type service_account.")
    return {
        "service_account": {k: v for k, v in account.items() if isinstance(v, str)},
        "project": _text(given, "project", GOOGLE_PROJECT),
        "region": _text(given, "region", GOOGLE_REGION),
    }


def check_vertex(provider: Provider, fields: Mapping[str, Any]) -> None:
    """Mint an access token with the service account's key (Google refuses a revoked or wrong key), from
    settings.BYOK_GOOGLE_TOKEN_URI: never from the token_uri the customer's JSON names."""
    import urllib3
    from google.auth.exceptions import GoogleAuthError, RefreshError
    from google.auth.transport.urllib3 import Request
    from google.oauth2 import service_account

    info = {**fields["service_account"], "token_uri": settings.BYOK_GOOGLE_TOKEN_URI}
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=GOOGLE_SCOPES)
    except Exception:  # customer-given key material: whatever the PEM parser raises means "unreadable"
        raise CredentialRefused("The service account's private key could not be read.") from None
    pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=CHECK_TIMEOUT, read=CHECK_TIMEOUT))
    try:
        credentials.refresh(Request(pool))
    except RefreshError:
        raise CredentialRefused(f"{provider.name} refused this service account.") from None
    except (GoogleAuthError, urllib3.exceptions.HTTPError):
        raise CredentialRefused(f"Could not reach Google to check the service account for {provider.name}.") from None


def answered(provider: Provider, send: Callable[[], httpx.Response]) -> None:
    """Send the check; CredentialRefused unless the provider answered 2xx/3xx."""
    try:
        response = send()
    except httpx.HTTPError:
        raise CredentialRefused(f"Could not reach {provider.name} to check the key.") from None
    if response.status_code in (401, 403):
        raise CredentialRefused(f"{provider.name} refused this key ({response.status_code}).")
    if response.status_code >= 400:
        raise CredentialRefused(f"{provider.name} answered {response.status_code} when checking the key.")


BEDROCK = Shape(
    fields=("access_key_id", "secret_access_key", "region"),
    clean=clean_bedrock,
    check=check_bedrock,
    last4=lambda f: f["access_key_id"][-4:],
    label=lambda f: f["region"],
)
VERTEX = Shape(
    fields=("service_account", "project", "region"),
    clean=clean_vertex,
    check=check_vertex,
    last4=lambda f: f["service_account"]["private_key_id"][-4:],
    label=lambda f: f"{f['service_account']['client_email']} · {f['project']} · {f['region']}",
)
# Provider.protocol -> its shape; every other supported protocol takes one bearer-style key.
SHAPES: dict[str, Shape] = {"bedrock": BEDROCK, "vertex-anthropic": VERTEX, "vertex-openai": VERTEX}
