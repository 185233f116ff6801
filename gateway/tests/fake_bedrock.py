"""Bedrock and Vertex routes for the fake upstream, a fake Google token endpoint, a SigV4 checker.

Importing this module mounts the routes on `fake_upstream.ROUTES`:
- Bedrock `/model/{id}/converse`, `/converse-stream`, `/invoke`, `/invoke-with-response-stream`
  (binary event-stream frames with real CRCs). Requests must carry a valid SigV4 signature for
  `TEST_CREDENTIALS` (checked by an independent implementation, not botocore) or `Bearer TEST_BEDROCK_KEY`.
- Bedrock `/model/{id}/count-tokens` (CountTokens): `{"inputTokens": N}`, N counted by
  `fake_upstream.count_tokens` from the decoded InvokeModel body or the Converse messages.
- Vertex `...:rawPredict` / `...:streamRawPredict` (Anthropic shapes) and `.../count-tokens:rawPredict`
  (`{"input_tokens": N}`); the bearer must be a token that `FakeTokenServer` issued.
The scenario comes from the `x-fake-scenario` header or the model id in the path (`fake-tool`...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import threading
import zlib
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from aiohttp import web

from gateway.tests import fake_upstream as fu

TEST_CREDENTIALS = ("AKIDFAKEBEDROCK", "fake/secret+key", "fake-session-token")
TEST_BEDROCK_KEY = "bedrock-api-key-test"
# access key id -> secret the fake accepts SigV4 signatures of (BYOK tests add an org's own key here).
AWS_SECRETS: dict[str, str] = {TEST_CREDENTIALS[0]: TEST_CREDENTIALS[1]}
VALID_GOOGLE_TOKENS: set[str] = set()
EXCEPTIONS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}


# --- SigV4, written from the AWS spec (a second implementation to check botocore's output) ---


_STRING_HEADER = 7  # the event-stream header value type of a string


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One frame with string headers, CRCs included."""
    header_bytes = b"".join(_encode_header(name, value) for name, value in headers.items())
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + header_bytes + payload
    return body + struct.pack(">I", zlib.crc32(body))


def encode_event(event_type: str, payload: bytes) -> bytes:
    return encode_frame(
        {":message-type": "event", ":event-type": event_type, ":content-type": "application/json"}, payload
    )


def encode_exception(exception_type: str, payload: bytes) -> bytes:
    return encode_frame(
        {":message-type": "exception", ":exception-type": exception_type, ":content-type": "application/json"},
        payload,
    )


def _encode_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value


