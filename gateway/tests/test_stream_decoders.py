"""The providers' synchronous stream decoders (gateway.providers.common.SSEItems), shared by the stream loop and the
spliced relay: the same items however the body is split, nothing after OpenAI's `[DONE]`."""

from __future__ import annotations

import json

from gateway.providers import anthropic, openai_compat

CHUNKS = [{"choices": [{"delta": {"content": f"part {i} ✓"}}]} for i in range(3)]
OPENAI_BODY = (
    b": OPENROUTER PROCESSING\n\n"
    + b"".join(b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\n\n" for c in CHUNKS)
    + b"data: [DONE]\n\n"
    + b'data: {"choices": [{"delta": {"content": "after the end"}}]}\n\n'
)


def _items(decoder, pieces: list[bytes]) -> list:
    items = []
    for piece in pieces:
        items.extend(decoder.feed(piece))
        if decoder.ended:
            return items
    return items + decoder.close()


def test_openai_chunks_come_out_the_same_at_every_split_and_nothing_after_done_is_read():
    for cut in range(len(OPENAI_BODY) + 1):
        decoder = openai_compat.stream_decoder()
        items = _items(decoder, [OPENAI_BODY[:cut], OPENAI_BODY[cut:]])
        assert items == [("", c) for c in CHUNKS], cut
        assert decoder.ended


def test_the_text_decoder_gives_each_chunk_as_its_json_text_unparsed():
    decoder = openai_compat.text_decoder()
    items = _items(decoder, [OPENAI_BODY[i : i + 7] for i in range(0, len(OPENAI_BODY), 7)])
    assert [json.loads(text) for _, text in items] == CHUNKS
    assert decoder.ended


def test_a_stream_that_ends_without_done_or_a_final_blank_line_still_gives_its_last_event():
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in CHUNKS)[:-2]
    decoder = openai_compat.stream_decoder()
    assert _items(decoder, [body]) == [("", c) for c in CHUNKS]
    assert not decoder.ended


def test_anthropic_events_take_their_name_from_the_event_line_or_the_type_and_bad_json_is_skipped():
    body = (
        b'event: message_start\ndata: {"type": "message_start", "message": {}}\n\n'
        b"data: {not json}\n\n"
        b'data: {"type": "ping"}\n\n'
    )
    for cut in range(len(body) + 1):
        items = _items(anthropic.stream_decoder(), [body[:cut], body[cut:]])
        assert items == [("message_start", {"type": "message_start", "message": {}}), ("ping", {"type": "ping"})]
