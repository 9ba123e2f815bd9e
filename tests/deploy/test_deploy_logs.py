"""`flashctl logs` against the emulator over real HTTP: the workers' SSE log streams merged in
time order, --tail, --since, --worker, --format json, the errors, and following: new workers
picked up, a dropped stream resumed with Last-Event-ID, Ctrl-C ending with exit 0."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from flashctl.logs import flows
from flashctl.logs.flows import since_time
from flashctl.logs.lines import LogEvent
from flashctl.logs.streams import Target, Timing, read_logs, rfc3339
from flashctl.runpod.client import RunPodClient
from tests.deploy.conftest import CANARY_KEY, FAST_RETRY, Deploy, create_raw, endpoint_yaml
from tests.servers import start_interruptible

FAST = Timing(settle=0.3, backfill_limit=10.0, hold=0.05, poll=0.2)
REQUEST_LINE = json.dumps(
    {
        "ts": "2026-12-02T00:10:01.123Z",
        "level": "error",
        "event": "request",
        "request_id": "5f3a9c",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
        "method": "POST",
        "route": "/users/{id:int}",
        "status": 500,
        "exec_ms": 12.5,
        "bytes_in": 12,
        "bytes_out": 40,
        "error": "ValueError",
        "traceback": "Traceback (most recent call last):\nValueError: bad id\n",
    }
)


@pytest.fixture(autouse=True)
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "TIMING", FAST)


class Deployed:
    def __init__(self, deploy: Deploy, path: Path) -> None:
        self.deploy, self.path = deploy, path
        self.id = deploy.by_name("shop-api")["id"]

    @property
    def store(self):  # the emulator's worker logs, to write lines at chosen times
        return self.deploy.emulator.emulator.worker_logs

    def workers(self) -> list[str]:
        listed = self.deploy.emulator.emulator.state.workers(self.id)["workers"]
        return sorted(w["id"] for w in listed)

    def write(self, worker: str, *lines: str) -> None:
        """Lines through the emulator's hook (the worker writes its start line first)."""
        response = requests.post(
            f"{self.deploy.url}/_emulator/serverless/{self.id}/workers/{worker}/logs",
            json={"lines": list(lines)},
            timeout=5,
        )
        assert response.status_code == 204, response.text

    def drop(self, worker: str, after: int) -> None:
        response = requests.post(
            f"{self.deploy.url}/_emulator/serverless/{self.id}/workers/{worker}/logs/drop",
            json={"after": after},
            timeout=5,
        )
        assert response.status_code == 204, response.text


@pytest.fixture
def deployed(run_cli, deploy: Deploy, write_project) -> Callable[..., Deployed]:
    def make(workers: int = 2) -> Deployed:
        path = write_project(endpoint_yaml("api", workers=f"{{min: {workers}, max: 3}}"))
        applied = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
        assert applied.exit_code == 0, applied
        made = Deployed(deploy, path)
        for worker in made.workers():
            made.write(worker)  # nothing yet: the start line
        return made

    return make


def words(line: str) -> tuple[str, str]:
    """(worker, message) of a text line `<worker> <ts> <message>`."""
    worker, _ts, message = line.split(" ", 2)
    return worker, message