def sigv4_signature(
    method: str, path: str, headers: dict[str, str], payload: bytes, secret: str, region: str, service: str
) -> str:
    lower = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    auth = lower["authorization"]
    signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    amz_date = lower["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    # Non-S3 services sign the path URI-encoded once more (so %3A becomes %253A).
    canonical_uri = quote(path, safe="/~")
    canonical = "\n".join(
        [
            method,
            canonical_uri,
            "",
            "".join(f"{h}:{lower[h]}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sigv4_valid(method: str, raw_path: str, headers: dict[str, str], payload: bytes, secret: str) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False
    credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    _, _, region, service, _ = credential.split("/")
    given = auth.rsplit("Signature=", 1)[1]
    expected = sigv4_signature(method, raw_path, headers, payload, secret, region, service)
    return hmac.compare_digest(given, expected)


# --- Bedrock wire formats -----------------------------------------------------------------


def converse_events(answer: fu.Answer, stop: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if answer.reasoning:
        for part in fu._halves(answer.reasoning):
            events.append(_delta(index, {"reasoningContent": {"text": part}}))
        events += [_delta(index, {"reasoningContent": {"signature": "sig-fake-bedrock"}}), _stop(index)]
        index += 1
    if answer.text:
        events += [_delta(index, {"text": part}) for part in fu._halves(answer.text)] + [_stop(index)]
        index += 1
    for call_id, name, args in answer.tools:
        start = {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": call_id, "name": name}}}
        events.append(("contentBlockStart", start))
        events += [_delta(index, {"toolUse": {"input": p}}) for p in fu._halves(json.dumps(args))] + [_stop(index)]
        index += 1
    events.append(("messageStop", {"stopReason": stop}))
    if answer.usage:
        events.append(("metadata", {"usage": converse_usage(answer), "metrics": {"latencyMs": 7}}))
    return events


def _delta(index: int, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}


def _stop(index: int) -> tuple[str, dict[str, Any]]:
    return "contentBlockStop", {"contentBlockIndex": index}


def converse_usage(answer: fu.Answer) -> dict[str, int]:
    uncached = fu.PROMPT_TOKENS - fu.CACHED_TOKENS
    return {
        "inputTokens": uncached,
        "outputTokens": answer.completion_tokens,
        "totalTokens": uncached + answer.completion_tokens + fu.CACHED_TOKENS,
        "cacheReadInputTokens": fu.CACHED_TOKENS,
        "cacheWriteInputTokens": 0,
    }


def converse_message(answer: fu.Answer, stop: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if answer.reasoning:
        content.append({"reasoningContent": {"reasoningText": {"text": answer.reasoning, "signature": "sig-fb"}}})
    if answer.text:
        content.append({"text": answer.text})
    content += [{"toolUse": {"toolUseId": i, "name": n, "input": a}} for i, n, a in answer.tools]
    out: dict[str, Any] = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop}
    out["usage"] = converse_usage(answer) if answer.usage else {"inputTokens": 0, "outputTokens": 0}
    out["metrics"] = {"latencyMs": 7}
    return out


def converse_frames(answer: fu.Answer, stop: str) -> list[bytes]:
    return [encode_event(name, json.dumps(data).encode()) for name, data in converse_events(answer, stop)]


def invoke_chunk(event: dict[str, Any]) -> bytes:
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()}).encode()
    return encode_frame(
        {":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"}, payload
    )


def invoke_frames(answer: fu.Answer, body: dict[str, Any]) -> list[bytes]:
    events = fu.anthropic_events(answer, body)
    metrics = {"inputTokenCount": fu.PROMPT_TOKENS, "outputTokenCount": answer.completion_tokens}
    events[-1] = {**events[-1], "amazon-bedrock-invocationMetrics": metrics}
    return [invoke_chunk(e) for e in events]


def bedrock_error(status: int) -> web.Response:
    name = EXCEPTIONS.get(status, "InternalServerException")
    return web.json_response(
        {"message": f"fake bedrock {name}"}, status=403 if status == 401 else status, headers={"x-amzn-ErrorType": name}
    )


# --- routes -------------------------------------------------------------------------------


def _model_in_path(path: str) -> str:
    if "/model/" in path:
        return unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])
    return unquote(path.rsplit("/models/", 1)[-1].split(":", 1)[0])


def _scenario(request: web.Request) -> str:
    if request.headers.get("x-fake-scenario"):
        return request.headers["x-fake-scenario"]
    name = _model_in_path(request.path).rsplit("/", 1)[-1]
    return name.split("fake-", 1)[1].split("-v1", 1)[0].split("@", 1)[0] if "fake-" in name else "text"


async def _bedrock_authorized(request: web.Request) -> bool:
    auth = request.headers.get("authorization", "")
    if auth == f"Bearer {TEST_BEDROCK_KEY}":
        return True
    raw_path = request.raw_path.split("?", 1)[0]
    payload = await request.read()
    if request.headers.get("x-amz-content-sha256") != hashlib.sha256(payload).hexdigest():
        return False
    headers = {k: v for k, v in request.headers.items()}
    secret = AWS_SECRETS.get(access_key_id(auth))
    return secret is not None and sigv4_valid(request.method, raw_path, headers, payload, secret)


def access_key_id(authorization: str) -> str:
    """The access key id a SigV4 Authorization header names ("" when it names none)."""
    if "Credential=" not in authorization:
        return ""
    return authorization.split("Credential=", 1)[1].split("/", 1)[0]


async def _refusal(request: web.Request) -> web.Response | None:
    """Bedrock's answer to a badly signed request or to an error scenario; None to go on."""
    if not await _bedrock_authorized(request):
        return web.json_response({"message": "The request signature we calculated does not match"}, status=403)
    scenario = _scenario(request)
    if scenario in fu.ERROR_STATUSES:
        return bedrock_error(fu.ERROR_STATUSES[scenario])
    return None


async def bedrock(fake: fu.FakeUpstream, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    if (refused := await _refusal(request)) is not None:
        return refused
    scenario = _scenario(request)
    answer = fake.answer(scenario, body, fu.anthropic_has_tool_result(body))
    stop = "max_tokens" if scenario == "ignore-max" else fu.stop_reason(answer)
    path = request.path
    if path.endswith("/converse"):
        return web.json_response(converse_message(answer, stop))
    if path.endswith("/invoke"):
        return web.json_response(fu.anthropic_message(answer, {"model": _model_in_path(path)}))
    if path.endswith("/converse-stream"):
        frames = converse_frames(answer, stop)
    else:
        frames = invoke_frames(answer, {"model": _model_in_path(path)})
    if scenario == "midstream-error":
        frames = [*frames[:3], encode_exception("throttlingException", b'{"message":"slow down"}')]
    return await _event_stream(request, frames)


def counted(body: Any) -> Any:
    """What CountTokens counts: the decoded InvokeModel body, or the Converse request's parts."""
    count_input = body["input"]
    if "invokeModel" in count_input:
        return json.loads(base64.b64decode(count_input["invokeModel"]["body"]))
    return count_input["converse"]


async def bedrock_count(fake: fu.FakeUpstream, request: web.Request, body: Any, scenario: str) -> web.Response:
    if (refused := await _refusal(request)) is not None:
        return refused
    try:
        return web.json_response({"inputTokens": fu.count_tokens(counted(body))})
    except (KeyError, TypeError, ValueError):
        return bedrock_error(400)


async def bedrock_models(fake: fu.FakeUpstream, request: web.Request, body: Any, scenario: str) -> web.Response:
    """ListFoundationModels (GET /foundation-models), the cheap call that checks an org's own key."""
    if not await _bedrock_authorized(request):
        return web.json_response({"message": "The security token included in the request is invalid."}, status=403)
    return web.json_response({"modelSummaries": [{"modelId": "anthropic.claude-fake-text-v1"}]})


async def _event_stream(request: web.Request, frames: list[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    for frame in frames:
        await response.write(frame)
    await response.write_eof()
    return response


async def vertex(fake: fu.FakeUpstream, request: web.Request, body: Any, scenario: str) -> web.StreamResponse:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in VALID_GOOGLE_TOKENS:
        error = {
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED",
            }
        }
        return web.json_response([error], status=401)
    model = _model_in_path(request.path)
    if model == "count-tokens":  # Anthropic's count endpoint: the model is named in the body
        if not body.get("model") or "messages" not in body:
            return web.json_response({"error": {"code": 400, "message": "model and messages are required"}}, status=400)
        return web.json_response({"input_tokens": fu.count_tokens(body)})
    body = {**body, "model": model}
    if request.path.endswith("/chat/completions"):
        return await fake._openai(request, body, _scenario(request))
    return await fake._anthropic(request, body, _scenario(request))


fu.ROUTES.update(
    {
        "/converse": bedrock,
        "/converse-stream": bedrock,
        "/invoke": bedrock,
        "/invoke-with-response-stream": bedrock,
        "/count-tokens": bedrock_count,
        "/foundation-models": bedrock_models,
        ":rawPredict": vertex,
        ":streamRawPredict": vertex,
        "/endpoints/openapi/chat/completions": vertex,
    }
)


# --- Google OAuth2 token endpoint ---------------------------------------------------------


class FakeTokenServer:
    """POST /token with a JWT-bearer grant -> a fresh access token. Records every assertion."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.assertions: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def start(self) -> FakeTokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                owner.assertions.append(form.get("assertion", [""])[0])
                token = f"ya29.fake-{len(owner.assertions)}"
                VALID_GOOGLE_TOKENS.add(token)
                body = json.dumps({"access_token": token, "expires_in": owner.expires_in, "token_type": "Bearer"})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-google-token").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
