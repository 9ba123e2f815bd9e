"""`flashctl emulator --run-workers`: a local RunPod that runs the deployed endpoints' real
workers from their rendered contexts, load-balances to them and scales them, over real HTTP."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator
from flashctl.emulator.workers import WorkerOptions
from tests.conftest import ROOT
from tests.deploy.conftest import CANARY_KEY, Deploy
from tests.servers import free_port

EXAMPLE = ROOT / "flash.yaml.example"
AUTH = {"Authorization": f"Bearer {CANARY_KEY}"}


def port_range() -> tuple[int, int]:
    """Worker ports of this test process (other test runs on the machine use other ranges)."""
    low = 21000 + (os.getpid() % 300) * 30  # below the ephemeral ports (32768-)
    return low, low + 29


def render(run_cli: Callable[..., Any], flash_yaml: Path, output: Path, **env: str) -> None:
    result = run_cli("render", "-f", str(flash_yaml), "-o", str(output), "--force", env=env)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def local_runpod(
    start_emulator: Callable[..., BackgroundEmulator], tmp_path: Path
) -> Callable[..., Deploy]:
    def start(**options: Any) -> Deploy:
        workers = WorkerOptions(
            contexts=tmp_path / "build",
            ports=port_range(),
            max_total=options.pop("max_total", 8),
            wait_seconds=options.pop("wait_seconds", 30.0),
            stop_seconds=5.0,
            source=options.pop("source", "auto"),
        )
        emulator = start_emulator(workers=workers, **options)
        return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})

    return start


def processes(deploy: Deploy) -> list[dict[str, Any]]:
    answer = requests.get(f"{deploy.url}/_emulator/workers", timeout=5)
    workers: list[dict[str, Any]] = answer.json()["workers"]
    return workers


def wait_until(condition: Callable[[], Any], seconds: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting to be reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def base_url(deploy: Deploy, name: str) -> str:
    url: str = deploy.by_name(name)["requestUrls"]["base"]
    return url


def test_the_example_applied_to_the_local_runpod_answers_every_route_through_invoke(
    run_cli, local_runpod, tmp_path
):
    render(run_cli, EXAMPLE, tmp_path / "build")
    deploy = local_runpod()
    applied = run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env)
    assert applied.exit_code == 0, applied.stderr
    gpu = base_url(deploy, "seed-gpu")
    assert gpu.startswith(f"{deploy.url}/"), "the loopback URL is handed out"

    calls = [
        ("gpu", "GET", "/health", None, {"status": "ok", "service": "gpu"}),
        ("gpu", "POST", "/compute", '{"numbers": [1, 2]}', {"count": 2, "sum_of_squares": 5}),
        ("cpu", "POST", "/transform", '{"text": "ab", "operation": "reverse"}', "ba"),
        ("users", "POST", "/users", '{"name": "a", "email": "a@b"}', None),
        ("users", "GET", "/users/1", None, None),
    ]
    for endpoint, method, path, data, expected in calls:
        args = ["invoke", "-f", str(EXAMPLE), endpoint, method, path]
        result = run_cli(*args, *(["--data", data] if data else []), env=deploy.env)
        assert result.exit_code == 0, (path, result.stdout, result.stderr)
        if expected is not None:
            assert json.loads(result.stdout) == expected
    info = requests.get(f"{gpu}/info", headers=AUTH, timeout=10).json()
    assert info["device"] == "cuda", "the endpoint's env reaches the worker"

    status = run_cli("status", "-f", str(EXAMPLE), "--format", "json", env=deploy.env)
    assert status.exit_code == 0, status.stderr
    assert gpu in status.stdout

    pids = [w["pid"] for w in processes(deploy)]
    assert len(pids) == 3 and all(alive(pid) for pid in pids)
    destroyed = run_cli("destroy", "-f", str(EXAMPLE), "--yes", env=deploy.env)
    assert destroyed.exit_code == 0, destroyed.stderr
    wait_until(lambda: not processes(deploy), what="destroy stops every worker")
    wait_until(lambda: not any(alive(pid) for pid in pids), what="the processes end")


def test_a_cold_start_is_204_then_200_and_requests_need_the_key_and_fit_30_mb(
    run_cli, local_runpod, tmp_path
):
    render(run_cli, EXAMPLE, tmp_path / "build")
    deploy = local_runpod()
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0
    gpu = base_url(deploy, "seed-gpu")
    assert not processes(deploy), "workers.min 0: nothing runs before a request"

    first = requests.get(f"{gpu}/ping", headers=AUTH, timeout=10)
    assert first.status_code == 204, "initializing"
    statuses = [first.status_code]
    for _ in range(400):
        statuses.append(requests.get(f"{gpu}/ping", headers=AUTH, timeout=10).status_code)
        if statuses[-1] == 200:
            break
        time.sleep(0.05)
    assert statuses[-1] == 200 and set(statuses) <= {200, 204}, statuses
    (worker,) = requests.get(
        f"{deploy.url}/v2/serverless/{deploy.by_name('seed-gpu')['id']}/workers",
        headers=AUTH,
        timeout=5,
    ).json()["workers"]
    assert worker["status"] == "IDLE" and worker["id"] == processes(deploy)[0]["id"]

    assert requests.get(f"{gpu}/health", timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.get(f"{gpu}/health", headers=wrong, timeout=5).status_code == 401
    big = requests.post(
        f"{gpu}/compute",
        data=b"x" * (30 * 1024 * 1024 + 1),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert big.status_code == 413


SLOW_HANDLERS = """\
import os
import time

