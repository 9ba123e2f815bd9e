"""How one log event is shown: `flashctl logs` text lines, or the event passed through as JSON.

A text line is the worker id, the event's time and the line. The runtime's JSON log lines
(`runtime/logs.py`, `Exchange.log_line`) are made readable; any other line is shown verbatim:

    8g3n5t6r 2026-12-02T00:10:01.123Z POST /users/{id:int} 500 12.3 ms ValueError request 5f3a9c...
      Traceback (most recent call last): ...
    8g3n5t6r 2026-12-02T00:10:00.002Z ready startup_ms=812.5
    8g3n5t6r 2026-12-02T00:09:59.000Z Loading weights...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The fields of a runtime request line (`Exchange.log_line`): shown in words or left out; any
# other field is shown as key=value.
_REQUEST_FIELDS = frozenset(
    {"ts", "event", "level", "method", "route", "status", "exec_ms", "request_id", "error"}
    | {"trace_id", "span_id", "bytes_in", "bytes_out", "traceback"}
)


@dataclass(frozen=True)
class LogEvent:
    """One line of one worker's log stream, as the SSE `data` gave it."""

    worker: str
    id: str | None  # the SSE event id (`<ts>/<seq>`), the reconnection cursor
    ts: str
    at: float  # epoch seconds of `ts`, to merge streams in time order
    source: str
    line: str

    @classmethod
    def from_data(cls, worker: str, event_id: str | None, data: str) -> LogEvent:
        """The event of an SSE `data` payload `{"ts", "source", "line"}`; a payload that is
        not that shape is kept whole as the line (never dropped)."""
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("line"), str):
            return cls(worker, event_id, "", 0.0, "", data)
        ts = str(payload.get("ts") or "")
        return cls(
            worker, event_id, ts, epoch(ts), str(payload.get("source") or ""), payload["line"]
        )

    def json(self) -> str:
        """`{"worker", "id", "ts", "source", "line"}` on one line."""
        record = {"worker": self.worker, "id": self.id, "ts": self.ts, "source": self.source}
        return json.dumps({**record, "line": self.line}, ensure_ascii=False)

    def text(self) -> str:
        """The readable line (and, after a 500, the traceback's lines, indented)."""
        shown = readable(self.line)
        first, *more = shown.split("\n")
        head = f"{self.worker} {self.ts or '-'} {first}"
        return "\n".join([head, *("  " + line for line in more)])


def readable(line: str) -> str:
    """A runtime JSON log line in words; any other line as it is.

    >>> readable('{"ts":"T","level":"info","event":"request","request_id":"ab12","method":"GET",'
    ...          '"route":"/users/{id}","status":200,"exec_ms":1.5,"error":null}')
    'GET /users/{id} 200 1.5 ms request ab12'
    >>> readable('{"ts":"T","level":"info","event":"ready","startup_ms":812.5}')
    'ready startup_ms=812.5'
    >>> readable("Loading weights...")
    'Loading weights...'
    """
    record = _runtime_record(line)
    if record is None:
        return line
    level = record.get("level")
    prefix = f"{str(level).upper()} " if level not in (None, "info") else ""
    if record["event"] == "request":
        words = [
            str(record.get("method") or "-"),
            str(record.get("route") or "(no route)"),
            str(record.get("status") if record.get("status") is not None else "-"),
        ]
        if isinstance(record.get("exec_ms"), int | float):
            words.append(f"{record['exec_ms']:g} ms")
        if record.get("error"):
            words.append(str(record["error"]))
        if record.get("request_id"):
            words.append(f"request {record['request_id']}")
        extra = {k: v for k, v in record.items() if k not in _REQUEST_FIELDS}
        words += [f"{key}={_value(value)}" for key, value in extra.items()]
    else:
        words = [str(record["event"])]
        words += [
            f"{key}={_value(value)}"
            for key, value in record.items()
            if key not in ("ts", "level", "event", "traceback")
        ]
    text = prefix + " ".join(words)
    traceback = record.get("traceback")
    if isinstance(traceback, str) and traceback.strip():
        text += "\n" + traceback.rstrip("\n")
    return text


def _runtime_record(line: str) -> dict[str, Any] | None:
    """The line's JSON object if it is one of the runtime's (it has `ts` and `event`)."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and isinstance(record.get("event"), str) and "ts" in record:
        return record
    return None


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def epoch(ts: str) -> float:
    """Epoch seconds of an RFC 3339 time; 0.0 for a missing or unreadable one (sorted first)."""
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        return 0.0
    return moment.timestamp()