def test_logs_of_two_workers_are_merged_in_time_order(run_cli, deploy, deployed):
    api = deployed()
    a, b = api.workers()
    now = time.time()
    api.store.append(api.id, b, "b: loading", at=now + 1)
    api.store.append(api.id, a, "a: loading", at=now + 2)
    api.store.append(api.id, b, "b: ready", at=now + 3)
    api.store.append(api.id, a, REQUEST_LINE, at=now + 4)

    result = run_cli("logs", "api", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert {words(line) for line in lines[:2]} == {
        (a, f"worker {a} started (image acme/app:1, release 1)"),
        (b, f"worker {b} started (image acme/app:1, release 1)"),
    }
    assert [words(line) for line in lines[2:6]] == [
        (b, "b: loading"),
        (a, "a: loading"),
        (b, "b: ready"),
        (a, "ERROR POST /users/{id:int} 500 12.5 ms ValueError request 5f3a9c"),
    ]
    assert lines[6:] == ["  Traceback (most recent call last):", "  ValueError: bad id"]
    assert lines[2].split(" ")[1] == rfc3339(now + 1)


def test_tail_keeps_the_latest_lines_over_all_workers(run_cli, deploy, deployed):
    api = deployed()
    a, b = api.workers()
    now = time.time()
    for n in range(1, 6):
        api.store.append(api.id, a, f"a{n}", at=now + 2 * n)
        api.store.append(api.id, b, f"b{n}", at=now + 2 * n + 1)

    result = run_cli("logs", "api", "--tail", "3", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 0, result
    assert [words(line)[1] for line in result.stdout.splitlines()] == ["b4", "a5", "b5"]


def test_since_keeps_the_lines_from_that_time_on(run_cli, deploy, deployed):
    api = deployed()
    a, b = api.workers()
    now = time.time()
    api.store.append(api.id, a, "before", at=now + 1)
    api.store.append(api.id, b, "after", at=now + 3)

    cut = run_cli("logs", "api", "--since", rfc3339(now + 2), "-f", str(api.path), env=deploy.env)
    recent = run_cli("logs", "api", "--since", "1m", "-f", str(api.path), env=deploy.env)

    assert cut.exit_code == 0, cut
    assert [words(line) for line in cut.stdout.splitlines()] == [(b, "after")]
    assert len(recent.stdout.splitlines()) == 4  # two start lines, both lines


def test_since_shows_every_line_since_then_unless_tail_says_fewer(run_cli, deploy, deployed):
    api = deployed(workers=1)
    (a,) = api.workers()
    now = time.time()
    for n in range(150):
        api.store.append(api.id, a, f"line {n}", at=now + n / 1000)
    path = str(api.path)

    since = run_cli("logs", "api", "--since", "5m", "-f", path, env=deploy.env)
    tail = run_cli("logs", "api", "--since", "5m", "--tail", "5", "-f", path, env=deploy.env)
    default = run_cli("logs", "api", "-f", path, env=deploy.env)

    assert len(since.stdout.splitlines()) == 151, since  # and the start line
    assert [words(line)[1] for line in tail.stdout.splitlines()] == [
        f"line {n}" for n in range(145, 150)
    ]
    assert len(default.stdout.splitlines()) == 100, default


def test_since_reads_durations_and_times():
    now = 1_780_000_000.0

    assert since_time("10m", now) == rfc3339(now - 600)
    assert since_time("1h30m", now) == rfc3339(now - 5400)
    assert since_time("2026-06-01T12:00:00Z", now) == "2026-06-01T12:00:00Z"
    assert since_time(None, now) is None


def test_a_bad_since_is_a_usage_error(run_cli, deploy, deployed):
    api = deployed()

    result = run_cli("logs", "api", "--since", "ten minutes", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 2, result
    assert "--since 'ten minutes': not a duration (30s, 10m, 1h30m, 2d)" in result.stderr


def test_worker_keeps_one_workers_log(run_cli, deploy, deployed):
    api = deployed()
    a, b = api.workers()
    api.write(a, "from a")
    api.write(b, "from b")

    result = run_cli("logs", "api", "--worker", b, "-f", str(api.path), env=deploy.env)
    unknown = run_cli("logs", "api", "--worker", "nosuch", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 0, result
    assert [words(line)[0] for line in result.stdout.splitlines()] == [b, b]
    assert result.stdout.splitlines()[-1].endswith(" from b")
    assert unknown.exit_code == 1, unknown
    assert f"No worker nosuch on shop-api ({api.id}); its workers: {a}, {b}." in unknown.stderr


def test_format_json_passes_the_events_through(run_cli, deploy, deployed):
    api = deployed(workers=1)
    (a,) = api.workers()
    api.write(a, REQUEST_LINE)

    result = run_cli("logs", "api", "--format", "json", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 0, result
    start, request = (json.loads(line) for line in result.stdout.splitlines())
    assert set(request) == {"worker", "id", "ts", "source", "line"}
    assert (request["worker"], request["source"], request["line"]) == (a, "container", REQUEST_LINE)
    assert request["id"] == f"{request['ts']}/000000000002"
    assert start["source"] == "system"


def test_logs_errors_name_the_endpoint_and_what_to_do(run_cli, deploy: Deploy, write_project):
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web", workers="{min: 0, max: 1}"))

    unknown = run_cli("logs", "nope", "-f", str(path), env=deploy.env)
    undeployed = run_cli("logs", "api", "-f", str(path), env=deploy.env)
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
    web_id = deploy.by_name("shop-web")["id"]
    idle = run_cli("logs", "web", "-f", str(path), env=deploy.env)

    assert unknown.exit_code == 2, unknown
    assert (
        "No endpoint 'nope'" in unknown.stderr and "its endpoints are: api, web" in unknown.stderr
    )
    assert undeployed.exit_code == 1, undeployed
    assert "shop-api is not deployed" in undeployed.stderr
    assert idle.exit_code == 1, idle
    assert f"shop-web ({web_id}) has no workers running" in idle.stderr
    assert "`flashctl logs web --follow` waits for one" in idle.stderr
    assert "Traceback" not in unknown.stderr + undeployed.stderr + idle.stderr


def test_logs_never_reads_another_projects_endpoint(run_cli, deploy: Deploy, write_project):
    billing = create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "billing"})
    path = write_project(endpoint_yaml("api"))

    result = run_cli("logs", "api", "-f", str(path), env=deploy.env)

    assert result.exit_code == 1, result
    assert (
        f"Not reading the logs of shop-api: shop-api ({billing['id']}) belongs to project 'billing'"
    ) in result.stderr
    assert not any("/logs" in route for route in deploy.counts())


class Follower:
    """`read_logs(follow=True)` in a thread, its lines in a queue, stopped at the end."""

    def __init__(self, client: RunPodClient, target: Target, workers: list[str]) -> None:
        self.lines: queue.Queue[LogEvent] = queue.Queue()
        self.seen: list[LogEvent] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(client, target, workers))
        self.thread.start()

    def _run(self, client: RunPodClient, target: Target, workers: list[str]) -> None:
        try:
            read_logs(
                client, target, workers, self.lines.put, follow=True, stop=self.stop, timing=FAST
            )
        except BaseException as err:  # shown by the test
            self.errors.append(err)

    def until(self, done: Callable[[list[LogEvent]], bool], timeout: float = 15) -> list[LogEvent]:
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            assert not self.errors, self.errors
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {[(e.worker, e.line) for e in self.seen]}"
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=min(left, 0.2)))
        return self.seen

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


