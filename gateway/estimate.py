"""Prompt-size estimates for count_tokens and holds, where the upstream has no counting endpoint. Pure.

- ``heuristic_tokens(body)``: chars-per-token over text, tool definitions and arguments, a flat cost per image, a
  little per message (Anthropic or OpenAI bodies).
- ``TokenEstimator``: learns a per-model correction ratio from observed (estimated, actual) pairs and reports its
  measured mean absolute percentage error (``mape``).
- ``estimate_tokens(body, model="*")`` / ``learn(heuristic, actual, model="*")``: the process-wide estimator the
  gateway uses (one per worker process; it only ever holds a float per model, never request content). Pass the
  catalog model id as ``model`` to learn per-model ratios.
"""

from __future__ import annotations

from typing import Any

from gateway.translate.relay import CHARS_PER_TOKEN
from lib.jsonio import chars

__all__ = ["ESTIMATOR", "TokenEstimator", "estimate_tokens", "heuristic_tokens", "learn"]


_IMAGE_TOKENS = 1600  # Anthropic's ceiling for one image at the default resolution
_MESSAGE_OVERHEAD = 4  # role markers and separators per message
# A learned ratio stays in this band: one tokenizer is never 4x another, and a bad upstream count cannot
# push holds (sized from the estimate) to absurd amounts.
MIN_RATIO, MAX_RATIO = 0.25, 4.0


def heuristic_tokens(body: dict[str, Any], chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """Prompt tokens of an Anthropic or OpenAI request body by a chars-per-token heuristic.

    Text, tool definitions and tool arguments/results count by characters; images by a flat amount; every message
    adds a little overhead. Used where the upstream has no count_tokens endpoint.
    """
    chars, images = _measure(body.get("system")), 0
    chars += _measure(body.get("tools")) + _measure(body.get("functions"))
    messages = body.get("messages") or []
    for message in messages:
        text, found = _measure_content(message)
        chars, images = chars + text, images + found
    return round(chars / chars_per_token) + images * _IMAGE_TOKENS + len(messages) * _MESSAGE_OVERHEAD


def _measure(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    return chars(value)


_NOT_COUNTED = frozenset(("type", "role", "cache_control", "id", "tool_use_id", "tool_call_id", "signature"))


def _measure_content(node: Any) -> tuple[int, int]:
    """(characters, images) in a message or block tree; image payloads are counted as images, not as text.

    A loop over a stack, not a recursion: it runs over every block of an agent's history on each request."""
    chars = images = 0
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            chars += len(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif not isinstance(node, dict):
            chars += _measure(node)
        elif node.get("type") in ("image", "image_url"):
            images += 1
        else:
            stack.extend(value for key, value in node.items() if key not in _NOT_COUNTED)
    return chars, images


class TokenEstimator:
    """Learns a per-model correction of ``heuristic_tokens`` from observed (estimated, actual) pairs.

    ``estimate(model, body)`` scales the heuristic by the model's learned ratio (an exponential moving average, so it
    follows tokenizer differences without letting one odd request swing it); ``observe(model, estimated, actual)``
    records a real count; ``mape(model)`` is the measured mean absolute percentage error of the estimates it made.
    """

    __slots__ = ("_errors", "_ratios", "alpha")

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self._ratios: dict[str, float] = {}
        self._errors: dict[str, tuple[float, int]] = {}  # model -> (sum of |error|/actual, count)

    def ratio(self, model: str) -> float:
        return self._ratios.get(model, 1.0)

    def estimate(self, model: str, body: dict[str, Any]) -> int:
        return self.scale(model, heuristic_tokens(body))

    def scale(self, model: str, heuristic: int) -> int:
        """The estimate for a request whose ``heuristic_tokens`` is ``heuristic``."""
        return max(round(heuristic * self.ratio(model)), 1)

    def observe(self, model: str, heuristic: int, actual: int) -> None:
        """Learn from one request: ``heuristic`` is its ``heuristic_tokens``, ``actual`` the upstream's real count.

        The ratio moves toward ``actual / heuristic`` (clamped to the band), never toward a value derived from an
        earlier estimate: with many requests in flight the ratio changes between a request's estimate and its
        answer, and correcting from the stale estimate would compound into a runaway ratio.
        """
        if heuristic <= 0 or actual <= 0:
            return
        total, count = self._errors.get(model, (0.0, 0))
        self._errors[model] = (total + abs(self.scale(model, heuristic) - actual) / actual, count + 1)
        target = min(max(actual / heuristic, MIN_RATIO), MAX_RATIO)
        self._ratios[model] = (1 - self.alpha) * self.ratio(model) + self.alpha * target

    def mape(self, model: str) -> float | None:
        """Mean absolute percentage error (0.1 = 10 %) over the observations, None before any."""
        total, count = self._errors.get(model, (0.0, 0))
        return total / count if count else None


ANY_MODEL = "*"
ESTIMATOR = TokenEstimator()


def estimate_tokens(body: dict[str, Any], model: str = ANY_MODEL) -> int:
    return ESTIMATOR.estimate(model, body)


def learn(heuristic: int, actual: int, model: str = ANY_MODEL) -> None:
    ESTIMATOR.observe(model, heuristic, actual)
