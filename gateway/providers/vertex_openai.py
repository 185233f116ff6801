"""Google Vertex AI, protocol "vertex-openai": the OpenAI-compatible endpoint (Gemini, open models).

Model ids are publisher-prefixed (`google/gemini-2.5-flash`). Auth and URLs are vertex's; the
answer is OpenAI Chat Completions, so decoding is openai_compat's.
"""

from __future__ import annotations

from gateway.providers import openai_compat, vertex
from gateway.providers.base import Call, UpstreamRequest

DIALECT = "openai"

iter_events = openai_compat.iter_events
stream_decoder = openai_compat.stream_decoder
parse_response = openai_compat.parse_response
parse_error = vertex.parse_error
prepare = vertex.prepare
parse_count_tokens = openai_compat.parse_count_tokens


def build_request(call: Call) -> UpstreamRequest:
    path = f"{vertex.resource_path(call.host.provider, call.credential)}/endpoints/openapi/chat/completions"
    body = {**call.body, "model": call.host.upstream_model, "stream": call.stream}
    headers = {"content-type": "application/json", "accept": "text/event-stream" if call.stream else "application/json"}
    return vertex.request(call, path, headers, body)


def build_count_tokens(call: Call) -> UpstreamRequest | None:
    return None  # no count endpoint on the OpenAI-compatible surface; the gateway estimates
