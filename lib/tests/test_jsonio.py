import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import jsonio

SAMPLES = [
    {"model": "m", "messages": [{"role": "user", "content": 'héllo \u2028 "quoted" \\ \n\t\x01 😀'}]},
    {"n": 1, "f": 0.1, "big": 2**63 - 1, "neg": -(2**63), "t": True, "z": None, "e": [], "o": {}},
    [1.5e300, 1e-7, 3.0, -0.0],
]


@pytest.mark.parametrize("obj", SAMPLES[:2])
def test_dumps_gives_the_same_bytes_as_compact_utf8_json(obj):
    assert jsonio.dumps(obj) == json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def test_floats_may_be_spelled_differently_but_read_back_the_same():
    assert json.loads(jsonio.dumps(SAMPLES[2])) == SAMPLES[2]


@pytest.mark.parametrize("obj", SAMPLES)
def test_loads_reads_back_what_dumps_wrote(obj):
    assert jsonio.loads(jsonio.dumps(obj)) == obj


def test_integers_beyond_64_bits_and_nan_take_the_standard_librarys_path():
    assert jsonio.dumps({"seed": 2**70}) == b'{"seed":1180591620717411303424}'
    assert math.isnan(jsonio.loads("[NaN]")[0])


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b'{"a":1,}'])
def test_invalid_json_raises_a_value_error(raw):
    with pytest.raises(ValueError):
        jsonio.loads(raw)


def test_copy_is_a_deep_copy_of_json_data_and_falls_back_for_what_orjson_refuses():
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "héllo"}]}], "n": 1.5, "x": None}
    copied = jsonio.copy(body)
    assert copied == body and copied is not body
    copied["messages"][0]["content"][0]["text"] = "changed"
    assert body["messages"][0]["content"][0]["text"] == "héllo"
    big = {"seed": 2**70, "tags": ("a", "b")}
    assert jsonio.copy(big) == big and jsonio.copy(big)["seed"] == 2**70  # exact, not a float


@pytest.mark.parametrize(
    "raw",
    [b'{"a":"\\ud800"}', b'{"a":"x\\udfffy"}', b'["\\udc00\\ud800"]', b'{"a":"\xed\xa0\x80"}', b'["\\ud800", NaN]'],
)
def test_a_lone_surrogate_is_refused_on_both_parse_paths(raw):
    with pytest.raises(ValueError):  # InvalidJSON, or UnicodeDecodeError for the raw bytes: both ValueErrors
        jsonio.loads(raw)


def test_a_surrogate_pair_is_one_character_and_is_kept():
    assert jsonio.loads(b'"\\ud83d\\ude42"') == "\U0001f642"


@pytest.mark.parametrize("levels", [65, 1100, 100_000])
def test_nesting_deeper_than_the_limit_is_refused_without_a_recursion_error(levels):
    for raw in (b"[" * levels + b"]" * levels, b"[NaN," + b"[" * levels + b"]" * levels + b"]"):
        with pytest.raises(jsonio.InvalidJSON, match="nested deeper than 64"):
            jsonio.loads(raw, max_depth=64)


def test_nesting_at_the_limit_is_read_and_brackets_inside_strings_do_not_count():
    assert jsonio.loads(b"[" * 64 + b"]" * 64, max_depth=64)
    raw = b'[{"a": "[[[[{{{{\\"\\\\[[[[", "b": [1]}]'
    assert jsonio.loads(raw, max_depth=3) == [{"a": '[[[[{{{{"\\[[[[', "b": [1]}]
    assert not jsonio.deeper_than(raw, 3) and jsonio.deeper_than(raw, 2)


def test_without_a_limit_orjsons_own_depth_limit_is_an_invalid_json_error_not_a_recursion_error():
    with pytest.raises(jsonio.InvalidJSON):
        jsonio.loads(b"[" * 5000 + b"]" * 5000)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_TRICKY_TEXT = st.text(alphabet='[]{}"\\ab\n', max_size=8)
_JSON = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY_TEXT, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, derandomize=True)
@given(_JSON, st.integers(min_value=0, max_value=12))
def test_deeper_than_agrees_with_the_parsed_depth_whatever_the_strings_hold(value, limit):
    raw = json.dumps(value).encode()
    assert jsonio.deeper_than(raw, limit) == (_depth(value) > limit)


@pytest.mark.parametrize("value", [*SAMPLES, {"big": 2**70, "lone": "\ud800"}, {1: "int key"}])
def test_the_field_encoder_writes_what_the_standard_encoder_would_read_back_the_same(value):
    written = json.dumps(value, cls=jsonio.Encoder)
    assert json.loads(written) == json.loads(json.dumps(value))
