"""The Anthropic Messages surface: POST /v1/messages and POST /v1/messages/count_tokens.

Streaming is chosen by the body's `stream`; query strings are ignored; both auth headers work; every error is in
the Anthropic shape.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import errors, outbound, pipeline
from gateway.errors import GatewayError
from gateway.surfaces.exchange import Exchange, Incoming, Surface, admit, body_for, serve
from gateway.translate import relay

log = logging.getLogger(__name__)


def _validate_count(body: dict[str, Any]) -> None:
    pipeline.validate_messages(body, count_only=True)


MESSAGES = Surface("messages", relay.ANTHROPIC, pipeline.validate_messages)
COUNT_TOKENS = Surface("count_tokens", relay.ANTHROPIC, _validate_count)


@csrf_exempt
async def messages(request: Incoming) -> HttpResponse | StreamingHttpResponse:
    return await serve(Exchange(MESSAGES, request))


@csrf_exempt
async def count_tokens(request: Incoming) -> HttpResponse:
    ex = Exchange(COUNT_TOKENS, request)
    try:
        await admit(ex)
        return JsonResponse({"input_tokens": await _count(ex)}, headers=ex.headers())
    except GatewayError as err:
        return errors.render(err, relay.ANTHROPIC, ex.request_id)
    except Exception:
        log.exception("count_tokens failed (request %s)", ex.request_id)
        return errors.render(GatewayError("api_error", "Internal error."), relay.ANTHROPIC, ex.request_id)


async def _count(ex: Exchange) -> int:
    """The upstream's own count where the host has one, else the estimator."""
    route = await pipeline.resolve_route(ex.key, ex.body)
    build = body_for(relay.ANTHROPIC, {**ex.body, "max_tokens": 1})
    for host in route.hosts[:1]:
        module = pipeline.module_for(host.provider.protocol)
        call = pipeline.make_call(host, build(host, module), False, ex.request.headers, ex.tags)
        try:
            await pipeline.prepare(call, module)
            req = module.build_count_tokens(call)
            if req is None:
                break
            response = await outbound.send(req.method, req.url, req.headers, req.content)
            try:
                await response.aread()
            finally:
                await response.aclose()
            if response.status_code < 400:
                return int(module.parse_count_tokens(response.content))
            log.info("native count_tokens got HTTP %s from host %s; estimating", response.status_code, host.id)
        except Exception:  # a count is advisory: no failure of the native endpoint may fail the request
            log.warning("native count_tokens failed on host %s; estimating", host.id, exc_info=True)
    return pipeline.estimate_input_tokens(ex.body, route.model.id)
