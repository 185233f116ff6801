"""Hypothesis strategies for the fuzz suite (test_fuzz.py): each surface's request schema, structural mutations of
it (wrong types, missing, extra and null fields), nesting and encoding cases, and the account API's requests.

A *case* is (method, path, headers, body bytes). Bodies start from what real clients send (spec/clients.md) so
that most mutations land one step away from a request the gateway serves, where a translator reads the field.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

MODELS = ("text", "claude-text")  # an OpenAI-protocol host and an Anthropic-protocol host (test_fuzz's world)
PLACEHOLDER = "\x01fuzz\x01"  # where an encoding case splices raw bytes into a serialised body


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Case({self.method} {self.path} headers={self.headers} body={self.body[:300]!r})"


# --- any JSON value (for wrong types) ------------------------------------------------------------------------

# Pools, not st.text()/st.from_regex(): drawing from a list is several times cheaper, and the budget is a count of
# requests. The strings cover what breaks code that handles text: empty, non-ASCII, astral, NUL, JSON-ish, long.
TEXTS = ["", "hi", "0", "é", "日本語", "🙂x", "a\x00b", " ", "\\", '"', "{", "null", "x" * 300, "\u2028", "<b>"]
NAMES = ["get_weather", "a", "_", "x" * 64, "tool-1", "ns__name", "Name"]
short_text = st.sampled_from(TEXTS)
names = st.sampled_from(NAMES)
scalars = (
    st.none() | st.booleans() | st.sampled_from([0, -1, 1, 2**63, -(2**64), 10**30, 0.5, -1e300, 1e-300]) | short_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=8,
)
small_schema = st.fixed_dictionaries(
    {"type": st.just("object")},
    optional={"properties": st.dictionaries(names, st.just({"type": "string"}), max_size=2), "required": st.just([])},
)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

# --- Anthropic Messages ---------------------------------------------------------------------------------------

a_text = st.fixed_dictionaries({"type": st.just("text"), "text": short_text.filter(bool)})
a_image = st.just({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
a_tool_use = st.fixed_dictionaries(
    {"type": st.just("tool_use"), "id": st.just("toolu_1"), "name": names, "input": st.dictionaries(names, scalars)}
)
a_tool_result = st.fixed_dictionaries(
    {"type": st.just("tool_result"), "tool_use_id": st.just("toolu_1"), "content": short_text | st.lists(a_text)},
    optional={"is_error": st.booleans()},
)
a_thinking = st.fixed_dictionaries({"type": st.just("thinking"), "thinking": short_text, "signature": short_text})
a_blocks = st.lists(a_text | a_image | a_tool_use | a_tool_result | a_thinking, min_size=1, max_size=3)
a_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": short_text.filter(bool) | a_blocks}
)
a_tool = st.fixed_dictionaries(
    {"name": names, "input_schema": small_schema}, optional={"description": short_text, "type": st.just("custom")}
)
a_tool_choice = st.fixed_dictionaries(
    {"type": st.sampled_from(["auto", "any", "tool", "none"])},
    optional={"name": names, "disable_parallel_tool_use": st.booleans()},
)
a_optional = {
    "system": short_text | st.lists(a_text, max_size=2),
    "tools": st.lists(a_tool, max_size=2),
    "tool_choice": a_tool_choice,
    "metadata": st.fixed_dictionaries({}, optional={"user_id": short_text}),
    "stream": st.booleans(),
    "temperature": st.sampled_from([0, 0.5, 1]),
    "top_p": st.sampled_from([0.1, 1]),
    "top_k": st.integers(1, 50),
    "stop_sequences": st.lists(short_text.filter(bool), max_size=2),
    "thinking": st.fixed_dictionaries(
        {"type": st.sampled_from(["enabled", "disabled", "adaptive"]), "budget_tokens": st.integers(1024, 4096)}
    ),
}
messages_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS),
        "max_tokens": st.integers(1, 64),
        "messages": st.lists(a_message, min_size=1, max_size=3),
    },
    optional=a_optional,
)
count_tokens_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS), "messages": st.lists(a_message, min_size=1, max_size=3)},
    optional={k: v for k, v in a_optional.items() if k in ("system", "tools", "tool_choice", "thinking")},
)

# --- OpenAI Chat Completions ----------------------------------------------------------------------------------

o_part = st.fixed_dictionaries({"type": st.just("text"), "text": short_text}) | st.just(
    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
)
o_call = st.fixed_dictionaries(
    {
        "id": st.just("call_1"),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": names, "arguments": st.just('{"city":"Paris"}') | short_text}),
    }
)
o_message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "developer"]), "content": short_text | st.lists(o_part, max_size=2)}
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={"content": short_text | st.none(), "tool_calls": st.lists(o_call, max_size=2)},
    ),
    st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": st.just("call_1"), "content": short_text}),
)
o_tool = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {"name": names}, optional={"description": short_text, "parameters": small_schema}
        ),
    }
)
o_tool_choice = st.sampled_from(["auto", "none", "required"]) | st.fixed_dictionaries(
    {"type": st.just("function"), "function": st.fixed_dictionaries({"name": names})}
)
chat_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS), "messages": st.lists(o_message, min_size=1, max_size=3)},
    optional={
        "max_tokens": st.integers(1, 64),
        "max_completion_tokens": st.integers(1, 64),
        "tools": st.lists(o_tool, max_size=2),
        "tool_choice": o_tool_choice,
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "temperature": st.sampled_from([0, 0.7, 2]),
        "stop": short_text | st.lists(short_text, max_size=2),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
        "metadata": st.dictionaries(names, short_text, max_size=2),
        "user": short_text,
        "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        "n": st.just(1),
        "seed": st.integers(0, 100),
        "parallel_tool_calls": st.booleans(),
    },
)

# --- OpenAI Responses -----------------------------------------------------------------------------------------

r_part = st.fixed_dictionaries({"type": st.sampled_from(["input_text", "output_text"]), "text": short_text})
r_item = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "developer"]),
            "content": short_text | st.lists(r_part),
        },
        optional={"type": st.just("message")},
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call"), "call_id": st.just("call_1"), "name": names, "arguments": short_text}
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call_output"), "call_id": st.just("call_1"), "output": short_text | st.lists(r_part)}
    ),
    st.fixed_dictionaries(
        {"type": st.just("reasoning"), "summary": st.just([])}, optional={"encrypted_content": short_text}
    ),
)
r_tool = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("function"), "name": names}, optional={"parameters": small_schema, "strict": st.booleans()}
    ),
    st.fixed_dictionaries({"type": st.just("custom"), "name": names}),
    st.just({"type": "web_search"}),
    st.fixed_dictionaries(
        {
            "type": st.just("namespace"),
            "name": names,
            "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "name": names}), max_size=2),
        }
    ),
)
responses_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS), "input": short_text.filter(bool) | st.lists(r_item, min_size=1, max_size=3)},
    optional={
        "instructions": short_text,
        "tools": st.lists(r_tool, max_size=2),
        "tool_choice": st.sampled_from(["auto", "none", "required"])
        | st.fixed_dictionaries({"type": st.just("function"), "name": names}),
        "metadata": st.dictionaries(names, short_text, max_size=2),
        "stream": st.booleans(),
        "max_output_tokens": st.integers(16, 64),
        "reasoning": st.fixed_dictionaries({"effort": st.sampled_from(["low", "medium", "high", "none"])}),
        "text": st.just({"format": {"type": "text"}}),
        "store": st.booleans(),
        "include": st.just(["reasoning.encrypted_content"]),
        "parallel_tool_calls": st.booleans(),
        "previous_response_id": st.just("resp_0000"),
        "truncation": st.sampled_from(["auto", "disabled"]),
    },
)

SURFACES: dict[str, Any] = {
    "/v1/messages": messages_bodies,
    "/v1/messages/count_tokens": count_tokens_bodies,
    "/v1/chat/completions": chat_bodies,
    "/v1/responses": responses_bodies,
}

# --- structural mutations -------------------------------------------------------------------------------------


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*here, key))
        found.extend(_paths(child, (*here, key)))
    return found


def _mutated(body: Any, path: tuple[Any, ...], how: str, new: Any) -> Any:
    body = json.loads(json.dumps(body))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "extra" and isinstance(parent, dict):
        parent[f"x_{last}"] = new
    elif how == "null":
        parent[last] = None
    else:
        parent[last] = new
    return body


def wrong_value(rnd: random.Random, depth: int = 0) -> Any:
    """Any JSON value (mostly of the wrong type for wherever it lands)."""
    kind = rnd.randrange(8 if depth < 2 else 5)
    if kind < 4:
        return rnd.choice([None, True, False, 0, -1, 2**63, -(2**64), 10**30, 0.5, -1e300])
    if kind == 4:
        return rnd.choice(TEXTS)
    if kind in (5, 6):
        return [wrong_value(rnd, depth + 1) for _ in range(rnd.randrange(3))]
    return {rnd.choice(TEXTS + NAMES): wrong_value(rnd, depth + 1) for _ in range(rnd.randrange(3))}


def mutated(body: Any, rnd: random.Random) -> Any:
    """`body` with one to three fields given a wrong type, removed, nulled, or joined by an extra field."""
    for _ in range(rnd.randint(1, 3)):
        paths = _paths(body)
        if not paths:
            break
        how = rnd.choice(["wrong", "wrong", "wrong", "delete", "null", "extra"])
        body = _mutated(body, rnd.choice(paths), how, wrong_value(rnd))
    return body


# --- nesting and encoding ---------------------------------------------------------------------------------------

SPLICES = {
    "lone high surrogate escape": b'"\\ud800"',
    "lone low surrogate escape": b'"a\\udfffb"',
    "reversed surrogate pair": b'"\\udc00\\ud800"',
    "raw surrogate bytes": b'"\xed\xa0\x80"',
    "NUL": b'"x\\u0000y"',
    "raw NUL": b'"x\x00y"',
    "invalid utf-8": b'"\xff\xfe"',
    "overlong utf-8": b'"\xc0\xaf"',
    "huge exponent": b"1e400",
    "huge negative": b"-1e400",
    "huge integer": b"123456789012345678901234567890123456789",
    "NaN": b"NaN",
    "Infinity": b"-Infinity",
    "deep array 129": b"[" * 129 + b"]" * 129,
    "deep array 1100": b"[" * 1100 + b"]" * 1100,
    "deep array 100000": b"[" * 100_000 + b"]" * 100_000,
    "deep object 200": b'{"a":' * 200 + b"1" + b"}" * 200,
    "deep object 3000": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "unclosed deep": b"[" * 5000,
    "mixed deep": b'[{"a":' * 700 + b"null" + b"}]" * 700,
    "bare word": b"undefined",
    "truncated": b'{"a": [1, 2',
}
WHOLE_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"a string"',
    b"12",
    b"\xef\xbb\xbf{}",
    b"{",
    b"not json at all",
    b"\x00\x01\x02",
    b"\xff" * 64,
    b'{"model": "text"' + b" " * 10 + b",}",
    b'{"model": "text", "model": ["dup"]}',
    b"[" * 200_000,
    b'{"a":"\\ud800"}',
    b"\xed\xa0\x80",
    b'<?xml version="1.0"?><messages/>',
    b"model=text&messages=hi",
]


def encoded(body: Any, rnd: random.Random) -> bytes:
    """`body` with one of its values replaced, in the serialised bytes, by a nesting or encoding case."""
    if rnd.randrange(10) == 0:
        return rnd.choice(WHOLE_BODIES)
    paths = _paths(body)
    splice = SPLICES[rnd.choice(sorted(SPLICES))]
    if not paths:
        return splice
    raw = json.dumps(_mutated(body, rnd.choice(paths), "wrong", PLACEHOLDER)).encode()
    return raw.replace(json.dumps(PLACEHOLDER).encode(), splice, 1)


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
]


def auth_headers(rnd: random.Random, key: str) -> dict[str, str]:
    """Mostly the tenant's key; sometimes none, a wrong one, or a malformed one."""
    kind = rnd.choice(["x-api-key"] * 6 + ["bearer"] * 2 + ["none", "wrong", "garbage"])
    headers = {"content-type": rnd.choice(CONTENT_TYPES) if rnd.randrange(6) == 0 else "application/json"}
    if kind == "x-api-key":
        headers["x-api-key"] = key
    elif kind == "bearer":
        headers["authorization"] = f"Bearer {key}"
    elif kind == "wrong":
        headers["x-api-key"] = "ak_" + "A" * 40
    elif kind == "garbage":
        headers["authorization"] = rnd.choice(["Bearer", "Basic Zm9vOmJhcg==", "Bearer ak_", "ak_x y"])
    return headers


