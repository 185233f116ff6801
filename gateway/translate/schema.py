"""The types the translators read, per dialect, checked once per request before any of them runs. Pure.

The translators (request.py, history.py, responses/request.py), routing and the estimator read fields with
`.get()` and subscripts and trust their types; a client sending `"tools": [1]` or `"metadata": "x"` made them raise
KeyError / AttributeError / TypeError, a 500. Each schema below names every field a translator reads and the type
it needs; `check(body, SCHEMA)` raises `TranslationError` (a 400 in the surface's shape) naming the first field
that is wrong, e.g. `tools.0.input_schema: must be an object`. Fields the translators do not read are not
checked (they are dropped or passed through as they are). Absent and null fields pass: the surface's own
validation says which are required.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.translate.history import TranslationError

__all__ = ["ANTHROPIC", "OPENAI", "RESPONSES", "Obj", "Seq", "check"]


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object; `fields` (name -> spec) are checked where present and not null."""

    fields: dict[str, Any]
    required: tuple[str, ...] = ()
    by_type: dict[str, dict[str, Any]] | None = None  # field specs that differ with the object's "type"


@dataclass(frozen=True, slots=True)
class Seq:
    """A JSON array whose items all match `item`."""

    item: Any


@dataclass(frozen=True, slots=True)
class OneOf:
    """The first of `options` whose outer type matches decides (a string, or an object of this shape...)."""

    options: tuple[Any, ...]


