"""The servers B1, B2 and the soak compare, and how each one is started, probed and loaded.

Every contender is one process on 127.0.0.1 answering `POST /transform`
(`{"text": "hello", "operation": "uppercase"}` -> `"HELLO"`) and `GET /ping`:

- rendered-hypercorn, rendered-uvicorn: flash.yaml.example's `cpu` endpoint rendered with
  `runtime.server` set (VARIANT below), started with its Dockerfile's CMD from the build context,
  with the Dockerfile's ENV and endpoint.json's env (as the container runs it). The `-compiled`
  variants compile the context to .pyc first, as an image built with `compileall` would ship.
  The `-async` variants serve /transform from an `async def` wrapper of the same function (on the
  event loop); the `-observed` ones have `runtime.metrics: true` and export every request's span
  to a local OTLP collector (`otlp_sink`), `-observed-0.1` a tenth of them (trace-id ratio).
- starlette-hypercorn, starlette-uvicorn: flash_baseline/starlette_app.py served by
  flash_baseline/serve_bare.py with the server settings of runtime/serve.py (one process,
  uvloop, same keep-alive and backlog) but without importing the runtime package.
- starlette-hypercorn-threadpool, starlette-uvicorn-threadpool: the same app calling the function
  through Starlette's `run_in_threadpool`, as the runtime runs every sync handler in a thread pool.
- runpod-flash: runpod-flash 1.21.0's `create_lb_handler` app (flash_baseline/flash_lb_app.py) on
  `python -m uvicorn` with uvicorn's defaults (uvicorn[standard]: uvloop, httptools, access log
  on), from its own venv.
- runpod-flash-quiet: the same with `--no-access-log` (the rendered service still writes its JSON
  line per request).

The variant drops the example's `rate_limit` (600 requests a minute per client would answer 429
to a load test from one address); everything else is the example's `cpu` endpoint.
runpod-flash is installed only into `bench/.venv/flash-1.21.0` (ignored by git, created on first
use); nothing of it enters the project's dependencies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ROOT / "bench" / "flash_baseline"
FLASH_VENV = ROOT / "bench" / ".venv" / "flash-1.21.0"
FLASH_REQUIREMENTS = ("runpod-flash==1.21.0", "uvicorn[standard]")
BODY = b'{"text": "hello", "operation": "uppercase"}'
EXPECTED = b'"HELLO"'

VARIANT = """\
version: 1
project: seed
endpoints:
  cpu:
    source: {source}
    python: "3.11"
    image: ghcr.io/acme/seed-cpu:dev
    compute:
      cpu: [{{flavor: cpu5c, vcpus: 2}}]
      disk_gb: 10
    scaling:
      workers: {{min: 0, max: 5}}
      idle_timeout: 60
      flashboot: priority
    runtime:
      server: {server}
      docs: true
      metrics: {metrics}
    env:
      LOG_LEVEL: INFO
    routes:
      - {{method: GET, path: /health, handler: "cpu_worker:health"}}
      - {{method: POST, path: /validate, handler: "cpu_worker:validate"}}
      - {{method: POST, path: /transform, handler: "{transform}"}}{routes_extra}
"""

# The `-async` variants serve /transform from this module, added beside the seed's sources: the
# same function as an `async def` handler, so the runtime calls it on the event loop.
ASYNC_WORKER = """\
\"\"\"The seed's transform as an async handler (bench only).\"\"\"

from cpu_worker import transform as _transform


async def transform(text: str, operation: str) -> str:
    \"\"\"Apply `operation` to `text`, on the event loop.\"\"\"
    return _transform(text, operation)
"""
# `rendered(..., batched=True)`: the gpu endpoint's batched embedder and metrics on (soak --batched)
BATCHED_ROUTE = (
    '\n      - {method: POST, path: /embed, handler: "gpu_worker:embed",'
    " batch: {max_size: 32, max_wait_ms: 10}}"
)
EMBED_BODY = b'{"text": "hello"}'

NAMES = (
    "rendered-hypercorn",
    "rendered-uvicorn",
    "rendered-hypercorn-compiled",
    "rendered-uvicorn-compiled",
    "rendered-hypercorn-async",
    "rendered-uvicorn-async",
    "rendered-hypercorn-observed",
    "rendered-uvicorn-observed",
    "rendered-hypercorn-observed-0.1",
    "rendered-uvicorn-observed-0.1",
    "starlette-hypercorn",
    "starlette-uvicorn",
    "starlette-hypercorn-threadpool",
    "starlette-uvicorn-threadpool",
    "runpod-flash",
    "runpod-flash-quiet",
)


@dataclass(frozen=True)
class Contender:
    """How to start one server: `argv` may hold `{port}`; `PORT` is set in the env too."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def spawn(self, port: int, stdout: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen:
        argv = [part.format(port=port) for part in self.argv]
        env = {**os.environ, **self.env, "PORT": str(port)}
        return subprocess.Popen(
            argv, cwd=self.cwd, env=env, stdout=stdout, stderr=subprocess.STDOUT
        )


