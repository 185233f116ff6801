"""Server-sent events: an incremental decoder and a fast encoder. Pure, no Django.

Public API:
- ``SSEEvent(event, data, id=None)``: one dispatched event (``event`` is None when the stream named none).
- ``SSEDecoder``: ``feed(chunk: bytes) -> list[SSEEvent]`` and ``flush() -> list[SSEEvent]`` at EOF. Chunks may be
  split anywhere, including inside a UTF-8 code point and between the ``\\r`` and ``\\n`` of a line ending. Comment
  lines (``: keep-alive``) are ignored, multi-line ``data`` is joined with ``\\n``, ``retry`` is ignored.
- ``encode(event, data) -> bytes`` and ``encode_json(event, obj) -> bytes`` (compact JSON, one ``data`` line).
- ``DONE``: the OpenAI end-of-stream frame ``data: [DONE]``.

Line handling follows the WHATWG EventSource parser. Splitting on line endings *before* decoding UTF-8 is what makes
code points split across chunks safe: ``\\r`` and ``\\n`` never occur inside a multi-byte sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib import jsonio

__all__ = ["DONE", "SSEDecoder", "SSEEvent", "encode", "encode_json"]

DONE = b"data: [DONE]\n\n"
_BOM = "\ufeff".encode()


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str
    id: str | None = None


class SSEDecoder:
    """Incremental SSE parser: feed bytes as they arrive, get whole events back."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buffer = b""  # bytes of an unterminated line
        self._skip_lf = False  # the previous chunk ended in "\r": a leading "\n" belongs to it
        self._started = False  # the BOM may only appear at the very start
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if chunk.endswith(b"\n\n") and not (self._buffer or self._data or self._skip_lf) and self._started:
            if b"\r" not in chunk:
                return self._whole_events(chunk)
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if not chunk:
            return []
        buffer = self._buffer + chunk
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
        self._buffer = buffer[end:]
        self._skip_lf = buffer.endswith(b"\r")
        if not end:
            return []
        out: list[SSEEvent] = []
        for raw in self._complete(buffer[:end]).splitlines():
            self._line(raw.decode("utf-8", "replace"), out)
        return out

    def _whole_events(self, chunk: bytes) -> list[SSEEvent]:
        """The common case: whole events, nothing pending, "\n" line endings. An event that is one `data: ` line
        (almost all of them) becomes an SSEEvent straight away; any other goes through the line parser."""
        out: list[SSEEvent] = []
        for block in chunk[:-2].split(b"\n\n"):
            if block.startswith(b"data: ") and b"\n" not in block:
                out.append(SSEEvent(self._event, block[6:].decode("utf-8", "replace"), self._id))
                self._event = None
                continue
            for raw in block.split(b"\n"):
                self._line(raw.decode("utf-8", "replace"), out)
            self._dispatch(out)
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: treat a pending line and a pending event as terminated (upstreams often omit the last
        blank line)."""
        out: list[SSEEvent] = []
        if self._buffer:
            self._line(self._complete(self._buffer).decode("utf-8", "replace"), out)
            self._buffer = b""
        self._line("", out)
        return out

    def _complete(self, lines: bytes) -> bytes:
        # The BOM may only open the stream; by the time a first line is complete, it is whole if present.
        if self._started:
            return lines
        self._started = True
        return lines.removeprefix(_BOM)

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if line.startswith("data: "):  # the hot path: almost every line of an LLM stream
            self._data.append(line[6:])
            return
        if not line:
            self._dispatch(out)
            return
        field, sep, value = line.partition(":")
        if not field:
            return  # comment / keep-alive
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if self._data:
            out.append(SSEEvent(self._event or None, "\n".join(self._data), self._id))
        self._event = None
        self._data = []


def encode(event: str | None, data: str) -> bytes:
    """One SSE frame; a multi-line ``data`` becomes several ``data:`` lines."""
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n".encode()


def encode_json(event: str | None, obj: object) -> bytes:
    """One SSE frame holding compact JSON; JSON text never contains a raw newline, so one data line suffices."""
    if event:
        return b"".join((b"event: ", event.encode(), b"\ndata: ", jsonio.dumps(obj), b"\n\n"))
    return b"".join((b"data: ", jsonio.dumps(obj), b"\n\n"))
