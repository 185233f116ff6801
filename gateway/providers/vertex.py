"""Google Vertex AI, protocol "vertex-anthropic": Claude through rawPredict / streamRawPredict.

The body is the Anthropic Messages body without `model`, plus `anthropic_version`; the answer
(JSON or SSE) is Anthropic's own, so decoding is the anthropic module's. The OpenAI-compatible
endpoint (Gemini and open models) is `vertex_openai`, sharing the auth and URLs defined here.

Auth: an OAuth2 access token minted from the service account in GOOGLE_APPLICATION_CREDENTIALS
(or the provider config's `credentials_file`) with google-auth, cached per process. Minting is
blocking I/O: `prepare(call)` does it off the event loop; `build_request` only reads the cache,
refreshing in a background thread ahead of expiry, and blocks only when it has no token at all.

Token counting: Anthropic's `count-tokens:rawPredict` (the model named in the body, not the path),
answering `{"input_tokens": N}` as Anthropic's own endpoint does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from google.auth.exceptions import GoogleAuthError

from gateway.providers import anthropic, cloudflare
from gateway.providers.base import Call, UpstreamError, UpstreamRequest
from gateway.providers.common import classify, loads

DIALECT = "anthropic"
ANTHROPIC_VERSION = "vertex-2023-10-16"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
CLOUDFLARE_SEGMENT = "google-vertex-ai"
# Tokens live about an hour: refresh in the background in the last 10 minutes, and never
# send one with less than a minute left.
REFRESH_AHEAD = dt.timedelta(minutes=10)
MIN_REMAINING = dt.timedelta(minutes=1)

iter_events = anthropic.iter_events
stream_decoder = anthropic.stream_decoder
parse_response = anthropic.parse_response
parse_count_tokens = anthropic.parse_count_tokens


class TokenSource:
    """One service account's access token, shared by every request of the process."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        from google.oauth2 import service_account  # on first use: only workers with Vertex hosts need the signer

        self._credentials = service_account.Credentials.from_service_account_info(dict(info), scopes=SCOPES)
        self._lock = threading.Lock()
        self._refreshing = False

    def cached(self) -> str | None:
        """The token if it has more than MIN_REMAINING left; starts a background refresh near expiry."""
        left = self._remaining()
        if left is None or left < MIN_REMAINING:
            return None
        if left < REFRESH_AHEAD:
            self._refresh_in_background()
        return self._credentials.token

    def get_blocking(self) -> str:
        with self._lock:
            left = self._remaining()
            if left is None or left < REFRESH_AHEAD:
                self._credentials.refresh(_auth_request())
            return str(self._credentials.token)

    async def get(self) -> str:
        cached = self.cached()
        if cached:
            return cached
        return await asyncio.to_thread(self.get_blocking)

    def _remaining(self) -> dt.timedelta | None:
        expiry, token = self._credentials.expiry, self._credentials.token
        if not token or expiry is None:
            return None
        return expiry - dt.datetime.now(dt.UTC).replace(tzinfo=None)  # google-auth keeps naive UTC

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._background_refresh, name="vertex-token", daemon=True).start()

    def _background_refresh(self) -> None:
        try:
            self.get_blocking()
        except Exception:  # the next request retries in the foreground
            pass
        finally:
            self._refreshing = False


def _auth_request() -> Any:
    # Imported on first use, like the signer: only workers with Vertex hosts mint tokens.
    import urllib3
    from google.auth.transport.urllib3 import Request

    return Request(urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=20.0)))


_sources: dict[str, TokenSource] = {}
_sources_lock = threading.Lock()


