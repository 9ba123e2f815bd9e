"""hypercorn's HTTP/1.1 protocol, answering an HTTP/1.0 request that has more behind it.

h11 keeps no HTTP/1.0 connection alive (``Connection: keep-alive`` included), so once such a
request is read the client "must close"; bytes after it (a pipelined request) made h11 raise,
and hypercorn answered that with a bare 400 and closed, before the first request got its
answer. Here those bytes are left unread: the first request is answered, then the connection
closes as h11 wants (RFC 9112 section 9.3: a server that does not keep the connection may
ignore what follows). Past ``h11_max_incomplete_size`` of such bytes h11 refuses as before.

hypercorn offers no setting for its protocol class, so ``install()`` replaces the name its
connection wrapper looks up; ``serve.py`` calls it when serving in-process.
"""

from __future__ import annotations

from typing import Any

import h11
import hypercorn.protocol
from hypercorn.protocol.h11 import H11Protocol


class _Connection(h11.Connection):
    def __init__(self, limit: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limit)
        self._limit = limit

    def next_event(self) -> Any:
        if self.their_state is h11.MUST_CLOSE:
            pending, _closed = self.trailing_data
            if pending and len(pending) <= self._limit:
                return h11.NEED_DATA
        return super().next_event()


class PipelineTolerantH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = _Connection(self.config.h11_max_incomplete_size)


def install() -> None:
    hypercorn.protocol.H11Protocol = PipelineTolerantH11Protocol  # type: ignore[misc]
