"""Pick and order the hosts that may serve one request. Pure: no Django, no I/O.

`resolve(snapshot, requested, aliases=..., needs=..., options=..., health=...)` returns a `Route`
whose hosts the gateway tries in order. Rules:

- `{model}`: the model's hosts in operator priority order; `{model}:nitro`: hosts that passed the
  fidelity suite's tool cases (catalog/fidelity.py), then highest measured throughput first: the
  customers' where a host served at least `nitro_min_samples` requests in the last 30 minutes, else
  the live-board probes' (gateway/probes.py) when there are any (thin traffic says little);
  `{model}:floor`: lowest customer price first.
- `RoutingOptions` mirrors OpenRouter's request fields: `models` (fallback models, tried after the
  requested one) and `provider` (`order`, `only`, `ignore`, `sort`, `allow_fallbacks`).
- Only hosts that fit `Needs` (tools, vision, context) are kept. A prompt longer than every
  host's context window raises `PromptTooLong` (a 400 naming the limit: no host can ever serve it).
- Hosts with a closed circuit go first, then half-open ones, then open ones: the breaker orders,
  it never refuses. When every host is open the request goes to them anyway (Envoy's panic mode),
  so a model whose only host recovered is served at once, not after a cool-down.
- A model whose every host was retired upstream (catalog sync) raises `ModelRetired`, an
  `UnknownModel` whose message names the catalog's replacement.
- Names resolve through the org's aliases first, then the catalog, then `DEFAULT_ALIASES` (the
  names Claude Code and Codex hard-code) and the dated Claude names (`claude-sonnet-4-5-20250929`
  -> `claude-sonnet-4.5`), then Cursor's variants (`claude-4.5-sonnet-thinking`, `gpt-5-high`: `cursor_plain_name`),
  then `provider/upstream-id` (pins that provider).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lib.jsonio import chars

CIRCUIT_CLOSED = "closed"
CIRCUIT_OPEN = "open"
CIRCUIT_HALF_OPEN = "half_open"
SORTS = ("price", "throughput", "latency")
VARIANTS = ("nitro", "floor")
NITRO_MIN_CUSTOMER_SAMPLES = 20  # the default of settings.NITRO_MIN_CUSTOMER_SAMPLES
MODELS_HINT = "List the available models with GET /v1/models or browse /models."

# Names coding agents hard-code, mapped to the catalog model of the same name when it exists.
# An org's own aliases (dashboard /dashboard/aliases/) always win over these.
DEFAULT_ALIASES: dict[str, str] = {
    "claude-haiku-4-5-20251001": "claude-haiku-4.5",
    "claude-haiku-4-5": "claude-haiku-4.5",
    "claude-3-5-haiku-20241022": "claude-3.5-haiku",
    "claude-3-5-haiku-latest": "claude-3.5-haiku",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4.5",
    "claude-sonnet-4-5": "claude-sonnet-4.5",
    "claude-sonnet-4-20250514": "claude-sonnet-4",
    "claude-sonnet-4-0": "claude-sonnet-4",
    "claude-opus-4-1-20250805": "claude-opus-4.1",
    "claude-opus-4-1": "claude-opus-4.1",
    "claude-opus-4-20250514": "claude-opus-4",
    "claude-opus-4-0": "claude-opus-4",
    "claude-opus-4-5-20251101": "claude-opus-4.5",
    "claude-opus-4-5": "claude-opus-4.5",
    "codex-mini-latest": "codex-mini",
}
# Cursor's model variants: thinking and reasoning-effort suffixes, and Claude names with the version first.
_CURSOR_SUFFIX = re.compile(r"(?:-(?:thinking|minimal|low|medium|high|xhigh|max))+$")
_VERSION_FIRST_CLAUDE = re.compile(r"^claude-(\d+(?:\.\d+)?)-(opus|sonnet|haiku)$")
_DATED_CLAUDE = re.compile(r"^(claude-(?:opus|sonnet|haiku))-(\d+)(?:-(\d))?(?:-\d{8}|-latest)?$")


class UnknownModel(LookupError):
    def __init__(self, requested: str) -> None:
        self.requested = requested
        self.hint = MODELS_HINT
        super().__init__(f"Unknown model {requested!r}. {MODELS_HINT}")


class ModelRetired(UnknownModel):
    """Every host of the model was retired upstream; `replacement` is the catalog's successor, if any."""

    def __init__(self, requested: str, replacement: str | None) -> None:
        self.requested = requested
        self.replacement = replacement
        self.hint = f"Use {replacement!r} instead." if replacement else MODELS_HINT
        LookupError.__init__(self, f"Model {requested!r} has been retired by its providers. {self.hint}")


