import json
import math

import pytest

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