def revision() -> str:
    """The commit measured, e.g. `8fb665c` or `8fb665c+uncommitted runtime changes`."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "runtime", "templates"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+uncommitted runtime changes" if dirty.strip() else "")


# --- rendering the example variant -----------------------------------------------------------


def render_variant(
    workdir: Path,
    server: str,
    async_handler: bool = False,
    metrics: bool = False,
    batched: bool = False,
) -> Path:
    """Render the `cpu` variant for `server` under `workdir`; return its build context.
    `async_handler`: /transform is ASYNC_WORKER's; `metrics`: `runtime.metrics: true`;
    `batched`: also the gpu endpoint's batched `POST /embed` (metrics on)."""
    from flashctl.compiler.pipeline import load_valid_project
    from flashctl.render.flows import render_to

    folder = workdir / f"variant-{server}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flash.yaml"
    # a source must be inside the folder of flash.yaml: a copy of the seed's
    source = shutil.copytree(ROOT / "examples" / "seed", folder / "source", dirs_exist_ok=True)
    transform = "cpu_worker:transform"
    if async_handler:
        (source / "async_worker.py").write_text(ASYNC_WORKER, encoding="utf-8")
        transform = "async_worker:transform"
    text = VARIANT.format(
        source=json.dumps("source"),
        server=server,
        transform=transform,
        metrics=json.dumps(metrics or batched),
        routes_extra=BATCHED_ROUTE if batched else "",
    )
    path.write_text(text, encoding="utf-8")
    loaded = load_valid_project(path, variables={}, environment=None)
    render_to(loaded, folder / ".flashctl" / "build")
    return folder / ".flashctl" / "build" / "cpu"