class NoHostAvailable(LookupError):
    def __init__(self, requested: str, reason: str, *, request_fault: bool = False) -> None:
        self.requested = requested
        self.reason = reason
        self.request_fault = request_fault  # the request asks what no host offers: retrying cannot help
        super().__init__(f"No host can serve {requested!r} right now: {reason}.")


class ProviderNotConfigured(NoHostAvailable):
    """Every host that could serve the request belongs to a provider without its settings (catalog.readiness)."""

    def __init__(self, requested: str, providers: Sequence[Any]) -> None:
        self.providers = tuple(providers)
        hints = "; ".join(p.setup_hint() for p in self.providers)
        super().__init__(requested, hints)
        lead = "" if len(self.providers) == 1 else f"No provider of {requested!r} is configured: "
        self.args = (f"{lead}{hints}.",)


class PromptTooLong(ValueError):
    """The prompt is longer than the context window of every host that could serve it."""

    def __init__(self, requested: str, tokens: int, limit: int) -> None:
        self.requested = requested
        self.tokens = tokens
        self.limit = limit
        super().__init__(
            f"The prompt (about {tokens} tokens) is longer than the largest context window of {requested!r} "
            f"({limit} tokens). Shorten the prompt or choose a model with a longer context."
        )


class InvalidRoutingOptions(ValueError):
    """The request's `models` / `provider` fields are malformed (a 400 for the client)."""


class PricesLike(Protocol):
    input: int
    output: int


@dataclass(frozen=True, slots=True)
class HostHealth:
    """What the gateway knows about a host right now (catalog.health computes it)."""

    host_id: int
    circuit: str = CIRCUIT_CLOSED
    p50_ttft_ms: float | None = None
    p90_ttft_ms: float | None = None
    p50_tokens_per_s: float | None = None
    uptime_5m: float | None = None
    uptime_30m: float | None = None
    uptime_1d: float | None = None
    error_rate: float | None = None  # last 5 minutes
    samples: int = 0  # customer requests in the last 30 minutes
    # From the live-board probes (gateway/probes.py), kept apart from the customer figures above.
    probe_p50_ttft_ms: float | None = None
    probe_p50_tokens_per_s: float | None = None
    probe_samples: int = 0  # answered probes in the last 30 minutes

    def tokens_per_s(self, min_customer_samples: int) -> float | None:
        """The customers' throughput when they are enough to tell, else the probes', else the customers' few."""
        if self.samples >= min_customer_samples and self.p50_tokens_per_s is not None:
            return self.p50_tokens_per_s
        return self.probe_p50_tokens_per_s if self.probe_p50_tokens_per_s is not None else self.p50_tokens_per_s

    def ttft_ms(self, min_customer_samples: int) -> float | None:
        """As `tokens_per_s`, for the time to first token."""
        if self.samples >= min_customer_samples and self.p50_ttft_ms is not None:
            return self.p50_ttft_ms
        return self.probe_p50_ttft_ms if self.probe_p50_ttft_ms is not None else self.p50_ttft_ms


@dataclass(frozen=True, slots=True)
class Needs:
    """What the request needs from a host."""

    tools: bool = False
    vision: bool = False
    min_context: int = 0

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Needs:
        """From an Anthropic Messages or OpenAI Chat Completions body.

        min_context is a rough lower bound of the prompt (characters of its JSON / 5; real text runs
        3-4 characters a token): it rules out hosts that certainly cannot hold the prompt, never
        a host that might.
        """
        messages = body.get("messages") or []
        return cls(
            tools=bool(body.get("tools")),
            vision=_has_image(messages),
            min_context=chars(messages) // 5,
        )

    def fits(self, host: Any) -> bool:
        if self.tools and "tools" not in host.capabilities:
            return False
        if self.vision and "vision" not in host.capabilities:
            return False
        return self.min_context <= host.context_length


