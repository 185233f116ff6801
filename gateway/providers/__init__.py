"""Upstream protocol modules, looked up by `Provider.protocol` through a plain dict.

Every module follows the interface described in gateway/providers/base.py.
"""

from __future__ import annotations

from types import ModuleType

from gateway.providers import anthropic, openai_compat

PROTOCOLS: dict[str, ModuleType] = {
    "openai": openai_compat,
    "anthropic": anthropic,
}

# --- Bedrock / Vertex: their helper registers the modules here --------------------------
# e.g. PROTOCOLS["bedrock"] = bedrock; PROTOCOLS["vertex"] = vertex
from gateway.providers import bedrock, vertex, vertex_openai  # noqa: E402

PROTOCOLS["bedrock"] = bedrock
PROTOCOLS["vertex-anthropic"] = vertex
PROTOCOLS["vertex-openai"] = vertex_openai
# ----------------------------------------------------------------------------------------


def module_for(protocol: str) -> ModuleType:
    """The module speaking `protocol`; KeyError for a protocol nobody implements."""
    return PROTOCOLS[protocol]
