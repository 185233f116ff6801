"""Per-upstream request rules: ONE table saying what each target accepts. Pure, no Django.

``RULES`` maps ``(dialect, provider slug)`` to a ``Rules`` row; ``rules_for(target)`` falls back to the dialect's
default row for providers not listed. Everything provider-specific in ``gateway.translate.request`` reads this table
instead of branching on provider names.

Also here:
- ``effort_for_budget(budget)`` / ``budget_for_effort(effort)``: the qlaud effort <-> thinking budget convention
  (low 1024, medium 8192, high 24576).
- ``mistral_tool_id(tool_id)``: the deterministic 9-character ``[A-Za-z0-9]`` id Mistral insists on.
- ``forward_headers(target, incoming_headers) -> dict``: ``anthropic-beta`` / ``anthropic-version`` pass-through to
  Anthropic-family upstreams only (DeepSeek's Anthropic endpoint ignores them, so they are not sent there either).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ANTHROPIC_BODY_FIELDS",
    "MISTRAL_FIELDS",
    "RULES",
    "Rules",
    "Target",
    "budget_for_effort",
    "effort_for_budget",
    "forward_headers",
    "inlines_think",
    "mistral_tool_id",
    "rules_for",
]


@dataclass(frozen=True, slots=True)
class Target:
    """The host a request is shaped for: its dialect, provider and capabilities."""

    dialect: str  # "openai" | "anthropic"
    provider: str  # slug: deepseek, groq, openai, mistral, cerebras, openrouter, xai, workers-ai, anthropic, ...
    upstream_model: str
    max_output_tokens: int | None = None
    supports_reasoning: bool = False
    supports_tools: bool = True
    supports_vision: bool = True
    default_max_tokens: int = 4096  # Anthropic requires max_tokens; used when an OpenAI client sent none


@dataclass(frozen=True, slots=True)
class Rules:
    """What one upstream accepts. Defaults describe a lenient OpenAI-compatible upstream."""

    max_tokens_field: str = "max_tokens"  # or "max_completion_tokens" (OpenAI: reasoning models reject max_tokens)
    stream_usage: bool = True  # accepts stream_options.include_usage (Mistral: 422, sends usage anyway)
    user: bool = True  # accepts `user`
    parallel_tool_calls: bool = True
    forced_tool_choice: bool = True  # accepts "required" / a named function (Cerebras: auto|none only)
    top_k: bool = False  # OpenAI dialect; every Anthropic-dialect upstream takes top_k
    seed_field: str = "seed"  # Mistral calls it random_seed
    developer_role: bool = False  # keeps `developer` messages; others get them as `system`
    message_names: bool = True  # accepts messages[].name (Groq, Mistral: no)
    # How reasoning is switched on: effort (reasoning_effort), deepseek (thinking:{type}), openrouter (reasoning:{}),
    # groq (reasoning_format / reasoning_effort for gpt-oss), anthropic (thinking budget), none (cannot).
    reasoning: str = "effort"
    effort_models: tuple[str, ...] = ()  # only these model-id substrings accept reasoning_effort; () = every model
    efforts: Mapping[str, str] = field(default_factory=dict)  # remap effort values the upstream does not know
    inline_think: bool = False  # reasoning arrives as <think>...</think> inside content (R1-style hosts)
    reasoning_replay: str | None = None  # assistant-message field for replayed thinking (DeepSeek: reasoning_content)
    reasoning_drops: frozenset[str] = frozenset()  # fields reasoning models of this provider reject
    max_stop: int | None = None  # most stop sequences accepted (OpenAI: 4)
    tool_id: str = "keep"  # or "mistral9"
    thought_signatures: bool = False  # Gemini 3: tool calls carry extra_content.google.thought_signature back
    allowed: frozenset[str] | None = None  # strict top-level whitelist (Mistral: 422 on anything else)
    drop: frozenset[str] = frozenset()  # top-level fields this upstream rejects
    anthropic_headers: bool = False  # forward anthropic-beta / anthropic-version
    foreign_thinking: bool = False  # Anthropic dialect: accepts thinking blocks without an Anthropic signature
    pdf: bool = False  # OpenAI dialect: accepts PDF `file` parts (OpenAI only)
    image_detail: bool = True  # accepts image_url.detail (Vertex: no)
    system_messages: bool = False  # Anthropic dialect: accepts role:"system" inside messages (Anthropic's own API)


MISTRAL_FIELDS = frozenset(
    "model messages temperature top_p max_tokens stream stop random_seed metadata response_format tools tool_choice "
    "presence_penalty frequency_penalty n prediction parallel_tool_calls reasoning_effort prompt_mode guardrails "
    "prompt_cache_key safe_prompt".split()
)

# Top-level Messages fields an Anthropic-family upstream accepts; anything else is dropped (Anthropic 400s on it).
ANTHROPIC_BODY_FIELDS = frozenset(
    "model messages max_tokens system stop_sequences temperature top_p top_k stream metadata tools tool_choice "
    "thinking cache_control output_config service_tier container context_management inference_geo mcp_servers".split()
)

_OPENAI_ONLY = frozenset(
    "store service_tier modalities audio prediction verbosity web_search_options prompt_cache_retention "
    "safety_identifier logit_bias top_logprobs logprobs".split()
)

_DEFAULT_OPENAI = Rules(drop=_OPENAI_ONLY)
_GEMINI_EFFORTS = {"minimal": "low", "xhigh": "high", "max": "high"}
_DEFAULT_ANTHROPIC = Rules(reasoning="anthropic", anthropic_headers=True)

RULES: dict[tuple[str, str], Rules] = {
    ("openai", "openai"): Rules(
        max_tokens_field="max_completion_tokens",
        developer_role=True,
        pdf=True,
        max_stop=4,
        # o-series / gpt-5: "Only the default (1) value is supported", stop unsupported (o3, o4-mini).
        reasoning_drops=frozenset({"temperature", "top_p", "stop"}),
    ),
    ("openai", "deepseek"): Rules(
        reasoning="deepseek",
        reasoning_replay="reasoning_content",
        efforts={"minimal": "high", "low": "high", "medium": "high", "xhigh": "max"},
        drop=_OPENAI_ONLY,
    ),
    ("openai", "groq"): Rules(reasoning="groq", message_names=False, drop=_OPENAI_ONLY | {"n"}),
    ("openai", "mistral"): Rules(
        stream_usage=False,
        user=False,
        seed_field="random_seed",
        message_names=False,
        tool_id="mistral9",
        allowed=MISTRAL_FIELDS,
    ),
    ("openai", "cerebras"): Rules(
        parallel_tool_calls=False,
        forced_tool_choice=False,
        effort_models=("gpt-oss",),
        drop=_OPENAI_ONLY | {"frequency_penalty", "presence_penalty", "prompt_cache_key"},
    ),
    ("openai", "openrouter"): Rules(reasoning="openrouter", reasoning_replay="reasoning_details"),
    ("openai", "xai"): Rules(
        effort_models=("grok-3-mini", "grok-4.3"),
        efforts={"minimal": "low", "medium": "high", "xhigh": "high", "max": "high"},
        reasoning_drops=frozenset({"stop", "presence_penalty", "frequency_penalty"}),
        drop=_OPENAI_ONLY,
    ),
    ("openai", "workers-ai"): Rules(inline_think=True, drop=_OPENAI_ONLY),
    ("openai", "google-ai-studio"): Rules(efforts=_GEMINI_EFFORTS, thought_signatures=True, drop=_OPENAI_ONLY),
    ("openai", "vertex"): Rules(
        efforts=_GEMINI_EFFORTS, thought_signatures=True, image_detail=False, drop=_OPENAI_ONLY
    ),
    ("anthropic", "anthropic"): Rules(reasoning="anthropic", anthropic_headers=True, system_messages=True),
    ("anthropic", "bedrock"): _DEFAULT_ANTHROPIC,
    ("anthropic", "vertex"): _DEFAULT_ANTHROPIC,
    # DeepSeek's Anthropic endpoint ignores anthropic-* headers and has no Anthropic signatures of its own.
    ("anthropic", "deepseek"): Rules(reasoning="anthropic", foreign_thinking=True),
}


def inlines_think(provider: str) -> bool:
    """Does this OpenAI-dialect provider put reasoning inside content as <think>...</think>?"""
    rules = RULES.get(("openai", provider))
    return rules is not None and rules.inline_think


def rules_for(target: Target) -> Rules:
    default = _DEFAULT_ANTHROPIC if target.dialect == "anthropic" else _DEFAULT_OPENAI
    return RULES.get((target.dialect, target.provider), default)


# -- reasoning effort <-> thinking budget (Vertex's published mapping) -----------------------------------------------

_EFFORT_BUDGET = {"low": 1024, "medium": 8192, "high": 24576}


def budget_for_effort(effort: str) -> int:
    """Thinking budget for a reasoning_effort; efforts beyond high get high's budget."""
    return _EFFORT_BUDGET.get(effort, _EFFORT_BUDGET["high"])


def effort_for_budget(budget: int) -> str:
    if budget <= _EFFORT_BUDGET["low"]:
        return "low"
    return "medium" if budget <= _EFFORT_BUDGET["medium"] else "high"


# -- ids and headers -------------------------------------------------------------------------------------------------

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mistral_tool_id(tool_id: str) -> str:
    """Deterministic, so the assistant tool_calls and the tool messages rewrite to the same id."""
    n = int.from_bytes(hashlib.sha256(tool_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    return "".join(chars)


_ANTHROPIC_HEADERS = ("anthropic-beta", "anthropic-version")


def forward_headers(target: Target, incoming_headers: Mapping[str, str]) -> dict[str, str]:
    if not rules_for(target).anthropic_headers:
        return {}
    lowered = {name.lower(): value for name, value in incoming_headers.items()}
    return {name: lowered[name] for name in _ANTHROPIC_HEADERS if lowered.get(name)}
