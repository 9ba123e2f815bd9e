"""Server-sent events, read incrementally (the WHATWG `text/event-stream` rules).

    >>> EventParser().feed(b"id: 7\\ndata: hi\\n\\n")
    [Event(id='7', type='message', data='hi')]

Lines end with CRLF, LF or CR (a CRLF split across two chunks is one line end); a line starting
with `:` is a comment (a keep-alive); `data:` lines accumulate, joined with newlines; an empty
line dispatches the event, which carries the last `id:` seen (it persists across events, as
`Last-Event-ID` does); an event with no data is not dispatched. `retry:` sets `retry_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    id: str | None
    type: str
    data: str


class EventParser:
    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._buffer = b""
        self._data: list[str] = []
        self._type = ""
        self._skip_lf = False  # the previous chunk ended with CR: a LF next is part of it
        self._started = False

    def feed(self, chunk: bytes) -> list[Event]:
        """The events that `chunk` completes."""
        if not chunk:
            return []
        if self._skip_lf and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._skip_lf = False
        self._buffer += chunk
        events = []
        while True:
            cut = _line_end(self._buffer)
            if cut < 0:
                break
            raw, ending = self._buffer[:cut], self._buffer[cut : cut + 1]
            rest = self._buffer[cut + 1 :]
            if ending == b"\r":
                if rest.startswith(b"\n"):
                    rest = rest[1:]
                elif not rest:
                    self._skip_lf = True
            self._buffer = rest
            event = self._line(raw.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if not self._started:
            self._started = True
            line = line.removeprefix("\ufeff")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Event | None:
        data, self._data = self._data, []
        kind, self._type = self._type or "message", ""
        if not data:
            return None
        return Event(self.last_id, kind, "\n".join(data))


def _line_end(buffer: bytes) -> int:
    """Index of the first CR or LF in `buffer`, or -1."""
    ends = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
    return min(ends) if ends else -1
