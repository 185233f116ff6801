"""The OpenAI Chat Completions surface: POST /v1/chat/completions.

Streaming is chosen by the body's `stream`; query strings are ignored; both auth headers work; every error is in
the OpenAI shape.

Cursor ("Override OpenAI Base URL") posts a Responses API body here for OpenAI-family models (`input`, no
`messages`) and reads the answer as Chat Completions: such a body is served by the Responses surface, which
answers in Chat Completions (gateway.translate.responses.chat_output).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import pipeline
from gateway.errors import GatewayError
from gateway.surfaces import responses
from gateway.surfaces.exchange import Exchange, Incoming, Surface, admit, refuse, serve
from gateway.translate import relay


def is_responses_body(body: dict[str, Any]) -> bool:
    return "messages" not in body and "input" in body


def _as_responses_body(body: dict[str, Any]) -> dict[str, Any]:
    """A follow-up names the answer it continues by the id it was given: `chatcmpl-X` is the response `resp_X`."""
    previous = body.get("previous_response_id")
    if isinstance(previous, str) and previous.startswith("chatcmpl-"):
        return {**body, "previous_response_id": "resp_" + previous.removeprefix("chatcmpl-")}
    return body


def _validate(body: dict[str, Any]) -> None:
    if is_responses_body(body):
        responses.validate_responses(body)
    else:
        pipeline.validate_chat(body)


CHAT = Surface("chat", relay.OPENAI, _validate)


@csrf_exempt
async def chat_completions(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    ex = Exchange(CHAT, request)
    try:
        await admit(ex)
    except GatewayError as err:
        return await refuse(ex, err)
    if is_responses_body(ex.body):
        ex.body = _as_responses_body(ex.body)
        return await responses.create(ex, as_chat=True)
    return await serve(ex, admitted=True)