# Per hypothesis example: the schema body, then MUTATIONS structural mutations and ENCODINGS nesting/encoding cases
# of it, drawn by a Random seeded from the example (derandomized like the rest). Hypothesis draws cost far more than
# the requests; this makes the budget a count of requests that fits in CI.
MUTATIONS, ENCODINGS = 3, 2
PER_EXAMPLE = 1 + MUTATIONS + ENCODINGS


@st.composite
def surface_cases(draw: Any, path: str, key: str) -> list[Case]:
    body = draw(SURFACES[path])
    rnd = random.Random(draw(st.integers(0, 2**32)))
    raws = [json.dumps(body).encode()]
    raws += [json.dumps(mutated(body, rnd)).encode() for _ in range(MUTATIONS)]
    raws += [encoded(body, rnd) for _ in range(ENCODINGS)]
    return [
        Case("POST" if rnd.randrange(20) else rnd.choice(["GET", "PUT"]), path, raw, auth_headers(rnd, key))
        for raw in raws
    ]


# --- the account API -----------------------------------------------------------------------------------------

ACCOUNT_PATHS = ["/v1/credits", "/v1/key", "/v1/generation", "/v1/models", "/v1/catalog", "/v1/status"]
# The management API (api/urls.py), reached here with the tenant's gateway key or none: its refusals must be JSON too.
ACCOUNT_PATHS += ["/api/v1/keys/", "/api/v1/usage/", "/api/v1/wallet/", "/api/v1/byok/", "/api/v1/credits"]
ID_PATHS = ["/v1/models/{}", "/v1/responses/{}", "/api/v1/usage/{}/", "/api/v1/keys/{}/"]
QUERY_NAMES = ["id", "include_latency", "limit", "after", "model", "x"]
# Mostly GET, what they serve; the rest are answered by gateway.asgi's api_refusal (a JSON 405) before CSRF.
ACCOUNT_METHODS = ["GET", "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]


@st.composite
def account_cases(draw: Any, key: str) -> list[Case]:
    rnd = random.Random(draw(st.integers(0, 2**32)))
    return [_account_case(rnd, key) for _ in range(PER_EXAMPLE)]


def _account_case(rnd: random.Random, key: str) -> Case:
    if rnd.randrange(2):
        path = rnd.choice(ACCOUNT_PATHS)
    else:
        ident = rnd.choice(["text", "claude-text", "resp_0000", "gen-1", *TEXTS[1:]])
        path = rnd.choice(ID_PATHS).format(quote(ident, safe=""))
    query = {rnd.choice(QUERY_NAMES): rnd.choice([*TEXTS, "true", "1", "req_0"]) for _ in range(rnd.randrange(3))}
    if query:
        path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    body = b"" if rnd.randrange(5) else rnd.choice(WHOLE_BODIES[:12])
    return Case(rnd.choice(ACCOUNT_METHODS), path, body, auth_headers(rnd, key))


class Driver:
    """qlaud's ASGI app on one event loop for a whole test: one request per hypothesis example."""

    def __init__(self) -> None:
        from qlaud.asgi import application

        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=application)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30)
        self.cases = 0

    def send(self, case: Case) -> httpx.Response:
        self.cases += 1
        request = self.client.request(case.method, case.path, content=case.body, headers=case.headers)
        return self.loop.run_until_complete(request)

    def close(self) -> None:
        from gateway import outbound, pipeline, records
        from wallet import leases

        async def drain() -> None:
            await asyncio.gather(*list(pipeline._background), return_exceptions=True)
            await records.aflush()
            await leases.close()
            await self.client.aclose()
            await outbound.aclose()

        self.loop.run_until_complete(drain())
        self.loop.close()
