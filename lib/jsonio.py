"""JSON on the hot path: orjson, with the standard library for what orjson refuses.

Every request is parsed and serialised several times (the client's body, the upstream's body
and answer, each SSE event); orjson does that several times faster than `json`. Output is
compact UTF-8 JSON, as `json.dumps(obj, ensure_ascii=False, separators=(",", ":"))` writes it
except for the spelling of some floats (1e-7 for 1e-07). What orjson refuses takes the standard
library's path: the NaN/Infinity literals when parsing, integers beyond 64 bits when writing.
orjson reads an integer beyond 64 bits as a float; no provider accepts one anyway.

`loads` refuses, on both paths, what would break something further in: nesting deeper than its
`max_depth` (orjson itself stops at 1024, the standard library recurses until RecursionError) and
lone surrogates (`"\\ud800"` or the raw bytes), which no encoder can write back out.
"""

from __future__ import annotations

import json
import re
from copy import deepcopy
from typing import Any

import orjson

__all__ = ["Encoder", "InvalidJSON", "chars", "copy", "deeper_than", "dumps", "loads"]


class InvalidJSON(ValueError):
    """Input that parses but may not be used (too deep, a lone surrogate); `str()` says why, for the client."""


# deeper_than(): escapes out, then only quotes and brackets kept, string contents out, then matched pairs
# removed from the inside: all at C speed, a few passes for an ordinary body.
_ESCAPED_PAIR = re.compile(rb'\\[\\"]')
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')


def deeper_than(data: bytes, limit: int) -> bool:
    """Does well-formed JSON `data` nest arrays and objects more than `limit` levels deep?"""
    if b"\\" in data:
        data = _ESCAPED_PAIR.sub(b"", data)
    # Adjacent quotes are an empty string or the end of one string and the start of the next with nothing
    # structural between: dropping them keeps every bracket's inside/outside, and leaves few quotes to split on.
    brackets = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    quick = brackets
    for _ in range(limit // 2):  # two replaces drop one or two levels a pass: emptied in limit // 2, not deeper
        if not quick:
            return False
        quick = quick.replace(b"[]", b"").replace(b"{}", b"")
    for _ in range(limit):  # near the limit: exactly one level per pass
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse JSON; raises ValueError (json.JSONDecodeError) on invalid input, as `json.loads` does, and
    InvalidJSON (a ValueError) on nesting deeper than `max_depth` or a lone surrogate."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise InvalidJSON(f"JSON nested deeper than {max_depth or 1024} levels.") from None
        return _stdlib_loads(data, max_depth)
    if max_depth is not None:
        _check_depth(data.encode() if isinstance(data, str) else data, max_depth)
    return value


def _check_depth(data: bytes, max_depth: int) -> None:
    # Each level takes a byte: a body no longer than the limit cannot nest deeper than it.
    if len(data) > max_depth and deeper_than(data, max_depth):
        raise InvalidJSON(f"JSON nested deeper than {max_depth} levels.")


def _stdlib_loads(data: bytes | str, max_depth: int | None) -> Any:
    """What orjson refused (NaN literals, or invalid input): the standard library, kept to the same limits.
    Strict UTF-8 (json.loads would let surrogate bytes through), no recursion past the limit."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data  # UnicodeDecodeError is a ValueError
    _check_depth(text.encode("utf-8", "surrogatepass"), min(max_depth or 512, 512))
    value = json.loads(text)
    _refuse_surrogates(value)
    return value


def _refuse_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidJSON("A string holds a lone surrogate (an unpaired \\ud800-\\udfff).") from None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a non-string key...
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Encoder(json.JSONEncoder):
    """For a model's JSONField (`encoder=jsonio.Encoder`): the same JSON, written by orjson. For fields
    written often and large, like a lease's checkpoints of every stream it has in flight."""

    def encode(self, o: Any) -> str:
        try:
            return orjson.dumps(o).decode()
        except TypeError:  # what orjson refuses (a big integer, a lone surrogate...): the standard library's way
            return super().encode(o)


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