@pytest.fixture
def follow(deploy: Deploy) -> Iterator[Callable[..., Follower]]:
    followers: list[Follower] = []
    clients: list[RunPodClient] = []

    def start(api: Deployed, workers: list[str], worker: str | None = None) -> Follower:
        client = RunPodClient.from_environment(deploy.url, environ=deploy.env, retry=FAST_RETRY)
        clients.append(client)
        target = Target(api.id, "shop-api", 100, None, worker)
        followers.append(Follower(client, target, workers))
        return followers[-1]

    yield start
    for follower in followers:
        follower.close()
    for client in clients:
        client.close()


def test_following_picks_up_a_worker_that_appears(run_cli, deploy, deployed, follow, write_project):
    api = deployed()
    a, b = api.workers()
    follower = follow(api, [a, b])
    follower.until(lambda seen: {e.worker for e in seen} == {a, b})  # the start lines

    more = write_project(endpoint_yaml("api", workers="{min: 3, max: 3}"))
    assert run_cli("apply", "-f", str(more), "--yes", env=deploy.env).exit_code == 0
    (c,) = set(api.workers()) - {a, b}
    follower.until(lambda seen: any(e.worker == c for e in seen))
    api.write(c, "c: serving")
    api.write(a, "a: still here")
    seen = follower.until(lambda seen: len(seen) == 5)

    assert [(e.worker, e.line) for e in seen[2:]] == [
        (c, f"worker {c} started (image acme/app:1, release 1)"),
        (c, "c: serving"),
        (a, "a: still here"),
    ]


