"""Upstream protocol modules, looked up by `Provider.protocol` through one plain dict.

Every module follows `ProviderModule` (gateway/providers/base.py); catalog's `Provider.Protocol` choices name the
same keys (a test pins the two equal).
"""

from __future__ import annotations

from gateway.providers import anthropic, bedrock, openai_compat, vertex, vertex_openai
from gateway.providers.base import ProviderModule

PROTOCOLS: dict[str, ProviderModule] = {
    "openai": openai_compat,
    "anthropic": anthropic,
    "bedrock": bedrock,
    "vertex-anthropic": vertex,
    "vertex-openai": vertex_openai,
}


def module_for(protocol: str) -> ProviderModule:
    """The module speaking `protocol`; KeyError for a protocol nobody implements."""
    return PROTOCOLS[protocol]
