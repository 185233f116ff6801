"""AWS binary event-stream framing (application/vnd.amazon.eventstream).

Decoding is botocore's own `EventStreamBuffer` (prelude and message CRCs checked), wrapped
in the house decoder shape: `feed(bytes) -> list[Frame]`, `flush()`. (The test fakes encode frames
themselves, in gateway/tests/fake_bedrock.py.)

Frame layout: [total_len u32][headers_len u32][prelude_crc u32][headers][payload][message_crc u32],
every integer big-endian; a string header is [name_len u8][name][7][value_len u16][value].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from botocore.eventstream import EventStreamBuffer, ParserError


class EventStreamError(Exception):
    """The byte stream is not valid event-stream framing (bad CRC, bad lengths, cut short)."""


@dataclass(frozen=True, slots=True)
class Frame:
    headers: Mapping[str, object]
    payload: bytes

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", "event"))

    @property
    def event_type(self) -> str:
        return str(self.headers.get(":event-type", ""))

    @property
    def exception_type(self) -> str:
        return str(self.headers.get(":exception-type", ""))


class FrameDecoder:
    """Incremental decoder: feed any split of the byte stream, get whole frames back."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._pending = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer.add_data(data)
        self._pending += len(data)
        frames: list[Frame] = []
        try:
            for message in self._buffer:
                self._pending -= message.prelude.total_length
                frames.append(Frame(headers=message.headers, payload=message.payload))
        except ParserError as exc:
            raise EventStreamError(str(exc)) from exc
        return frames

    def flush(self) -> list[Frame]:
        """End of input: leftover bytes mean the stream was cut mid-frame."""
        if self._pending:
            raise EventStreamError(f"event stream ended inside a frame ({self._pending} bytes left)")
        return []