def test_a_dropped_stream_resumes_with_last_event_id_nothing_lost_or_repeated(
    deploy, deployed, follow
):
    api = deployed()
    a, _ = api.workers()
    api.write(a, *(f"line {n}" for n in range(1, 7)))
    api.drop(a, after=3)  # the first stream is cut after the start line, line 1 and line 2

    follower = follow(api, [a], worker=a)
    follower.until(lambda seen: len(seen) == 7)
    api.drop(a, after=1)  # the live stream is cut after line 7
    api.write(a, "line 7", "line 8", "line 9")
    seen = follower.until(lambda seen: len(seen) == 10)
    time.sleep(FAST.settle)  # time for a repeated line to show up, if one were coming
    follower.close()

    lines = [e.line for e in follower.seen[1:]]
    assert lines == [f"line {n}" for n in range(1, 10)], lines
    assert len(seen) == len(follower.seen) == 10
    assert deploy.counts()["GET /v2/serverless/{id}/workers/{workerId}/logs"] >= 3


def test_logs_reopen_streams_that_meet_faults(run_cli, deploy, deployed):
    api = deployed(workers=1)
    (a,) = api.workers()
    api.write(a, "one", "two")
    route = "GET /v2/serverless/{id}/workers/{workerId}/logs"
    faults = [{"kind": kind, "match": route} for kind in ("503", "drop", "429", "drop_after")]
    scripted = requests.post(f"{deploy.url}/_emulator/faults", json={"faults": faults}, timeout=5)
    assert scripted.status_code == 204

    result = run_cli("logs", "api", "--debug", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 0, result
    assert [words(line)[1] for line in result.stdout.splitlines()[1:]] == ["one", "two"]
    # The emulator logs a stream when it ends, which it sees just after the client has left.
    deadline = time.monotonic() + 10
    while deploy.counts()[route] < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert deploy.counts()[route] == 5
    assert CANARY_KEY not in result.stderr


def test_a_stream_that_keeps_failing_ends_logs_with_exit_1_naming_the_worker(
    run_cli, deploy, deployed
):
    api = deployed(workers=1)
    (a,) = api.workers()
    route = "GET /v2/serverless/{id}/workers/{workerId}/logs"
    faults = [{"kind": "503", "match": route}] * 5
    requests.post(f"{deploy.url}/_emulator/faults", json={"faults": faults}, timeout=5)

    result = run_cli("logs", "api", "-f", str(api.path), env=deploy.env)

    assert result.exit_code == 1, result
    assert f"error: Lost the log stream of worker {a}: " in result.stderr
    assert "(503)" in result.stderr and "Traceback" not in result.stderr
    assert deploy.counts()[route] == 5


def test_following_a_scaled_to_zero_endpoint_waits_for_its_first_worker(
    run_cli, deploy, deployed, follow, write_project
):
    api = deployed(workers=0)
    follower = follow(api, [])

    more = write_project(endpoint_yaml("api", workers="{min: 1, max: 3}"))
    assert run_cli("apply", "-f", str(more), "--yes", env=deploy.env).exit_code == 0
    (a,) = api.workers()
    api.write(a, "first request")
    seen = follower.until(lambda seen: len(seen) == 2)

    assert [(e.worker, e.line) for e in seen] == [
        (a, f"worker {a} started (image acme/app:1, release 1)"),
        (a, "first request"),
    ]


@pytest.mark.slow
def test_ctrl_c_ends_logs_follow_with_exit_0(deploy: Deploy, deployed):
    api = deployed()
    a, b = api.workers()
    env = {**os.environ, **deploy.env}
    command = [sys.executable, "-m", "flashctl", "logs", "api", "--follow", "-f", str(api.path)]
    process = start_interruptible(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while len(out) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        api.write(a, "live line")
        while len(out) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(5)
    stderr = process.stderr.read() if process.stderr else ""
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    out = [line.rstrip("\n") for line in out]

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert {words(line)[0] for line in out[:2]} == {a, b}
    assert words(out[2]) == (a, "live line")
    assert CANARY_KEY not in stderr + "".join(out)
