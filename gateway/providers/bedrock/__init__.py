"""AWS Bedrock (protocol "bedrock"), Anthropic dialect in and out.

Claude goes through InvokeModel with the native Anthropic body (the stream's event-stream
frames carry base64 Anthropic events); every other model goes through Converse, translated
in `bedrock_converse`. Chosen per host: a host capability "bedrock-invoke" or "bedrock-converse"
if the catalog sets one, otherwise by the upstream model id (`anthropic.`, `us.anthropic.`...).

Auth: a Bedrock API key (`Authorization: Bearer`, from the provider's key or
AWS_BEARER_TOKEN_BEDROCK) when one is configured, else SigV4 with botocore's signer and the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN environment.

Token counting: CountTokens (`/model/{id}/count-tokens`), signed the same way, wrapping the
body either API would get; it answers `{"inputTokens": N}`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from gateway.providers import cloudflare
from gateway.providers.base import Call, Event, UpstreamError, UpstreamRequest
from gateway.providers.bedrock import converse
from gateway.providers.bedrock.eventstream import EventStreamError, Frame, FrameDecoder
from lib import aws

DIALECT = "anthropic"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
SIGNING_SERVICE = "bedrock"
DEFAULT_REGION = "us-east-1"
CLOUDFLARE_SEGMENT = "aws-bedrock"

_ANTHROPIC_MODEL = re.compile(r"(^|[.:/])anthropic\.")
_REGION_IN_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
_DROPPED_INVOKE_FIELDS = ("model", "stream")
_INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
# What CountTokens' ConverseTokensRequest accepts of a Converse body (no inferenceConfig).
CONVERSE_COUNT_FIELDS = ("messages", "system", "toolConfig", "additionalModelRequestFields")

# exception name -> (status, Anthropic error type, try the next host?)
EXCEPTIONS: dict[str, tuple[int, str, bool]] = {
    "ThrottlingException": (429, "rate_limit_error", True),
    "ServiceQuotaExceededException": (429, "rate_limit_error", True),
    "ModelNotReadyException": (503, "overloaded_error", True),
    "ServiceUnavailableException": (503, "overloaded_error", True),
    "InternalServerException": (500, "api_error", True),
    "ModelErrorException": (424, "api_error", True),
    "ModelStreamErrorException": (424, "api_error", True),
    "ModelTimeoutException": (408, "timeout_error", True),
    "ValidationException": (400, "invalid_request_error", False),
    "AccessDeniedException": (403, "permission_error", True),
    "UnrecognizedClientException": (403, "authentication_error", True),
    "ResourceNotFoundException": (404, "not_found_error", True),
}
STATUSES: dict[int, tuple[str, bool]] = {
    400: ("invalid_request_error", False),
    401: ("authentication_error", True),
    403: ("permission_error", True),
    404: ("not_found_error", True),
    408: ("timeout_error", True),
    413: ("request_too_large", False),
    424: ("api_error", True),
    429: ("rate_limit_error", True),
    503: ("overloaded_error", True),
}


# --- request ------------------------------------------------------------------------------

prepare = None  # requests are signed as they are built


def build_request(call: Call) -> UpstreamRequest:
    invoke = uses_invoke(call.host)
    body = _invoke_body(call) if invoke else _converse_body(call)
    return _signed(call, _operation(invoke, call.stream), _json_bytes(body))


def build_count_tokens(call: Call) -> UpstreamRequest:
    """CountTokens takes the InvokeModel body base64-encoded, or the Converse request's countable parts."""
    if uses_invoke(call.host):
        body = base64.b64encode(_json_bytes(_invoke_body(call))).decode()
        count_input: dict[str, Any] = {"invokeModel": {"body": body}}
    else:
        countable = {k: v for k, v in _converse_body(call).items() if k in CONVERSE_COUNT_FIELDS}
        count_input = {"converse": countable}
    return _signed(call, "count-tokens", _json_bytes({"input": count_input}))


def parse_count_tokens(content: bytes) -> int:
    return int(json.loads(content)["inputTokens"])