VERSION = "{version}"


def slow(seconds: float = 0.4):
    time.sleep(seconds)
    return {{"version": VERSION, "pid": os.getpid()}}


def hello():
    return {{"version": VERSION}}


def ticks(flag: str):
    yield {{"tick": 1}}
    for _ in range(100):  # the client creates `flag` once it has read the first tick
        if os.path.exists(flag):
            yield {{"tick": 2, "flag": "seen"}}
            return
        time.sleep(0.05)
    yield {{"tick": 2, "flag": "never seen: the first tick was held back"}}
"""


def small_project(folder: Path, version: str, *, workers: str, slo: str = "") -> Path:
    (folder / "app").mkdir(parents=True, exist_ok=True)
    (folder / "app" / "handlers.py").write_text(SLOW_HANDLERS.format(version=version))
    flash_yaml = folder / "flash.yaml"
    flash_yaml.write_text(
        f"""\
version: 1
project: burst
endpoints:
  api:
    image: acme/burst:{version}
    source: ./app
    compute:
      cpu: [{{flavor: cpu3c, vcpus: 2}}]
    scaling:
      workers: {workers}
      request_count: 1
      idle_timeout: 1
    runtime: {{server: hypercorn}}
    routes:
      - {{method: POST, path: /slow, handler: "handlers:slow"}}
      - {{method: GET, path: /hello, handler: "handlers:hello"}}
      - {{method: GET, path: /ticks, handler: "handlers:ticks"}}
{slo}"""
    )
    return flash_yaml


def deployed(
    run_cli: Callable[..., Any], local_runpod: Callable[[], Deploy], tmp_path: Path, **options: str
) -> tuple[Path, Deploy]:
    """`small_project` (version "1", with `options`) rendered and applied to a new local RunPod:
    its flash.yaml and the deploy."""
    flash_yaml = small_project(tmp_path / "project", "1", **options)
    render(run_cli, flash_yaml, tmp_path / "build")
    deploy = local_runpod()
    assert run_cli("apply", "-f", str(flash_yaml), "--yes", env=deploy.env).exit_code == 0
    return flash_yaml, deploy


@pytest.mark.slow
def test_a_burst_scales_a_cpu_endpoint_from_zero_to_max_and_back_after_the_idle_timeout(
    run_cli, local_runpod, tmp_path
):
    _, deploy = deployed(run_cli, local_runpod, tmp_path, workers="{min: 0, max: 3}")
    url = base_url(deploy, "burst-api") + "/slow"
    seen: set[int] = set()
    most = 0

    def one() -> int:
        answer = requests.post(url, json={"seconds": 0.4}, headers=AUTH, timeout=60)
        if answer.status_code == 200:
            seen.add(answer.json()["pid"])
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for _round in range(6):
            statuses = list(pool.map(lambda _: one(), range(6)))
            assert statuses == [200] * 6
            most = max(most, len(processes(deploy)))
            if len(seen) == 3:
                break
    assert len(seen) == 3 and most == 3, "scaled to workers.max, and not beyond"
    wait_until(lambda: not processes(deploy), 15, "idle workers stop after idle_timeout")


@pytest.mark.slow
def test_a_new_release_is_rolled_out_with_no_failed_request(run_cli, local_runpod, tmp_path):
    flash_yaml, deploy = deployed(run_cli, local_runpod, tmp_path, workers="{min: 1, max: 2}")
    url = base_url(deploy, "burst-api") + "/hello"
    wait_until(lambda: requests.get(url, headers=AUTH, timeout=10).status_code == 200)
    old_pids = {w["pid"] for w in processes(deploy)}

    answers: list[Any] = []
    stop = threading.Event()

    def traffic() -> None:
        with requests.Session() as session:
            while not stop.is_set() and len(answers) < 5000:
                try:
                    reply = session.get(url, headers=AUTH, timeout=30)
                    answers.append((reply.status_code, reply.json().get("version")))
                except (requests.RequestException, ValueError) as err:
                    answers.append((None, repr(err)))

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        small_project(tmp_path / "project", "2", workers="{min: 1, max: 2}")
        render(run_cli, flash_yaml, tmp_path / "build")
        applied = run_cli("apply", "-f", str(flash_yaml), "--yes", env=deploy.env)
        assert applied.exit_code == 0, applied.stderr
        wait_until(
            lambda: (
                answers
                and answers[-1][1] == "2"
                and not old_pids & {w["pid"] for w in processes(deploy)}
            ),
            30,
            "the new release serves and the old worker is gone",
        )
    finally:
        stop.set()
        sender.join(30)
    failed = [a for a in answers if a[0] != 200]
    assert not failed, failed[:5]
    versions = [v for _, v in answers]
    assert versions[0] == "1" and versions[-1] == "2"
    assert versions == sorted(versions), "no answer from the old release after the new one"
    assert not any(alive(pid) for pid in old_pids)


@pytest.mark.slow
def test_loadtest_passes_its_slo_through_the_local_runpod_and_an_impossible_one_fails(
    run_cli, local_runpod, tmp_path
):
    passing = "slo: {p50_ms: 3000, p99_ms: 8000, success_rate: 0.99}\n"
    flash_yaml, deploy = deployed(
        run_cli, local_runpod, tmp_path, workers="{min: 1, max: 1}", slo=passing
    )
    load = ("loadtest", "-f", str(flash_yaml), "api", "--route", "GET /hello", "-n", "60")
    result = run_cli(*load, env=deploy.env)
    assert result.exit_code == 0, result.stdout + result.stderr
    impossible = "slo: {p50_ms: 0.001}\n"
    small_project(tmp_path / "project", "1", workers="{min: 1, max: 1}", slo=impossible)
    result = run_cli(*load, env=deploy.env)
    assert result.exit_code == 1 and "SLO missed" in result.stderr


def test_a_request_that_finds_no_worker_in_time_gets_runpods_400(run_cli, local_runpod, tmp_path):
    render(run_cli, EXAMPLE, tmp_path / "build")
    deploy = local_runpod(max_total=1, wait_seconds=0.5)
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0
    gpu, cpu = base_url(deploy, "seed-gpu"), base_url(deploy, "seed-cpu")
    wait_until(lambda: requests.get(f"{gpu}/health", headers=AUTH, timeout=10).ok)
    refused = requests.get(f"{cpu}/health", headers=AUTH, timeout=10)
    assert refused.status_code == 400, "the worker cap is reached: no cpu worker can start"
    assert "the cap of 1 workers is reached" in refused.json()["detail"]
    lines = [line for w in processes(deploy) for line in w["lines"]]
    assert len(processes(deploy)) == 1, lines


def test_a_worker_gets_secrets_from_the_secrets_file_and_the_port_from_its_range(
    tmp_path: Path,
) -> None:
    from flashctl.emulator.workers import read_secrets, worker_env

    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("# local values\nhf_token=hf_LOCALVALUE\n")
    notes: list[str] = []
    env = worker_env(
        {"PORT": "8000", "PYTHONUNBUFFERED": "1"},
        {"HF_TOKEN": "{{ RUNPOD_SECRET_hf_token }}", "OTHER": "{{ RUNPOD_SECRET_x }}", "A": "b"},
        read_secrets(secrets_file),
        30123,
        "w1",
        notes.append,
    )
    assert env["HF_TOKEN"] == "hf_LOCALVALUE" and env["A"] == "b"
    assert "OTHER" not in env and notes == [
        "emulator: secret x is not in --secrets; OTHER is left unset"
    ]
    assert env["PORT"] == env["PORT_HEALTH"] == "30123"


def start_cli_emulator(*extra: str, seconds: float = 20.0) -> tuple[subprocess.Popen[bytes], str]:
    """`flashctl emulator --run-workers` in a subprocess on free ports, with `extra` options;
    returns it and its URL once it answers (stop it with the `cli_emulators` fixture)."""
    port = free_port()
    low, high = port_range()
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "flashctl", "emulator", "--run-workers"],
            *["--port", str(port), "--api-key", CANARY_KEY, "--worker-ports", f"{low}-{high}"],
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), seconds, "the emulator listens")
    return process, url


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/_emulator/workers", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_no_worker_outlives_the_emulator(run_cli, tmp_path, cli_emulators, signum):
    render(run_cli, EXAMPLE, tmp_path / "build")
    process, url = start_cli_emulator("--contexts", str(tmp_path / "build"))
    cli_emulators.append(process)
    env = {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": url}
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=env).exit_code == 0
    endpoints = requests.get(f"{url}/v2/serverless", headers=AUTH, timeout=5).json()
    for endpoint in endpoints["endpoints"]:
        requests.get(endpoint["requestUrls"]["base"] + "/ping", headers=AUTH, timeout=5)

    def all_ready() -> list[dict[str, Any]] | None:
        workers = requests.get(f"{url}/_emulator/workers", timeout=5).json()["workers"]
        ready = len(workers) == 3 and all(w["status"] == "READY" for w in workers)
        return workers if ready else None

    workers = wait_until(all_ready, 20, "three ready workers")
    pids = [w["pid"] for w in workers]
    assert all(alive(pid) for pid in pids)
    os.kill(process.pid, signum)
    process.wait(20)
    wait_until(lambda: not any(alive(pid) for pid in pids), 10, "every worker ends")


def test_worker_ports_must_be_a_range(run_cli):
    result = run_cli("emulator", "--run-workers", "--worker-ports", "80")
    assert result.exit_code == 2 and "--worker-ports must look like LOW-HIGH" in result.stderr


def test_a_worker_that_crashes_on_start_leaves_a_400_and_its_output(
    run_cli, local_runpod, tmp_path
):
    flash_yaml = small_project(tmp_path / "project", "1", workers="{min: 0, max: 2}")
    handlers = tmp_path / "project" / "app" / "handlers.py"
    handlers.write_text('raise RuntimeError("boom at import")\n' + handlers.read_text())
    render(run_cli, flash_yaml, tmp_path / "build")
    deploy = local_runpod(wait_seconds=1.5)
    assert run_cli("apply", "-f", str(flash_yaml), "--yes", env=deploy.env).exit_code == 0
    url = base_url(deploy, "burst-api") + "/hello"
    assert requests.get(url, headers=AUTH, timeout=10).status_code == 400
    endpoint_id = deploy.by_name("burst-api")["id"]

    def crash_lines() -> list[str]:
        answer = requests.get(f"{deploy.url}/_emulator/workers", timeout=5).json()
        lines: list[str] = answer["crashed"].get(endpoint_id, [])
        return lines

    wait_until(crash_lines, 20, "the worker's crash is recorded")
    assert any("boom at import" in line for line in crash_lines())
    wait_until(lambda: not processes(deploy), 10, "no worker is left")


@pytest.mark.slow
def test_a_streamed_answer_passes_the_load_balancer_as_it_is_written(
    run_cli, local_runpod, tmp_path
):
    _, deploy = deployed(run_cli, local_runpod, tmp_path, workers="{min: 0, max: 1}")
    flag = tmp_path / "first-tick-read"
    url = base_url(deploy, "burst-api") + "/ticks"
    headers = {**AUTH, "Accept": "text/event-stream"}
    with requests.get(
        url, params={"flag": str(flag)}, headers=headers, stream=True, timeout=30
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = r.iter_lines()
        first = next(line for line in events if line)
        assert json.loads(first.removeprefix(b"data: ")) == {"tick": 1}
        flag.touch()
        rest = [json.loads(line.removeprefix(b"data: ")) for line in events if line]
    assert rest == [{"tick": 2, "flag": "seen"}]


def test_the_key_goes_over_plain_http_to_a_loopback_local_runpod_only():
    from flashctl.deploy.invoke import refuse_plain_http
    from flashctl.errors import DeployError

    refuse_plain_http("http://127.0.0.1:8765/x7k2m9q4p1v8z3/ping")  # the local RunPod's URL
    with pytest.raises(DeployError, match=r"plain http to 10\.1\.2\.3"):
        refuse_plain_http("http://10.1.2.3:8765/x7k2m9q4p1v8z3/ping")


def test_without_a_render_the_400_says_to_render(run_cli, local_runpod):
    deploy = local_runpod(wait_seconds=0.5)
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0
    refused = requests.get(base_url(deploy, "seed-cpu") + "/health", headers=AUTH, timeout=10)
    assert refused.status_code == 400
    assert "run `flashctl render`" in refused.json()["detail"]
    assert not processes(deploy)


def test_workers_from_image_without_the_image_in_any_engine_answer_400_saying_so(
    run_cli, local_runpod, tmp_path
):
    render(run_cli, EXAMPLE, tmp_path / "build")  # a context is there, and is not used
    deploy = local_runpod(wait_seconds=0.5, source="image")
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0

    def refusal() -> str:  # the first ones may come while the engines are asked
        refused = requests.get(base_url(deploy, "seed-cpu") + "/health", headers=AUTH, timeout=30)
        assert refused.status_code == 400
        detail: str = refused.json()["detail"]
        return detail if "no container engine has the image" in detail else ""

    detail = wait_until(refusal, 60, "the 400 names the missing image")
    assert "no container engine has the image ghcr.io/acme/seed-cpu:dev" in detail
    assert "--workers-from context" in detail
    assert not processes(deploy)


def test_the_load_balancer_works_on_hypercorn_when_uvicorn_is_missing(
    run_cli, local_runpod, tmp_path, monkeypatch
):
    from flashctl.emulator import server

    monkeypatch.setattr(server, "uvicorn_installed", lambda: False)
    render(run_cli, EXAMPLE, tmp_path / "build")
    deploy = local_runpod()
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0
    answer = requests.post(
        base_url(deploy, "seed-gpu") + "/compute", json={"numbers": [3]}, headers=AUTH, timeout=30
    )
    assert answer.status_code == 200 and answer.json() == {"count": 1, "sum_of_squares": 9}
