"""JSON on the hot path: orjson, with the standard library for what orjson refuses.

Every request is parsed and serialised several times (the client's body, the upstream's body
and answer, each SSE event); orjson does that several times faster than `json`. Output is
compact UTF-8 JSON, as `json.dumps(obj, ensure_ascii=False, separators=(",", ":"))` writes it
except for the spelling of some floats (1e-7 for 1e-07). What orjson refuses takes the standard
library's path: the NaN/Infinity literals when parsing, integers beyond 64 bits when writing.
orjson reads an integer beyond 64 bits as a float; no provider accepts one anyway.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import orjson

__all__ = ["chars", "copy", "dumps", "loads"]


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError (json.JSONDecodeError) on invalid input, as `json.loads` does."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a non-string key...
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def chars(obj: Any) -> int:
    """Characters of `obj` as compact JSON (a size measure for estimates and routing)."""
    return len(dumps(obj).decode())


def copy(obj: Any) -> Any:
    """A deep copy of JSON data (a parsed request body): a round trip through orjson, several times
    faster than `copy.deepcopy` (tens of ms for a long agent conversation). What orjson refuses (an
    integer beyond 64 bits, a value that is not JSON) is deep-copied as it is."""
    try:
        return orjson.loads(orjson.dumps(obj))
    except TypeError:
        return deepcopy(obj)