def uses_invoke(host: Any) -> bool:
    """A host capability "bedrock-invoke" / "bedrock-converse" decides; else Claude ids use Invoke."""
    capabilities = getattr(host, "capabilities", None) or ()
    if "bedrock-converse" in capabilities:
        return False
    return "bedrock-invoke" in capabilities or bool(_ANTHROPIC_MODEL.search(host.upstream_model))


def region_for(provider: Any) -> str:
    config = getattr(provider, "config", None) or {}
    if config.get("region"):
        return str(config["region"])
    if match := _REGION_IN_HOST.search(getattr(provider, "base_url", "") or ""):
        return match.group(1)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _origin(provider: Any, region: str) -> str:
    base = (getattr(provider, "base_url", "") or "").rstrip("/")
    if getattr(provider, "via_cloudflare", False) or not base:
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    return base.replace("{region}", region)


def _converse_body(call: Call) -> dict[str, Any]:
    try:
        return converse.to_converse(call.body, model_id=call.host.upstream_model)
    except converse.UnsupportedContent as exc:
        # Another host (Anthropic, Vertex) may take what Converse cannot: let failover try it.
        raise UpstreamError(400, "invalid_request_error", str(exc), retryable=True) from exc


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _signed(call: Call, operation: str, content: bytes) -> UpstreamRequest:
    """POST to /model/{id}/{operation}, signed against the AWS URL (also when sent through Cloudflare)."""
    provider = call.host.provider
    region = call.credential["region"] if call.credential else region_for(provider)
    # ":" stays literal: aiohttp (yarl) would decode %3A on the wire and break the signature.
    path = f"/model/{quote(call.host.upstream_model, safe=':')}/{operation}"
    aws_url = _origin(provider, region) + path
    headers = {"content-type": "application/json", "accept": "application/json"}
    if call.credential:
        headers.update(org_auth_headers(call.credential, "POST", aws_url, headers, content))
    else:
        headers.update(auth_headers(call.api_key, "POST", aws_url, headers, content, region))
    if getattr(provider, "via_cloudflare", False):
        # Signed against the AWS URL; Cloudflare forwards it unchanged.
        headers |= cloudflare.headers(call.metadata, call.customer_prices)
        return UpstreamRequest("POST", _cloudflare_url(provider, region, path), headers, content)
    return UpstreamRequest("POST", aws_url, headers, content)


def _operation(invoke: bool, stream: bool) -> str:
    if invoke:
        return "invoke-with-response-stream" if stream else "invoke"
    return "converse-stream" if stream else "converse"


def _invoke_body(call: Call) -> dict[str, Any]:
    body = {k: v for k, v in call.body.items() if k not in _DROPPED_INVOKE_FIELDS}
    body["anthropic_version"] = ANTHROPIC_VERSION
    # Bedrock takes Anthropic beta flags in the body, not as a header.
    beta = _header(call.incoming_headers, "anthropic-beta")
    if beta and "anthropic_beta" not in body:
        body["anthropic_beta"] = [flag.strip() for flag in beta.split(",") if flag.strip()]
    return body


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def auth_headers(
    api_key: str | None, method: str, url: str, headers: Mapping[str, str], content: bytes, region: str
) -> dict[str, str]:
    """Bearer for a Bedrock API key, else SigV4 headers (authorization, x-amz-date, content sha...)."""
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    # A catalog row may name an AWS key variable as its "api key": never send that as a bearer.
    bearer = api_key if api_key and api_key not in (access, secret) else os.environ.get("AWS_BEARER_TOKEN_BEDROCK")
    if bearer:
        return {"authorization": f"Bearer {bearer}"}
    if not (access and secret):
        raise UpstreamError(401, "authentication_error", "Bedrock credentials are not configured", retryable=True)
    session = os.environ.get("AWS_SESSION_TOKEN") or None
    return aws.sigv4_headers(access, secret, session, SIGNING_SERVICE, region, (method, url, headers, content))


