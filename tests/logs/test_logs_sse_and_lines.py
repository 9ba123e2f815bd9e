"""The SSE parser (chunks cut anywhere, every line ending, comments, ids) and how a log line is
shown (the runtime's JSON lines made readable, anything else verbatim)."""

from __future__ import annotations

import doctest

import pytest

from flashctl.compiler import units
from flashctl.compiler.units import parse_duration
from flashctl.logs import lines, sse
from flashctl.logs.lines import LogEvent, readable
from flashctl.logs.sse import Event, EventParser

STREAM = (
    b"\xef\xbb\xbf: keep-alive\r\n\r\n"
    b'id: 1\r\ndata: {"line": "a"}\r\n\r\n'
    b"event: message\rdata: two\rdata: lines\r\r"
    b"id: 3\ndata:no space\n\n"
    b"retry: 500\nid\ndata: caf\xc3\xa9\n\n"
    b"data: unfinished"
)
EXPECTED = [
    Event("1", "message", '{"line": "a"}'),
    Event("1", "message", "two\nlines"),
    Event("3", "message", "no space"),
    Event("", "message", "café"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(STREAM)])
def test_events_are_the_same_however_the_stream_is_cut(size):
    parser = EventParser()

    events = []
    for start in range(0, len(STREAM), size):
        events += parser.feed(STREAM[start : start + size])

    assert events == EXPECTED
    assert parser.retry_ms == 500


def test_a_crlf_split_between_two_chunks_is_one_line_end():
    parser = EventParser()

    events = parser.feed(b"data: a\r") + parser.feed(b"\n") + parser.feed(b"\r\n")

    assert events == [Event(None, "message", "a")]


def test_an_event_without_data_is_not_dispatched():
    assert EventParser().feed(b"id: 9\nevent: ping\n\n") == []


def test_a_runtime_request_line_reads_as_method_route_status_ms_error_request():
    line = (
        '{"ts":"T","level":"error","event":"request","request_id":"5f3a","trace_id":"t",'
        '"span_id":"s","method":"POST","route":"/users/{id:int}","status":500,"exec_ms":12.5,'
        '"bytes_in":1,"bytes_out":2,"error":"ValueError",'
        '"traceback":"Traceback\\nValueError: x\\n"}'
    )

    assert readable(line) == (
        "ERROR POST /users/{id:int} 500 12.5 ms ValueError request 5f3a\nTraceback\nValueError: x"
    )


def test_runtime_life_cycle_lines_show_their_fields_and_other_lines_stay_verbatim():
    assert readable('{"ts":"T","level":"info","event":"startup","routes":3,"title":"api"}') == (
        "startup routes=3 title=api"
    )
    assert readable('{"not": "ours"}') == '{"not": "ours"}'
    assert readable("  Loading weights... 40%") == "  Loading weights... 40%"


def test_an_event_with_data_that_is_not_runpods_shape_keeps_it_as_its_line():
    event = LogEvent.from_data("w1", "7", "plain text")

    assert (event.line, event.ts, event.at) == ("plain text", "", 0.0)
    assert event.text() == "w1 - plain text"


def test_durations():
    assert [parse_duration(v) for v in ("45s", "10m", "1h30m", "2d", "1.5h", "250ms", "5")] == [
        45.0,
        600.0,
        5400.0,
        172800.0,
        5400.0,
        0.25,
        5.0,
    ]
    for bad in ("", "10 minutes", "m", "10x", "-5m", "1h 30m"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)


@pytest.mark.parametrize("module", [sse, lines, units])
def test_docstring_examples_hold(module):
    assert doctest.testmod(module).failed == 0
