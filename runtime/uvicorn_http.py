"""uvicorn's HTTP/1.1 protocol (httptools) with the two bounds hypercorn already has.

- The request head (request line and header fields) is capped at ``wire.MAX_HEAD_BYTES``:
  uvicorn's httptools protocol has no cap at all (a 50 MB header value was read and served),
  while hypercorn's h11 refuses past ``h11_max_incomplete_size``. Past the cap: 431, closed.
  Bytes are counted as they arrive, before httptools buffers them, from the end of one head
  to the end of the next; a head that starts in the same read as the previous request's end
  is counted from the next read on, so at most one read (256 KiB) more gets buffered.
- The keep-alive timeout also runs from the moment a connection opens and while a head is
  still arriving: uvicorn arms it only after a response, so a connection that never sent a
  complete request stayed open forever (1,100 of them exhausted a 1,024-descriptor process).

Only imported when uvicorn serves; ``serve.py`` passes the class as uvicorn's ``http``.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .wire import MAX_HEAD_BYTES

_TOO_LARGE = json.dumps(
    {"detail": f"Request head is larger than {MAX_HEAD_BYTES} bytes"}, separators=(",", ":")
).encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._heads = 0  # heads parsed on this connection
        self._in_body = False
        self._head_size = 0  # bytes of the head now arriving
        self._tail = b""  # its last bytes, to find a CRLF CRLF split across reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        if not self._in_body and not self._head_fits(data):
            self._refuse_head()
            return
        # uvicorn cancels the idle deadline on any byte; keep it while a head is still arriving
        timer, self.timeout_keep_alive_task = self.timeout_keep_alive_task, None
        heads = self._heads
        super().data_received(data)
        if timer is None:
            return
        if self._heads == heads and not self.transport.is_closing():
            self.timeout_keep_alive_task = timer
        else:
            timer.cancel()

    def _head_fits(self, data: bytes) -> bool:
        window = self._tail + data
        end = window.find(b"\r\n\r\n")
        if end < 0:
            self._head_size += len(data)
            self._tail = window[-3:]
            return self._head_size <= MAX_HEAD_BYTES
        return self._head_size + end + 4 - len(self._tail) <= MAX_HEAD_BYTES

    def _refuse_head(self) -> None:
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE), _TOO_LARGE)
        )
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._heads += 1
        self._in_body = True
        self._head_size = 0
        self._tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()