def _has_image(messages: Iterable[Any]) -> bool:
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in ("image", "image_url", "input_image"):
                    return True
    return False


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    models: tuple[str, ...] = ()  # fallback models after the requested one
    order: tuple[str, ...] = ()  # provider slugs to try first, in this order
    only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    sort: str | None = None  # price | throughput | latency
    allow_fallbacks: bool = True
    # Providers the requesting org holds its own key for (BYOK): usable even where qlaud has no key of its own.
    own_providers: frozenset[int] = frozenset()

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> RoutingOptions:
        provider = body.get("provider") or {}
        if not isinstance(provider, Mapping):
            raise InvalidRoutingOptions("`provider` must be an object.")
        sort = provider.get("sort")
        if isinstance(sort, Mapping):  # OpenRouter also accepts {"by": "price"}
            sort = sort.get("by")
        if sort is not None and sort not in SORTS:
            raise InvalidRoutingOptions(f"`provider.sort` must be one of {', '.join(SORTS)}.")
        allow = provider.get("allow_fallbacks", True)
        if not isinstance(allow, bool):
            raise InvalidRoutingOptions("`provider.allow_fallbacks` must be a boolean.")
        return cls(
            models=_names(body.get("models"), "models"),
            order=_names(provider.get("order"), "provider.order"),
            only=_names(provider.get("only"), "provider.only"),
            ignore=_names(provider.get("ignore"), "provider.ignore"),
            sort=sort,
            allow_fallbacks=allow,
        )


