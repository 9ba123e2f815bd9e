"""The emulator's worker logs over real HTTP: RunPod's SSE stream at
`GET /v2/serverless/{id}/workers/{workerId}/logs` (tail, since, Last-Event-ID, source), kept open
for new lines, and the test hooks that write lines and cut a stream. Every response is checked
against the official schemas at teardown (the events too: tests/runpod_schemas.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator
from flashctl.emulator.worker_logs import WorkerLogs
from flashctl.logs.sse import Event, EventParser
from flashctl.runpod.client import RunPodClient
from tests.runpod.conftest import CANARY_KEY, make_lb_body
from tests.servers import free_port, start_interruptible, wait_for_status

AUTH = {"Authorization": f"Bearer {CANARY_KEY}"}


def started(client: RunPodClient, workers: int = 2) -> tuple[str, list[str]]:
    """An endpoint with `workers` live workers: (its id, their ids)."""
    endpoint = client.create_endpoint(make_lb_body(workers={"min": workers, "max": 3}))
    listed = client.list_workers(endpoint["id"])["workers"]
    return endpoint["id"], [w["id"] for w in listed]


def write(emulator: BackgroundEmulator, endpoint_id: str, worker: str, *lines: str) -> None:
    response = requests.post(
        f"{emulator.url}/_emulator/serverless/{endpoint_id}/workers/{worker}/logs",
        json={"lines": list(lines)},
        timeout=5,
    )
    assert response.status_code == 204, response.text


def logs_url(emulator: BackgroundEmulator, endpoint_id: str, worker: str) -> str:
    return f"{emulator.url}/v2/serverless/{endpoint_id}/workers/{worker}/logs"


class Stream:
    """An open log stream, read event by event with bounded waits."""

    def __init__(self, url: str, params: dict[str, Any] | None = None, **headers: str) -> None:
        self.response = requests.get(
            url, params=params, headers={**AUTH, **headers}, stream=True, timeout=(5, 5)
        )
        self.chunks = self.response.iter_content(chunk_size=None)
        self.parser = EventParser()
        self.pending: list[Event] = []

    def take(self, count: int) -> list[Event]:
        while len(self.pending) < count:
            self.pending += self.parser.feed(next(self.chunks))  # a read waits 5 s at most
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken

    def close(self) -> None:
        self.response.close()


def lines_of(events: list[Event]) -> list[str]:
    return [json.loads(event.data)["line"] for event in events]


def test_a_worker_starts_its_log_with_a_start_line(emulator, client):
    endpoint_id, (worker, _) = started(client)

    stream = Stream(logs_url(emulator, endpoint_id, worker))
    try:
        (event,) = stream.take(1)
    finally:
        stream.close()

    data = json.loads(event.data)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["cache-control"] == "no-cache"
    assert data["source"] == "system"
    assert data["line"] == f"worker {worker} started (image ghcr.io/acme/shop:1, release 1)"
    assert event.id == f"{data['ts']}/000000000001"


def test_the_stream_sends_the_tail_then_new_lines_as_they_come(emulator, client):
    endpoint_id, (worker, _) = started(client)
    write(emulator, endpoint_id, worker, *(f"line {n}" for n in range(1, 8)))

    stream = Stream(logs_url(emulator, endpoint_id, worker), {"tail": 3})
    try:
        backfill = stream.take(3)
        write(emulator, endpoint_id, worker, "line 8")
        live = stream.take(1)
    finally:
        stream.close()

    assert lines_of(backfill) == ["line 5", "line 6", "line 7"]
    assert lines_of(live) == ["line 8"]
    ids = [event.id or "" for event in backfill + live]
    assert [int(i.rsplit("/", 1)[1]) for i in ids] == [6, 7, 8, 9]  # the start line is 1


def test_last_event_id_resumes_after_that_event_whatever_tail_and_since_say(emulator, client):
    endpoint_id, (worker, _) = started(client)
    write(emulator, endpoint_id, worker, "a", "b", "c", "d")
    first = Stream(logs_url(emulator, endpoint_id, worker))
    try:
        events = first.take(5)
    finally:
        first.close()
    resume_from = events[2].id or ""  # "b"

    again = Stream(
        logs_url(emulator, endpoint_id, worker),
        {"tail": 1, "since": "2000-01-01T00:00:00Z"},
        **{"Last-Event-ID": resume_from},
    )
    try:
        resumed = again.take(2)
    finally:
        again.close()

    assert lines_of(resumed) == ["c", "d"]


def test_since_selects_the_lines_at_or_after_that_time(emulator, client):
    endpoint_id, (worker, _) = started(client)
    write(emulator, endpoint_id, worker, "old")
    time.sleep(0.05)
    cut = time.time()
    time.sleep(0.05)
    write(emulator, endpoint_id, worker, "new 1", "new 2")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut)) + f".{int(cut % 1 * 1000):03d}Z"

    stream = Stream(logs_url(emulator, endpoint_id, worker), {"since": since, "tail": 0})
    try:
        events = stream.take(2)
    finally:
        stream.close()

    assert lines_of(events) == ["new 1", "new 2"]


def test_source_keeps_one_kind_of_line(emulator, client):
    endpoint_id, (worker, _) = started(client)
    write(emulator, endpoint_id, worker, "from the container")

    stream = Stream(logs_url(emulator, endpoint_id, worker), {"source": "container"})
    try:
        events = stream.take(1)
    finally:
        stream.close()

    assert lines_of(events) == ["from the container"]


@pytest.mark.parametrize(
    ("params", "headers", "detail"),
    [
        ({"tail": "5001"}, {}, "tail must be an integer from 0 to 5000"),
        ({"tail": "-1"}, {}, "tail must be an integer from 0 to 5000"),
        ({"since": "yesterday"}, {}, "since must be an RFC 3339 date-time"),
        ({"source": "kernel"}, {}, "source must be one of container, system"),
        ({}, {"Last-Event-ID": "2026-06-01T12:00:00Z/x"}, "is not an event id"),
    ],
)
def test_a_bad_query_is_a_400_problem(emulator, client, params, headers, detail):
    endpoint_id, (worker, _) = started(client)

    response = requests.get(
        logs_url(emulator, endpoint_id, worker),
        params=params,
        headers={**AUTH, **headers},
        timeout=5,
    )

    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_an_unknown_worker_or_endpoint_is_a_404(emulator, client):
    endpoint_id, _ = started(client)

    worker = requests.get(logs_url(emulator, endpoint_id, "nosuchworker"), headers=AUTH, timeout=5)
    endpoint = requests.get(logs_url(emulator, "nosuchendpoint", "w"), headers=AUTH, timeout=5)
    unauthenticated = requests.get(logs_url(emulator, endpoint_id, "w"), timeout=5)

    assert (worker.status_code, worker.json()["detail"]) == (404, "worker not found")
    assert (endpoint.status_code, endpoint.json()["detail"]) == (404, "endpoint not found")
    assert unauthenticated.status_code == 401


def test_a_drop_cuts_the_stream_mid_way_and_the_next_one_resumes(emulator, client):
    endpoint_id, (worker, _) = started(client)
    write(emulator, endpoint_id, worker, "a", "b", "c", "d")
    cut = requests.post(
        f"{emulator.url}/_emulator/serverless/{endpoint_id}/workers/{worker}/logs/drop",
        json={"after": 2},
        timeout=5,
    )
    assert cut.status_code == 204

    stream = Stream(logs_url(emulator, endpoint_id, worker))
    received = stream.take(2)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        stream.take(1)  # the connection closes without the stream's end
    stream.close()
    resumed = Stream(logs_url(emulator, endpoint_id, worker), **{"Last-Event-ID": received[-1].id})
    try:
        rest = resumed.take(3)
    finally:
        resumed.close()

    assert lines_of(received)[1:] + lines_of(rest) == ["a", "b", "c", "d"]


def test_deleting_the_endpoint_ends_its_open_streams(emulator, client):
    endpoint_id, (worker, _) = started(client)
    stream = Stream(logs_url(emulator, endpoint_id, worker))
    try:
        stream.take(1)
        client.delete_endpoint(endpoint_id)
        rest = list(stream.chunks)  # ends, instead of waiting for lines that cannot come
    finally:
        stream.close()

    assert b"".join(rest).strip(b": keep-alive\n") == b""


def test_lines_keep_their_order_in_time_and_sequence_whatever_time_they_are_given():
    logs = WorkerLogs()
    logs.append("e", "w", "second", at=200.0)
    logs.append("e", "w", "first, stamped earlier", at=100.0)
    logs.begin("e", "w", "a start line comes only first", at=50.0)

    lines, cursor = logs.read("e", "w")

    assert [(line.seq, line.at, line.line) for line in lines] == [
        (1, 200.0, "second"),
        (2, 200.0, "first, stamped earlier"),
    ]
    assert cursor == 2


def test_scaling_up_keeps_the_running_workers(emulator, client):
    endpoint_id, before = started(client, workers=2)

    client.update_endpoint(endpoint_id, {"workers": {"min": 3}})
    after = [w["id"] for w in client.list_workers(endpoint_id)["workers"]]

    assert len(after) == 3 and set(before) <= set(after)


def test_stopping_the_emulator_ends_its_open_streams_properly(start_emulator, make_client):
    emulator = start_emulator()
    endpoint_id, (worker, _) = started(make_client(emulator.url))
    stream = Stream(logs_url(emulator, endpoint_id, worker))
    stream.take(1)

    emulator.stop()
    rest = list(stream.chunks)  # the stream's proper end, not a ChunkedEncodingError
    stream.close()

    assert b"".join(rest).strip(b": keep-alive\n") == b""
    (logged,) = [e for e in emulator.emulator.log.snapshot()["requests"] if "/logs" in e["path"]]
    assert logged["status"] == 200 and "started" in logged["response_body"]


@pytest.mark.slow
def test_ctrl_c_on_the_emulator_command_ends_open_streams_and_exits_0():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "flashctl", "emulator", "--port", str(port)]
    emulator = start_interruptible(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_status(f"{url}/_emulator/requests", 200, process=emulator)
        body = make_lb_body(workers={"min": 1, "max": 1})
        endpoint = requests.post(f"{url}/v2/serverless", json=body, headers=AUTH, timeout=5).json()
        listed = requests.get(
            f"{url}/v2/serverless/{endpoint['id']}/workers", headers=AUTH, timeout=5
        )
        stream = Stream(logs_url_at(url, endpoint["id"], listed.json()["workers"][0]["id"]))
        stream.take(1)

        emulator.send_signal(signal.SIGINT)
        rest = list(stream.chunks)
        stream.close()
        output, _ = emulator.communicate(timeout=20)
    finally:
        if emulator.poll() is None:
            emulator.kill()
            emulator.communicate()

    assert emulator.returncode == 0, output
    assert b"Traceback" not in output
    assert b"".join(rest).strip(b": keep-alive\n") == b""


def logs_url_at(url: str, endpoint_id: str, worker: str) -> str:
    return f"{url}/v2/serverless/{endpoint_id}/workers/{worker}/logs"
