"""Token usage normalised across dialects. Pure, no Django.

``Usage(input, cache_read, cache_write, output, reasoning)``: ``input`` is the UNCACHED prompt part, so the three input
fields are disjoint and billing is ``input*p_in + cache_read*p_read + cache_write*p_write + output*p_out``; cache is
never counted twice. ``output`` includes reasoning tokens (every provider bills them as output); ``reasoning`` is the
informational subset. Where each provider reports what: docs/usage-semantics.md.

- ``from_openai(u)``: OpenAI-style ``usage`` (``prompt_tokens`` includes cached tokens; DeepSeek's
  ``prompt_cache_hit_tokens``; Groq's ``x_groq.usage`` has the same shape). xAI's ``completion_tokens`` EXCLUDES
  reasoning (``total_tokens`` = prompt + completion + reasoning): recognised by that total, the reasoning is added
  to ``output``, as xAI bills it.
- ``from_anthropic(u)``: Anthropic ``usage`` (``input_tokens`` already excludes cache).
- ``update_anthropic(base, u)``: Anthropic stream semantics: the non-null fields of a later, cumulative usage
  (``message_delta``) overwrite the earlier one (``message_start``), exactly as the Anthropic SDK does.
- ``merge(a, b)``: field-wise, ``b``'s non-zero values win.
- ``to_openai(u)`` / ``to_anthropic(u)``: the dialects' usage objects.

The count_tokens estimate lives in ``gateway.estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Usage",
    "from_anthropic",
    "from_openai",
    "merge",
    "to_anthropic",
    "to_openai",
    "update_anthropic",
]


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    @property
    def prompt(self) -> int:
        """The whole prompt, cached parts included."""
        return self.input + self.cache_read + self.cache_write

    @property
    def total(self) -> int:
        return self.prompt + self.output

    def __bool__(self) -> bool:
        return bool(self.total)


EMPTY = Usage()


def _int(value: Any) -> int:
    # Upstreams send null, floats ("12.0") or nothing at all; never let that break billing.
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _details(u: dict[str, Any], key: str) -> dict[str, Any]:
    details = u.get(key)
    return details if isinstance(details, dict) else {}


def from_openai(u: dict[str, Any] | None) -> Usage:
    if not u:
        return EMPTY
    prompt = _int(u.get("prompt_tokens"))
    prompt_details = _details(u, "prompt_tokens_details")
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = u.get("prompt_cache_hit_tokens")  # DeepSeek
    cached = min(_int(cached), prompt)
    cache_write = min(_int(prompt_details.get("cache_write_tokens")), prompt - cached)
    completion = _int(u.get("completion_tokens"))
    reasoning = _int(_details(u, "completion_tokens_details").get("reasoning_tokens"))
    if reasoning and _int(u.get("total_tokens")) == prompt + completion + reasoning:
        completion += reasoning  # xAI: reasoning reported outside completion_tokens, billed as output
    return Usage(
        input=prompt - cached - cache_write,
        cache_read=cached,
        cache_write=cache_write,
        output=completion,
        reasoning=reasoning,
    )


def from_anthropic(u: dict[str, Any] | None) -> Usage:
    if not u:
        return EMPTY
    return Usage(
        input=_int(u.get("input_tokens")),
        cache_read=_int(u.get("cache_read_input_tokens")),
        cache_write=_int(u.get("cache_creation_input_tokens")),
        output=_int(u.get("output_tokens")),
        reasoning=_int(_details(u, "output_tokens_details").get("thinking_tokens")),
    )


_ANTHROPIC_FIELDS = (
    ("input", "input_tokens"),
    ("cache_read", "cache_read_input_tokens"),
    ("cache_write", "cache_creation_input_tokens"),
    ("output", "output_tokens"),
)


def update_anthropic(base: Usage, u: dict[str, Any] | None) -> Usage:
    if not u:
        return base
    values = {name: _int(u[key]) for name, key in _ANTHROPIC_FIELDS if u.get(key) is not None}
    thinking = _details(u, "output_tokens_details").get("thinking_tokens")
    if thinking is not None:
        values["reasoning"] = _int(thinking)
    return Usage(**{**_as_dict(base), **values})


def merge(a: Usage, b: Usage) -> Usage:
    return Usage(**{name: getattr(b, name) or getattr(a, name) for name in _NAMES})


def to_openai(u: Usage) -> dict[str, Any]:
    prompt_details: dict[str, int] = {"cached_tokens": u.cache_read}
    if u.cache_write:
        prompt_details["cache_write_tokens"] = u.cache_write
    return {
        "prompt_tokens": u.prompt,
        "completion_tokens": u.output,
        "total_tokens": u.total,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    }


def to_anthropic(u: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": u.input,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cache_read,
        "output_tokens": u.output,
    }
    if u.reasoning:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning}
    return out


_NAMES = ("input", "cache_read", "cache_write", "output", "reasoning")


def _as_dict(u: Usage) -> dict[str, int]:
    return {name: getattr(u, name) for name in _NAMES}
