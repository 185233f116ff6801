"""The incremental SSE decoder and the encoders."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.translate.sse import DONE, SSEDecoder, SSEEvent, encode, encode_json


def _feed(*pieces: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return [e for p in pieces for e in decoder.feed(p)] + decoder.flush()


def test_it_decodes_named_events_with_ids() -> None:
    events = _feed(b"event: ping\nid: 7\ndata: {}\n\n")
    assert events == [SSEEvent("ping", "{}", "7")]


def test_it_joins_multi_line_data_with_newlines() -> None:
    assert _feed(b"data: a\ndata: b\ndata:c\n\n") == [SSEEvent(None, "a\nb\nc")]


def test_it_ignores_comments_keep_alives_and_retry() -> None:
    assert _feed(b": OPENROUTER PROCESSING\n\nretry: 10\n:ping\n\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_it_accepts_cr_lf_and_bare_cr_line_endings() -> None:
    assert _feed(b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n") == [
        SSEEvent(None, "1"),
        SSEEvent(None, "2"),
        SSEEvent(None, "3"),
    ]


def test_a_cr_lf_split_between_two_chunks_is_one_line_ending() -> None:
    assert _feed(b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n") == [SSEEvent(None, "1"), SSEEvent(None, "2")]


def test_a_code_point_split_between_chunks_is_decoded_whole() -> None:
    raw = "data: 👋 世界\n\n".encode()
    cut = raw.index("👋".encode()) + 2
    assert _feed(raw[:cut], raw[cut:]) == [SSEEvent(None, "👋 世界")]


def test_flush_dispatches_a_final_event_without_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [SSEEvent(None, "[DONE]")]
    assert decoder.flush() == []


def test_a_leading_bom_and_empty_chunks_are_ignored() -> None:
    assert _feed(b"", "\ufeffdata: x\n\n".encode()) == [SSEEvent(None, "x")]


def test_a_field_without_colon_and_an_empty_data_block_follow_the_spec() -> None:
    assert _feed(b"data\n\nevent: x\n\n") == [SSEEvent(None, "")]


def test_an_id_with_a_nul_is_ignored_and_the_last_id_persists() -> None:
    assert _feed(b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n") == [SSEEvent(None, "a", "1"), SSEEvent(None, "b", "1")]


def test_encode_writes_one_data_line_per_line() -> None:
    assert encode("message_stop", "a\nb") == b"event: message_stop\ndata: a\ndata: b\n\n"
    assert encode(None, "x") == b"data: x\n\n"


def test_encode_json_is_compact_and_keeps_unicode() -> None:
    assert encode_json("e", {"a": [1, "é\n"]}) == 'event: e\ndata: {"a":[1,"é\\n"]}\n\n'.encode()
    assert encode_json(None, {"a": 1}) == b'data: {"a":1}\n\n'
    assert DONE == b"data: [DONE]\n\n"


@given(
    st.lists(st.tuples(st.sampled_from([None, "message_start", "x"]), st.text()), max_size=8),
    st.lists(st.integers(0, 500)),
)
def test_encoded_events_decode_back_identically_under_any_split(events: list, cuts: list[int]) -> None:
    data = b"".join(encode_json(name, {"v": text}) for name, text in events)
    bounds = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    decoded = [(e.event, json.loads(e.data)["v"]) for e in _feed(*pieces)]
    assert decoded == [(name, text) for name, text in events]
