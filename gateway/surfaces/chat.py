"""The OpenAI Chat Completions surface: POST /v1/chat/completions.

Streaming is chosen by the body's `stream`; query strings are ignored; both auth headers work; every error is in
the OpenAI shape.
"""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import pipeline
from gateway.surfaces.exchange import Exchange, Incoming, Surface, serve
from gateway.translate import relay

CHAT = Surface("chat", relay.OPENAI, pipeline.validate_chat)


@csrf_exempt
async def chat_completions(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    return await serve(Exchange(CHAT, request))
