"""The translation core: pure functions and per-request state machines, no Django.

A *dialect* is a wire format a body is written in: "anthropic" (Anthropic Messages) or "openai" (OpenAI Chat
Completions). A *surface* (gateway.surfaces) is an API clients call; each surface speaks one dialect, and each
upstream protocol (gateway.providers) speaks one dialect too. This package turns bodies, answers and stream events
from one dialect into the other (request, history, answer, stream, relay), with the per-target rules in shaping and
reasoning provenance in reasoning. responses/ translates the OpenAI Responses API to and from the two dialects.
"""