def _credentials_path(provider: Any) -> str:
    return str(_config(provider).get("credentials_file") or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", ""))


def token_source(provider: Any) -> TokenSource | None:
    path = _credentials_path(provider)
    if not path:
        return None
    with _sources_lock:
        if path not in _sources:
            with open(path, encoding="utf-8") as handle:
                _sources[path] = TokenSource(json.load(handle))
        return _sources[path]


def reset_tokens() -> None:
    """Forget cached credentials (tests; a rotated key file)."""
    with _sources_lock:
        _sources.clear()


def org_token_source(credential: Mapping[str, Any]) -> TokenSource:
    """The token source of an org's own service account (BYOK), keyed by the whole credential's hash: a source
    is shared only by requests that hold the very same key. Its tokens come from settings.BYOK_GOOGLE_TOKEN_URI,
    never from a URL the customer's JSON names."""
    key = org_source_key(credential)
    with _sources_lock:
        if key not in _sources:
            info = {**credential["service_account"], "token_uri": settings.BYOK_GOOGLE_TOKEN_URI}
            _sources[key] = TokenSource(info)
        return _sources[key]


def org_source_key(credential: Mapping[str, Any]) -> str:
    return "byok:" + hashlib.sha256(json.dumps(credential, sort_keys=True).encode()).hexdigest()


async def prepare(call: Call) -> None:
    """Make sure a fresh token is cached, off the event loop (the pipeline calls it before
    build_request). With a token cached this touches no thread and no file."""
    path = _credentials_path(call.host.provider)
    if not path and not call.credential:
        return
    try:
        if call.credential:  # built off the loop once (reading the key is blocking), then from memory
            cached = _sources.get(org_source_key(call.credential))
            source: TokenSource | None = cached or await asyncio.to_thread(org_token_source, call.credential)
        else:
            source = _sources.get(path) or await asyncio.to_thread(token_source, call.host.provider)
        if source is not None:
            await source.get()
    except (OSError, ValueError, KeyError, GoogleAuthError) as exc:  # unreadable key, refused/unreachable server
        raise UpstreamError(
            401, "authentication_error", f"Vertex AI credentials failed: {type(exc).__name__}", retryable=True
        ) from None


def access_token(call: Call) -> str:
    source = org_token_source(call.credential) if call.credential else token_source(call.host.provider)
    if source is not None:
        return source.cached() or source.get_blocking()
    if call.api_key:  # an access token handed over directly (e.g. from `gcloud auth print-access-token`)
        return call.api_key
    raise UpstreamError(401, "authentication_error", "Vertex AI credentials are not configured", retryable=True)


# --- URLs ---------------------------------------------------------------------------------


def _config(provider: Any) -> Mapping[str, Any]:
    return getattr(provider, "config", None) or {}


def location_of(provider: Any, credential: Mapping[str, Any] | None = None) -> str:
    """The org's own region (BYOK), else the provider's, else the environment's."""
    if credential:
        return str(credential["region"])
    return str(_config(provider).get("location") or os.environ.get("VERTEX_LOCATION") or "global")


def project_of(provider: Any, credential: Mapping[str, Any] | None = None) -> str:
    if credential:
        return str(credential["project"])
    project = _config(provider).get("project") or os.environ.get("VERTEX_PROJECT")
    if not project:
        raise UpstreamError(401, "authentication_error", "Vertex AI project is not configured", retryable=True)
    return str(project)


def origin(provider: Any, location: str) -> str:
    """Google's host for the location; a base URL elsewhere (a proxy, a test fake) wins."""
    base = (getattr(provider, "base_url", "") or "").rstrip("/")
    if base and "googleapis.com" not in base:
        return base.replace("{location}", location)
    host = "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
    return f"https://{host}"


def resource_path(provider: Any, credential: Mapping[str, Any] | None = None) -> str:
    location = location_of(provider, credential)
    return f"/v1/projects/{project_of(provider, credential)}/locations/{location}"


def request(call: Call, path: str, headers: dict[str, str], body: dict[str, Any]) -> UpstreamRequest:
    """Auth, then the direct URL or its Cloudflare AI Gateway form (real access token, provider path)."""
    provider = call.host.provider
    headers["authorization"] = f"Bearer {access_token(call)}"
    url = origin(provider, location_of(provider, call.credential)) + path
    if cloudflare.enabled(provider):
        segment = getattr(provider, "cf_segment", "") or CLOUDFLARE_SEGMENT
        base = settings.CF_AIG_BASE_URL.rstrip("/")
        url = f"{base}/{settings.CF_AIG_ACCOUNT_ID}/{settings.CF_AIG_GATEWAY_ID}/{segment}{path}"
        headers.update(cloudflare.headers(call.metadata, call.customer_prices))
    return UpstreamRequest("POST", url, headers, json.dumps(body, separators=(",", ":")).encode())


# --- protocol "vertex-anthropic" ----------------------------------------------------------


def build_request(call: Call) -> UpstreamRequest:
    provider = call.host.provider
    method = "streamRawPredict" if call.stream else "rawPredict"
    path = f"{resource_path(provider, call.credential)}/publishers/anthropic/models/{call.host.upstream_model}:{method}"
    body = {k: v for k, v in call.body.items() if k != "model"}
    body["anthropic_version"] = ANTHROPIC_VERSION
    body["stream"] = call.stream
    return request(call, path, _headers(call, "text/event-stream" if call.stream else "application/json"), body)


def build_count_tokens(call: Call) -> UpstreamRequest:
    """Anthropic's count endpoint on Vertex: one path for every model, the model named in the body."""
    path = f"{resource_path(call.host.provider, call.credential)}/publishers/anthropic/models/count-tokens:rawPredict"
    body = {k: v for k, v in call.body.items() if k in anthropic.COUNT_FIELDS}
    body["model"] = call.host.upstream_model
    body["anthropic_version"] = ANTHROPIC_VERSION
    return request(call, path, _headers(call, "application/json"), body)


def _headers(call: Call, accept: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": accept}
    beta = {k.lower(): v for k, v in call.incoming_headers.items()}.get("anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    return headers


def parse_error(status: int, content: bytes) -> UpstreamError:
    """Anthropic's error shape from Claude itself, Google's ({"error":{code,message,status}}) from Vertex."""
    body = loads(content.decode(errors="replace"))
    if body is None:  # Vertex sometimes wraps the error in a one-element list
        listed = _list_body(content)
        body = listed[0] if listed and isinstance(listed[0], dict) else {}
        content = json.dumps(body).encode()
    if not isinstance(body, dict):
        body = {}
    found = body.get("error")
    err: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = err.get("type") if isinstance(err.get("type"), str) else None
    return classify(status, content, kind)


def _list_body(content: bytes) -> list[Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return []
    return value if isinstance(value, list) else []