def _names(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRoutingOptions(f"`{name}` must be a list of strings.")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Route:
    model: Any  # ModelInfo of the requested model
    hosts: tuple[Any, ...]  # HostInfo, in the order to try
    requested: str
    variant: str | None = None
    fallback_models: tuple[str, ...] = field(default=())
    conversation: str = ""  # catalog.sticky's key, when stickiness applies to this route


def model_allowed(key_allowed: Sequence[str], model_id: str) -> bool:
    """An API key's model allow-list: empty allows all; entries may be globs (`deepseek-*`)."""
    if not key_allowed:
        return True
    return any(model_id == pattern or fnmatch.fnmatchcase(model_id, pattern) for pattern in key_allowed)


def split_variant(requested: str) -> tuple[str, str | None]:
    base, sep, suffix = requested.rpartition(":")
    if sep and suffix in VARIANTS:
        return base, suffix
    return requested, None


def lookup(snapshot: Any, name: str, aliases: Mapping[str, str]) -> tuple[Any, str | None]:
    """(ModelInfo, pinned provider slug or None) for a name without variant; raises UnknownModel."""
    retired = getattr(snapshot, "retired", {})
    for candidate in (aliases.get(name), name, DEFAULT_ALIASES.get(name), _undated_claude(name)):
        if candidate and candidate in snapshot.models:
            return snapshot.models[candidate], None
        if candidate and candidate in retired:
            raise ModelRetired(name, retired[candidate].replacement)
    plain = cursor_plain_name(name)
    if plain != name:
        return lookup(snapshot, plain, aliases)
    slug, sep, upstream = name.partition("/")
    if sep:
        for model in snapshot.models.values():
            if any(h.provider.slug == slug and h.upstream_model == upstream for h in model.hosts):
                return model, slug
    raise UnknownModel(name)


# The effort a Cursor variant names; `-thinking` alone asks for reasoning at a middle effort, and the efforts beyond
# `high` that only some models take are sent as `high` (each provider's rules remap or drop it further).
_CURSOR_EFFORTS = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


def cursor_effort(name: str) -> str | None:
    """The reasoning effort a Cursor model variant asks for: `gpt-5-high` -> high, `claude-4.5-sonnet-thinking` ->
    medium, `gpt-5` -> None."""
    suffix = _CURSOR_SUFFIX.search(name)
    if suffix is None:
        return None
    words = suffix.group(0).split("-")[1:]
    efforts = [_CURSOR_EFFORTS[word] for word in words if word in _CURSOR_EFFORTS]
    return efforts[-1] if efforts else "medium"


def cursor_plain_name(name: str) -> str:
    """Cursor's model ids without its variant suffixes, Claude's family first: `claude-4.5-sonnet-thinking` ->
    `claude-sonnet-4.5`, `gpt-5-high` -> `gpt-5`. Tried only after the exact name, so a catalog id wins."""
    plain = _CURSOR_SUFFIX.sub("", name)
    return _VERSION_FIRST_CLAUDE.sub(r"claude-\2-\1", plain)


def _undated_claude(name: str) -> str | None:
    match = _DATED_CLAUDE.match(name)
    if not match:
        return None
    family, major, minor = match.groups()
    return f"{family}-{major}.{minor}" if minor else f"{family}-{major}"


def resolve(
    snapshot: Any,
    requested: str,
    *,
    aliases: Mapping[str, str],
    needs: Needs,
    options: RoutingOptions,
    health: Mapping[int, HostHealth],
    nitro_min_samples: int = NITRO_MIN_CUSTOMER_SAMPLES,
) -> Route:
    label = requested or (options.models[0] if options.models else "")
    name = aliases.get(label, label)  # an alias may carry a variant: "fast" -> "gpt-oss-120b:nitro"
    base, variant = split_variant(name)
    model, pinned = lookup(snapshot, base, aliases)
    chain = [(model, pinned)] + [m for m in _fallback_models(snapshot, options.models, aliases) if m[0] != model]
    tiers: tuple[list[Any], list[Any], list[Any]] = ([], [], [])  # closed, half-open, open
    reasons: list[str] = []
    for candidate, pin in _unique(chain):
        for tier, found in zip(
            tiers,
            _order(candidate.hosts, pin, variant, needs, options, health, reasons, nitro_min_samples),
            strict=True,
        ):
            tier.extend(found)
    hosts = [*tiers[0], *tiers[1], *tiers[2]]  # a fallback model's live host before an open one
    if not hosts:
        too_long = _context_limit(chain, needs)
        if too_long is not None:
            raise PromptTooLong(label, needs.min_context, too_long)
        if "not_configured" in reasons:
            raise ProviderNotConfigured(label, _unconfigured(_unique(chain)))
        raise NoHostAvailable(label, _reason(reasons), request_fault=bool({"needs", "provider"} & set(reasons)))
    return Route(
        model=model,
        hosts=tuple(hosts),
        requested=label,
        variant=variant,
        fallback_models=tuple(m.id for m, _ in _unique(chain)[1:]),
    )


def _fallback_models(snapshot: Any, names: Sequence[str], aliases: Mapping[str, str]) -> list[tuple[Any, str | None]]:
    found = []
    for name in names:
        try:
            found.append(lookup(snapshot, split_variant(aliases.get(name, name))[0], aliases))
        except UnknownModel:
            continue  # OpenRouter semantics: an unusable fallback is skipped, not fatal
    return found


def _unconfigured(chain: list[tuple[Any, str | None]]) -> list[Any]:
    """The providers without their settings among the chain's hosts, each once, in route order."""
    found: dict[str, Any] = {}
    for model, _ in chain:
        for host in model.hosts:
            if getattr(host.provider, "missing", ()):
                found.setdefault(host.provider.slug, host.provider)
    return list(found.values())


def _unique(chain: list[tuple[Any, str | None]]) -> list[tuple[Any, str | None]]:
    seen: set[str] = set()
    out = []
    for model, pin in chain:
        if model.id not in seen:
            seen.add(model.id)
            out.append((model, pin))
    return out


def _order(
    hosts: Sequence[Any],
    pinned: str | None,
    variant: str | None,
    needs: Needs,
    options: RoutingOptions,
    health: Mapping[int, HostHealth],
    reasons: list[str],
    min_samples: int = NITRO_MIN_CUSTOMER_SAMPLES,
) -> tuple[list[Any], list[Any], list[Any]]:
    kept = _filter(hosts, pinned, needs, options, reasons)
    kept.sort(key=_sort_key(variant, options.sort, health, min_samples))
    kept = _apply_order(kept, options)
    live = [h for h in kept if _circuit(h, health) == CIRCUIT_CLOSED]
    half_open = [h for h in kept if _circuit(h, health) == CIRCUIT_HALF_OPEN]
    opened = [h for h in kept if _circuit(h, health) == CIRCUIT_OPEN]
    return live, half_open, opened  # open hosts last, never dropped (panic mode)


def _context_limit(chain: list[tuple[Any, str | None]], needs: Needs) -> int | None:
    """The largest context window among the hosts that fit everything but the prompt's length,
    when the prompt is longer than all of them (else None: something else ruled them out)."""
    if not needs.min_context:
        return None
    shorter = replace(needs, min_context=0)
    windows = [h.context_length for model, _ in _unique(chain) for h in model.hosts if shorter.fits(h)]
    if windows and max(windows) < needs.min_context:
        return max(windows)
    return None


def _filter(
    hosts: Sequence[Any], pinned: str | None, needs: Needs, options: RoutingOptions, reasons: list[str]
) -> list[Any]:
    kept = [h for h in hosts if pinned is None or h.provider.slug == pinned]
    kept = [h for h in kept if (not options.only or h.provider.slug in options.only)]
    kept = [h for h in kept if h.provider.slug not in options.ignore]
    if not kept:
        reasons.append("provider")
        return []
    fitting = [h for h in kept if needs.fits(h)]
    if not fitting:
        reasons.append("needs")
    ready = [h for h in fitting if not getattr(h.provider, "missing", ()) or h.provider.id in options.own_providers]
    if fitting and not ready:
        reasons.append("not_configured")
    return ready


def _apply_order(hosts: list[Any], options: RoutingOptions) -> list[Any]:
    """provider.order first (in its order), then the rest unless allow_fallbacks is false."""
    if not options.order:
        return hosts if options.allow_fallbacks else hosts[:1]
    rank = {slug: i for i, slug in enumerate(options.order)}
    listed = sorted((h for h in hosts if h.provider.slug in rank), key=lambda h: rank[h.provider.slug])
    rest = [h for h in hosts if h.provider.slug not in rank] if options.allow_fallbacks else []
    return listed + rest


def _circuit(host: Any, health: Mapping[int, HostHealth]) -> str:
    state = health.get(host.id)
    return state.circuit if state else CIRCUIT_CLOSED


_UNKNOWN_LAST = float("inf")


def _sort_key(
    variant: str | None, sort: str | None, health: Mapping[int, HostHealth], min_samples: int
) -> Callable[[Any], tuple]:
    def tps(h: Any) -> float:
        value = health[h.id].tokens_per_s(min_samples) if h.id in health else None
        return -value if value is not None else _UNKNOWN_LAST

    def ttft(h: Any) -> float:
        value = health[h.id].ttft_ms(min_samples) if h.id in health else None
        return value if value is not None else _UNKNOWN_LAST

    def price(h: Any) -> int:
        # Markup is the same percentage on every host, so upstream order is customer order.
        return h.prices.input + h.prices.output

    if variant == "nitro":
        return lambda h: (not h.tools_passed, tps(h), h.priority, h.id)
    if variant == "floor" or sort == "price":
        return lambda h: (price(h), h.priority, h.id)
    if sort == "throughput":
        return lambda h: (tps(h), h.priority, h.id)
    if sort == "latency":
        return lambda h: (ttft(h), h.priority, h.id)
    return lambda h: (h.priority, h.id)


def _reason(reasons: list[str]) -> str:
    if "needs" in reasons:
        return "no host supports what the request needs (tools, images or its context length)"
    if "provider" in reasons:
        return "the request's provider preferences exclude every host"
    return "the model has no enabled host"