STR, INT, NUM, BOOL = "string", "integer", "number", "boolean"
ANY_OBJ = Obj({})
_SCALARS = {
    STR: (lambda v: isinstance(v, str)),
    INT: (lambda v: isinstance(v, int) and not isinstance(v, bool)),
    NUM: (lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    BOOL: (lambda v: isinstance(v, bool)),
}


def _describe(spec: Any) -> str:
    if isinstance(spec, Obj):
        return "an object"
    if isinstance(spec, Seq):
        return "a list"
    if isinstance(spec, OneOf):
        return " or ".join(_describe(option) for option in spec.options)
    return f"a {spec}" if spec != INT else "an integer"


def _outer_matches(value: Any, spec: Any) -> bool:
    if isinstance(spec, Obj):
        return isinstance(value, dict)
    if isinstance(spec, Seq):
        return isinstance(value, list)
    if isinstance(spec, OneOf):
        return any(_outer_matches(value, option) for option in spec.options)
    return bool(_SCALARS[spec](value))


class _Mismatch(Exception):
    """Raised at the wrong value; each level it passes through adds its field name or index to `path`
    (so the path is only built for the one request in many that is wrong)."""

    def __init__(self, message: str, path: list[str]) -> None:
        self.message, self.path = message, path


Validator = Callable[[Any], None]
_COMPILED: dict[int, tuple[Any, Validator]] = {}


def check(value: Any, spec: Any, path: str = "") -> None:
    """Raise TranslationError(param=path) at the first value in `value` that does not match `spec`."""
    compiled = _COMPILED.get(id(spec))
    if compiled is None or compiled[0] is not spec:
        compiled = _COMPILED[id(spec)] = (spec, _compile(spec))
    try:
        compiled[1](value)
    except _Mismatch as exc:
        where = ".".join([path, *reversed(exc.path)] if path else reversed(exc.path))
        raise TranslationError(f"{where or 'body'}: {exc.message}", where or None) from None


# A spec is compiled once into nested closures: this runs over every block of an agent's history on each
# request, and an interpreter dispatching on the spec's kind at every value cost several times as much.


def _compile(spec: Any) -> Validator:
    if isinstance(spec, OneOf):
        return _compile_one_of(spec)
    if isinstance(spec, Obj):
        return _compile_obj(spec)
    if isinstance(spec, Seq):
        return _compile_seq(spec)
    matches, message = _SCALARS[spec], f"must be {_describe(spec)}."

    def scalar(value: Any) -> None:
        if not matches(value):
            raise _Mismatch(message, [])

    return scalar


def _compile_one_of(spec: OneOf) -> Validator:
    options = [(option, _compile(option)) for option in spec.options]
    message = f"must be {_describe(spec)}."

    def one_of(value: Any) -> None:
        for option, validator in options:  # the first whose outer type matches decides
            if _outer_matches(value, option):
                validator(value)
                return
        raise _Mismatch(message, [])

    return one_of


def _compile_obj(spec: Obj) -> Validator:
    required = spec.required
    fields = {name: _compile(field) for name, field in spec.fields.items()}
    by_type = {
        kind: fields | {name: _compile(field) for name, field in extra.items()}
        for kind, extra in (spec.by_type or {}).items()
    }

    def obj(value: Any) -> None:
        if not isinstance(value, dict):
            raise _Mismatch("must be an object.", [])
        for name in required:
            if value.get(name) is None:
                raise _Mismatch("Field required.", [name])
        kind = value.get("type")
        validators = by_type.get(kind, fields) if by_type and isinstance(kind, str) else fields
        if not validators:
            return
        for name, field in value.items():  # the value's own keys (a handful), not every field the spec knows
            validator = validators.get(name)
            if validator is not None and field is not None:
                try:
                    validator(field)
                except _Mismatch as exc:
                    exc.path.append(name)
                    raise

    return obj


def _compile_seq(spec: Seq) -> Validator:
    item = _compile(spec.item)

    def seq(value: Any) -> None:
        if not isinstance(value, list):
            raise _Mismatch("must be a list.", [])
        for index, element in enumerate(value):
            try:
                item(element)
            except _Mismatch as exc:
                exc.path.append(str(index))
                raise

    return seq


# --- Anthropic Messages -----------------------------------------------------------------------------------------

_A_TEXT_BLOCK = Obj({"type": STR, "text": STR})
_A_SOURCE = Obj({"type": STR, "media_type": STR, "data": STR, "url": STR})
_A_BLOCK = Obj(
    {
        "type": STR,
        "text": STR,
        "id": STR,
        "name": STR,
        "input": ANY_OBJ,
        "tool_use_id": STR,
        "content": OneOf(
            (STR, Seq(Obj({"type": STR, "text": STR, "source": _A_SOURCE}, by_type={"search_result": {"source": STR}})))
        ),
        "is_error": BOOL,
        "thinking": STR,
        "signature": STR,
        "data": STR,
        "source": _A_SOURCE,
    },
    required=("type",),
    by_type={"search_result": {"source": STR}},  # a search_result block's source is its URL
)
_A_CONTENT = OneOf((STR, Seq(_A_BLOCK)))
ANTHROPIC = Obj(
    {
        "model": STR,
        "messages": Seq(Obj({"role": STR, "content": _A_CONTENT})),
        "system": OneOf((STR, Seq(_A_TEXT_BLOCK))),
        "max_tokens": INT,
        "tools": Seq(
            Obj({"type": STR, "name": STR, "description": STR, "input_schema": ANY_OBJ, "strict": BOOL}, ("name",))
        ),
        "tool_choice": Obj({"type": STR, "name": STR, "disable_parallel_tool_use": BOOL}),
        "metadata": Obj({"user_id": STR}),
        "stream": BOOL,
        "temperature": NUM,
        "top_p": NUM,
        "top_k": INT,
        "stop_sequences": Seq(STR),
        "thinking": Obj({"type": STR, "budget_tokens": INT}),
        "output_config": Obj({"format": Obj({"type": STR, "schema": ANY_OBJ}), "effort": STR}),
    }
)

# --- OpenAI Chat Completions ------------------------------------------------------------------------------------

_O_PART = Obj(
    {
        "type": STR,
        "text": STR,
        "image_url": OneOf((STR, Obj({"url": STR, "detail": STR}))),
        "file": Obj({"file_data": STR, "filename": STR, "file_id": STR}),
        "input_audio": ANY_OBJ,
    }
)
_O_CALL = Obj(
    {
        "id": STR,
        "type": STR,
        "function": Obj({"name": STR, "arguments": STR}),
        "custom": Obj({"name": STR, "input": STR}),
    }
)
_O_FUNCTION = Obj({"name": STR, "description": STR, "parameters": ANY_OBJ, "strict": BOOL}, ("name",))
OPENAI = Obj(
    {
        "model": STR,
        "messages": Seq(
            Obj(
                {
                    "role": STR,
                    "content": OneOf((STR, Seq(_O_PART))),
                    "tool_calls": Seq(_O_CALL),
                    "tool_call_id": STR,
                    "name": STR,
                    "reasoning_content": STR,
                    "function_call": Obj({"name": STR, "arguments": STR}),
                }
            )
        ),
        "max_tokens": INT,
        "max_completion_tokens": INT,
        "tools": Seq(Obj({"type": STR, "function": _O_FUNCTION, "custom": Obj({"name": STR, "description": STR})})),
        "functions": Seq(_O_FUNCTION),
        "tool_choice": OneOf((STR, Obj({"type": STR, "function": Obj({"name": STR}), "name": STR}))),
        "function_call": OneOf((STR, Obj({"name": STR}))),
        "parallel_tool_calls": BOOL,
        "stream": BOOL,
        "stream_options": Obj({"include_usage": BOOL}),
        "temperature": NUM,
        "top_p": NUM,
        "stop": OneOf((STR, Seq(STR))),
        "response_format": Obj({"type": STR, "json_schema": Obj({"name": STR, "schema": ANY_OBJ})}),
        "metadata": Obj({}),
        "user": STR,
        "safety_identifier": STR,
        "reasoning_effort": STR,
        "n": INT,
    }
)

# --- OpenAI Responses ---------------------------------------------------------------------------------------------

_R_PART = Obj({"type": STR, "text": STR, "image_url": STR, "file_data": STR, "filename": STR})
_R_CONTENT = OneOf((STR, Seq(_R_PART)))
_R_TOOL = Obj(
    {
        "type": STR,
        "name": STR,
        "description": STR,
        "parameters": ANY_OBJ,
        "strict": BOOL,
        "tools": Seq(Obj({"type": STR, "name": STR, "description": STR, "parameters": ANY_OBJ})),
    }
)
RESPONSES = Obj(
    {
        "model": STR,
        "input": OneOf(
            (
                STR,
                Seq(
                    Obj(
                        {
                            "type": STR,
                            "role": STR,
                            "content": _R_CONTENT,
                            "call_id": STR,
                            "name": STR,
                            "namespace": STR,
                            "arguments": STR,
                            "input": STR,
                            "output": _R_CONTENT,
                            "summary": Seq(Obj({"type": STR, "text": STR})),
                            "id": STR,
                        }
                    )
                ),
            )
        ),
        "instructions": STR,
        "tools": Seq(_R_TOOL),
        "tool_choice": OneOf((STR, Obj({"type": STR, "name": STR, "mode": STR}))),
        "metadata": Obj({}),
        "stream": BOOL,
        "max_output_tokens": INT,
        "reasoning": Obj({"effort": STR, "summary": STR}),
        "text": Obj({"format": Obj({"type": STR, "name": STR, "schema": ANY_OBJ, "strict": BOOL})}),
        "include": Seq(STR),
        "store": BOOL,
        "parallel_tool_calls": BOOL,
        "previous_response_id": STR,
        "prompt_cache_key": STR,
        "temperature": NUM,
        "top_p": NUM,
        "user": STR,
        "safety_identifier": STR,
    }
)