def org_auth_headers(
    credential: Mapping[str, str], method: str, url: str, headers: Mapping[str, str], content: bytes
) -> dict[str, str]:
    """SigV4 with the requesting org's own access key (BYOK), never qlaud's environment."""
    access, secret, region = credential["access_key_id"], credential["secret_access_key"], credential["region"]
    return aws.sigv4_headers(access, secret, None, SIGNING_SERVICE, region, (method, url, headers, content))


def _cloudflare_url(provider: Any, region: str, path: str) -> str:
    base = settings.CF_AIG_BASE_URL.rstrip("/")
    segment = getattr(provider, "cf_segment", "") or CLOUDFLARE_SEGMENT
    return f"{base}/{settings.CF_AIG_ACCOUNT_ID}/{settings.CF_AIG_GATEWAY_ID}/{segment}/bedrock-runtime/{region}{path}"


# --- response -----------------------------------------------------------------------------


def parse_response(content: bytes) -> dict[str, Any]:
    data = json.loads(content)
    if "output" in data:  # Converse
        return converse.message_from_converse(data)
    data.pop(_INVOCATION_METRICS, None)
    return data


stream_decoder = None  # binary event-stream frames: relayed through iter_events


async def iter_events(response: httpx.Response) -> AsyncIterator[Event]:
    decoder, stream = FrameDecoder(), _Stream()
    try:
        async for chunk in response.aiter_bytes():
            for frame in decoder.feed(chunk):
                for event in stream.events(frame):
                    yield event
        decoder.flush()
    except EventStreamError as exc:
        raise UpstreamError(502, "api_error", f"Bedrock sent a corrupt event stream: {exc}", retryable=False) from exc
    for event in stream.finish():
        yield event


class _Stream:
    """Frames of either API to Anthropic events; Converse needs a translator, Invoke does not."""

    def __init__(self) -> None:
        self._converse: converse.ConverseToAnthropic | None = None

    def events(self, frame: Frame) -> list[Event]:
        if frame.message_type != "event":
            raise frame_error(frame)
        if frame.event_type == "chunk":
            return [_invoke_event(frame.payload)]
        if self._converse is None:
            self._converse = converse.ConverseToAnthropic()
        return self._converse.feed(frame.event_type, json.loads(frame.payload or b"{}"))

    def finish(self) -> list[Event]:
        return self._converse.finish() if self._converse is not None else []


def _invoke_event(payload: bytes) -> Event:
    data = json.loads(base64.b64decode(json.loads(payload)["bytes"]))
    data.pop(_INVOCATION_METRICS, None)
    return data.get("type", ""), data


def frame_error(frame: Frame) -> UpstreamError:
    name = frame.exception_type or frame.headers.get(":error-code") or ""
    name = str(name)[:1].upper() + str(name)[1:]  # stream frames say throttlingException
    status, kind, retryable = EXCEPTIONS.get(name, (502, "api_error", True))
    message = _message(frame.payload) or str(frame.headers.get(":error-message", "")) or name
    return UpstreamError(status, kind, message, retryable=retryable)


def parse_error(status: int, content: bytes) -> UpstreamError:
    message, name = _message(content), _exception_name(content)
    if name in EXCEPTIONS:
        status, kind, retryable = EXCEPTIONS[name]
    else:
        kind, retryable = STATUSES.get(status, ("api_error", status >= 500))
    return UpstreamError(status, kind, message or f"Bedrock returned HTTP {status}", retryable=retryable)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _message(content: bytes) -> str:
    data = _json(content)
    if isinstance(data, dict):
        text = data.get("message") or data.get("Message")
        if not text and isinstance(data.get("error"), list) and data["error"]:  # Cloudflare's own errors
            text = data["error"][0].get("message")
        return str(text or "")
    return content.decode(errors="replace")[:500].strip()


def _exception_name(content: bytes) -> str:
    data = _json(content)
    raw = str(data.get("__type") or "") if isinstance(data, dict) else ""
    return raw.rsplit("#", 1)[-1].split(":", 1)[0]