def dockerfile_command(context: Path) -> list[str]:
    """The exec-form CMD of the context's Dockerfile."""
    for line in (context / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("CMD ["):
            return list(json.loads(line[len("CMD ") :]))
    raise SystemExit(f"{context / 'Dockerfile'}: no exec-form CMD")


def dockerfile_env(context: Path) -> dict[str, str]:
    """The ENV instructions of the context's Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (context / "Dockerfile").read_text(encoding="utf-8"))
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[len("ENV ") :]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def rendered(
    workdir: Path,
    server: str,
    compiled: bool = False,
    variant: str = "",
    otlp_url: str = "",
    batched: bool = False,
) -> Contender:
    """The rendered variant as its container runs it; `compiled`: with its .py files compiled
    to .pyc first (`python -m compileall`), which the rendered Dockerfile does not do.
    `variant` "async": /transform is an `async def` handler; "observed": metrics on and spans
    exported to `otlp_url` (every request sampled, OpenTelemetry's default); "observed-0.1":
    the same with `parentbased_traceidratio` sampling at 0.1; `batched`: with `POST /embed`
    batched and `runtime.metrics: true`."""
    folder = workdir / ("compiled" if compiled else "as-rendered") / (variant or "plain")
    folder = folder.with_name(folder.name + "-batched") if batched else folder
    observed = variant.startswith("observed")
    context = render_variant(
        folder, server, async_handler=variant == "async", metrics=observed, batched=batched
    )
    if compiled:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(context)],
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
    command = dockerfile_command(context)
    if command[0] != "python":
        raise SystemExit(f"unexpected CMD {command}")
    # The image's python is this venv's; bind loopback only (argparse: the last --host wins).
    argv = (sys.executable, *command[1:], "--host", "127.0.0.1")
    endpoint_env = json.loads((context / "endpoint.json").read_text(encoding="utf-8"))["env"]
    name = "-".join(
        ["rendered", server]
        + ["compiled"] * compiled
        + [variant] * bool(variant)
        + ["batched"] * batched
    )
    env = {**dockerfile_env(context), **endpoint_env}
    if observed:
        if not otlp_url:
            raise SystemExit(f"{name} needs an OTLP collector (otlp_sink)")
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_url
    if variant == "observed-0.1":
        env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        env["OTEL_TRACES_SAMPLER_ARG"] = "0.1"
    return Contender(name, argv, context, env)


def starlette(server: str, threadpool: bool = False) -> Contender:
    argv = (sys.executable, "serve_bare.py", server, "{port}")
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    name = f"starlette-{server}"
    if threadpool:
        env["BASELINE_THREADPOOL"] = "1"
        name += "-threadpool"
    return Contender(name, argv, BASELINES, env)


def flash_python() -> Path:
    """The bench-only venv with runpod-flash 1.21.0, created and installed on first use."""
    python = FLASH_VENV / "bin" / "python"
    marker = FLASH_VENV / ".installed"
    if marker.exists():
        return python
    print(f"creating {FLASH_VENV} with {' '.join(FLASH_REQUIREMENTS)}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(FLASH_VENV)], check=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *FLASH_REQUIREMENTS],
        check=True,
        timeout=900,
    )
    marker.write_text(" ".join(FLASH_REQUIREMENTS) + "\n", encoding="utf-8")
    return python


def flash(workdir: Path, quiet: bool) -> Contender:
    # Run from a scratch folder: runpod-flash writes a `.flash/` state folder into its cwd.
    argv = [str(flash_python()), "-m", "uvicorn", "flash_lb_app:app", "--app-dir", str(BASELINES)]
    argv += ["--host", "127.0.0.1", "--port", "{port}"]
    if quiet:
        argv.append("--no-access-log")
    env = {"PYTHONUNBUFFERED": "1"}
    return Contender("runpod-flash" + ("-quiet" if quiet else ""), tuple(argv), workdir, env)


def build(names: list[str], workdir: Path, otlp_url: str = "") -> dict[str, Contender]:
    """The named contenders, rendering build contexts under `workdir` as needed; the
    `-observed` ones export spans to `otlp_url` (see `otlp_sink`)."""
    makers = {
        "rendered-hypercorn": lambda: rendered(workdir, "hypercorn"),
        "rendered-uvicorn": lambda: rendered(workdir, "uvicorn"),
        "rendered-hypercorn-compiled": lambda: rendered(workdir, "hypercorn", compiled=True),
        "rendered-uvicorn-compiled": lambda: rendered(workdir, "uvicorn", compiled=True),
        "rendered-hypercorn-async": lambda: rendered(workdir, "hypercorn", variant="async"),
        "rendered-uvicorn-async": lambda: rendered(workdir, "uvicorn", variant="async"),
        "rendered-hypercorn-observed": lambda: rendered(
            workdir, "hypercorn", variant="observed", otlp_url=otlp_url
        ),
        "rendered-uvicorn-observed": lambda: rendered(
            workdir, "uvicorn", variant="observed", otlp_url=otlp_url
        ),
        "rendered-hypercorn-observed-0.1": lambda: rendered(
            workdir, "hypercorn", variant="observed-0.1", otlp_url=otlp_url
        ),
        "rendered-uvicorn-observed-0.1": lambda: rendered(
            workdir, "uvicorn", variant="observed-0.1", otlp_url=otlp_url
        ),
        "starlette-hypercorn": lambda: starlette("hypercorn"),
        "starlette-uvicorn": lambda: starlette("uvicorn"),
        "starlette-hypercorn-threadpool": lambda: starlette("hypercorn", threadpool=True),
        "starlette-uvicorn-threadpool": lambda: starlette("uvicorn", threadpool=True),
        "runpod-flash": lambda: flash(workdir, quiet=False),
        "runpod-flash-quiet": lambda: flash(workdir, quiet=True),
    }
    unknown = sorted(set(names) - set(makers))
    if unknown:
        raise SystemExit(f"unknown contenders {unknown}; known: {', '.join(NAMES)}")
    return {name: makers[name]() for name in names}


@contextlib.contextmanager
def otlp_sink() -> Iterator[tuple[str, list[int]]]:
    """A collector on 127.0.0.1 that takes every OTLP/HTTP export with 200 and counts the
    bytes it received: yields (base URL for OTEL_EXPORTER_OTLP_ENDPOINT, [bytes])."""
    import http.server
    import threading

    received = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as collectors do

        def do_POST(self) -> None:
            received[0] += len(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


# --- processes and probes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping_status(port: int) -> int | None:
    """The status of one `GET /ping` on a fresh connection, None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(32)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def wait_ready(process: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Poll `/ping` every millisecond until it answers 200; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping_status(port) == 200:
            return
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before /ping 200")
        time.sleep(0.001)
    raise RuntimeError(f"/ping on port {port} not 200 within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM (the servers drain), then SIGKILL if it is still there after `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def rss_mib(pid: int) -> float:
    """Resident set size from /proc/PID/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_transform(port: int) -> tuple[int, bytes]:
    """One `POST /transform` with the benchmark body: (status, body)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        connection.request("POST", "/transform", BODY, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def serving(
    contender: Contender, stdout: IO[bytes] | int = subprocess.DEVNULL
) -> Iterator[tuple[subprocess.Popen, int]]:
    """Start `contender`, wait for `/ping` 200 and check the route's answer; always stop it."""
    port = free_port()
    process = contender.spawn(port, stdout)
    try:
        wait_ready(process, port)
        status, body = post_transform(port)
        if status != 200 or body.strip() != EXPECTED:
            raise RuntimeError(f"{contender.name}: POST /transform answered {status} {body!r}")
        yield process, port
    finally:
        stop(process)


# --- load ------------------------------------------------------------------------------------

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = 'BODY'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d,"
    .. " \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d,"
    .. " \\"p99_us\\": %d, \\"max_us\\": %d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Load:
    """One wrk run: throughput, latency and errors (non-2xx/3xx, and socket errors)."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    port: int,
    seconds: int,
    connections: int,
    threads: int = 2,
    path: str = "/transform",
    body: bytes = BODY,
) -> Load:
    """`wrk -t{threads} -c{connections} -d{seconds}s` POSTing `body` (the benchmark body) to
    `path`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("BODY", body.decode()))
    try:
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script.name]
        argv.append(f"http://127.0.0.1:{port}{path}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    data = json.loads(line[len("WRKJSON ") :])
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
    )


WRK_COMMAND = "wrk -t2 -c{c} -d{d}s -s post_transform.lua http://127.0.0.1:PORT/transform"
