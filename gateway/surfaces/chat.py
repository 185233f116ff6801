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

from catalog.routing import cursor_effort
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
        ex.body = _as_responses_body(_with_variant_effort(ex.body, "reasoning"))
        return await responses.create(ex, as_chat=True)
    ex.body = _with_variant_effort(ex.body, "reasoning_effort")
    return await serve(ex, admitted=True)


def _with_variant_effort(body: dict[str, Any], field: str) -> dict[str, Any]:
    """Cursor's model variants (`gpt-5-high`, `claude-4.5-sonnet-thinking`) ask for a reasoning effort in the
    model's name: a body that names no effort of its own gets it, in the body's own shape. A body that forces a
    tool asked for something reasoning models refuse alongside thinking: what it said outright wins."""
    choice = body.get("tool_choice")
    forced = choice == "required" or (isinstance(choice, dict) and choice.get("type") in ("function", "tool", "any"))
    if body.get(field) is not None or forced:
        return body
    effort = cursor_effort(body["model"])
    if effort is None:
        return body
    return {**body, field: {"effort": effort} if field == "reasoning" else effort}
