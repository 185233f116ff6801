"""Upstream protocol modules, looked up by `Provider.protocol` through one plain dict.

Every module follows `ProviderModule` (gateway/providers/base.py); catalog's `Provider.Protocol` choices name the
same keys (gateway/tests/test_providers_conformance.py pins the two equal and runs every module through one suite).

A provider (a company behind a protocol) is described in at most three places: its catalog row
(catalog/data/catalog.yaml: slug, protocol, base URL, key variable, Cloudflare segment and kept path, config), the
quirks of its answers (gateway/translate/dialects.QUIRKS) and its request rules where it departs from its
dialect's default (gateway/translate/shaping.RULES, reasoning style included). An OpenAI-compatible provider needs no
code here: openai_compat speaks to all of them. `demo` is qlaud's own in-process upstream (model qlaud/demo).
"""

from __future__ import annotations

from gateway.providers import anthropic, bedrock, demo, openai_compat, vertex, vertex_openai
from gateway.providers.base import ProviderModule

PROTOCOLS: dict[str, ProviderModule] = {
    "openai": openai_compat,
    "anthropic": anthropic,
    "bedrock": bedrock,
    "vertex-anthropic": vertex,
    "vertex-openai": vertex_openai,
    "demo": demo,  # qlaud/demo, answered in-process (QLAUD_DEMO)
}


def module_for(protocol: str) -> ProviderModule:
    """The module speaking `protocol`; KeyError for a protocol nobody implements."""
    return PROTOCOLS[protocol]
