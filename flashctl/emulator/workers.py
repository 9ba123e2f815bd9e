"""Real worker processes for `flashctl emulator --run-workers`: what each one runs and how.

A worker runs the endpoint's rendered build context, found by the endpoint's RunPod name in the
render manifest (`manifest.json`) under the contexts folder, with the emulator's own Python (no
install step, as `flashctl dev` does): the Dockerfile's `CMD`, word for word, with `python`
being this interpreter and `--host 127.0.0.1` added so that a worker is reachable from this
machine only. Its env is what a container of the endpoint gets: the Dockerfile's fixed
variables, the endpoint's `env` as deployed (secret references `{{ RUNPOD_SECRET_name }}`
resolved from the local secrets file, never from the spec), `RUNPOD_POD_ID`, and `PORT` /
`PORT_HEALTH` set to the worker's own port from the `--worker-ports` range (RunPod maps the
container's port; here every worker needs a port of its own).

Worker processes never outlive the emulator: each is the leader of its own process group
(stopped as a group), and on Linux it gets SIGKILL from the kernel when the emulator's thread
that started it ends (`prctl(PR_SET_PDEATHSIG)`), also when the emulator is killed with -9.

A worker can run the endpoint's deployed image instead (`source` "image", or "auto" when an
engine's store has it; containers.py): then the process started is supervisor.py, which gets
SIGTERM from the kernel instead, stops the engine's process tree and removes the container.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flashctl.errors import UsageError
from flashctl.render.contexts import MANIFEST

LOG_LINES = 1000  # lines of output kept per worker
_SECRET = re.compile(r"^\{\{\s*RUNPOD_SECRET_([A-Za-z0-9_.-]+)\s*\}\}$")
_PR_SET_PDEATHSIG = 1
# What a container's environment has besides the image's ENV lines: enough to run Python.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


# The `--run-workers` defaults, for `flashctl emulator` and `python -m flashctl.emulator` alike.
DEFAULT_PORTS = "20000-20999"
DEFAULT_MAX_WORKERS = 16
DEFAULT_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class WorkerOptions:
    """`--run-workers` settings. `wait_seconds`: how long a request waits for a ready worker
    before the 400 RunPod answers; `ping_interval`: how often a worker's /ping is asked."""

    contexts: Path
    ports: tuple[int, int] = (20000, 20999)
    secrets: Mapping[str, str] = field(default_factory=dict)
    max_total: int = DEFAULT_MAX_WORKERS
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    ping_interval: float = 0.05
    stop_seconds: float = 10.0
    source: str = "auto"  # auto | image | context: what workers run (see containers.py)


def worker_options(
    contexts: Path,
    worker_ports: str,
    secrets_file: Path | None,
    max_workers: int,
    worker_wait: float,
    workers_from: str,
) -> WorkerOptions:
    """The settings the `--run-workers` options give (the ports and the secrets file read and
    checked here, a UsageError naming the option otherwise)."""
    return WorkerOptions(
        contexts=contexts,
        ports=parse_port_range(worker_ports),
        secrets=read_secrets(secrets_file) if secrets_file else {},
        max_total=max_workers,
        wait_seconds=worker_wait,
        source=workers_from,
    )


def parse_port_range(text: str) -> tuple[int, int]:
    """`LOW-HIGH` -> (LOW, HIGH); a UsageError naming the option otherwise."""
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise UsageError(f"--worker-ports must look like LOW-HIGH (20000-20999), got {text!r}.")
    first, last = int(low), int(high)
    if not 1024 <= first <= last <= 65535:
        raise UsageError(
            f"--worker-ports {text}: need 1024 <= LOW <= HIGH <= 65535"
            " (ports below 1024 need root)."
        )
    return first, last


def read_secrets(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped): the values of the secrets the
    endpoints reference as `{{ RUNPOD_SECRET_NAME }}`. The values are never shown."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--secrets {path} cannot be read: {err.strerror}.") from None
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{path}:{number}: expected NAME=value (the value is not shown).")
        secrets[name.strip()] = value
    return secrets


@dataclass(frozen=True)
class Context:
    """One endpoint's rendered build context and the command its container runs."""

    folder: Path
    command: tuple[str, ...]
    image_env: Mapping[str, str]


def find_context(contexts: Path, runpod_name: str) -> Context:
    """The context rendered for the endpoint named `runpod_name` (a UsageError saying what to
    run when there is none), read now: a re-render is picked up by the next worker started."""
    manifest_path = contexts / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        endpoints = manifest["endpoints"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"no render manifest at {manifest_path}: run `flashctl render` in the project"
            " (or pass --contexts with its output folder)"
        ) from None
    for key, entry in sorted(endpoints.items()):
        if isinstance(entry, dict) and entry.get("runpod_name") == runpod_name:
            folder = contexts / key
            command, image_env = dockerfile_command(folder / "Dockerfile")
            return Context(folder, command, image_env)
    raise UsageError(
        f"{manifest_path} has no endpoint named {runpod_name}: render the project that"
        " deployed it (`flashctl render`) or pass --contexts with its output folder"
    )


def dockerfile_command(dockerfile: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """The exec-form `CMD [...]` of a rendered Dockerfile and its `ENV` variables."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{dockerfile} cannot be read: {err.strerror}") from None
    text = re.sub(r"\\\n\s*", " ", text)
    command: list[str] | None = None
    env: dict[str, str] = {}
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "CMD":
            try:
                parsed = json.loads(rest)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list) or not all(isinstance(a, str) for a in parsed):
                raise UsageError(f"{dockerfile}: CMD is not in exec form (a JSON list)")
            command = parsed
        elif instruction == "ENV":
            for pair in rest.split():
                name, sep, value = pair.partition("=")
                if sep:
                    env[name] = value
    if not command:
        raise UsageError(f"{dockerfile} has no CMD: render the project again")
    return tuple(command), env


def local_command(command: tuple[str, ...], log: Callable[[str], None]) -> list[str]:
    """The container's command run here: this Python, on loopback, with the server the
    emulator's environment has (uvicorn falls back to hypercorn when missing, as in dev)."""
    argv = list(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    if "--server" in argv:
        index = argv.index("--server") + 1
        if argv[index] == "uvicorn" and importlib.util.find_spec("uvicorn") is None:
            log("emulator: uvicorn is not installed here; serving with hypercorn")
            argv[index] = "hypercorn"
    return [*argv, "--host", "127.0.0.1"]


def worker_env(
    image_env: Mapping[str, str],
    endpoint_env: Mapping[str, str],
    secrets: Mapping[str, str],
    port: int,
    worker_id: str,
    log: Callable[[str], None],
) -> dict[str, str]:
    """A container's env: the image's ENV, the endpoint's env with secrets resolved, the
    worker's port. A secret missing from the secrets file leaves its variable unset."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(image_env)
    for name, value in endpoint_env.items():
        match = _SECRET.match(value)
        if match is None:
            env[name] = value
        elif match.group(1) in secrets:
            env[name] = secrets[match.group(1)]
        else:
            log(f"emulator: secret {match.group(1)} is not in --secrets; {name} is left unset")
    env.update(PORT=str(port), PORT_HEALTH=str(port), RUNPOD_POD_ID=worker_id)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class PortPool:
    """Ports handed to workers, from one range; a port is given only when it can be bound."""

    def __init__(self, low: int, high: int) -> None:
        self._free = collections.deque(range(low, high + 1))
        self._used: set[int] = set()

    def take(self) -> int | None:
        for _ in range(len(self._free)):
            port = self._free.popleft()
            self._free.append(port)
            if port not in self._used and _bindable(port):
                self._used.add(port)
                return port
        return None

    def give_back(self, port: int) -> None:
        self._used.discard(port)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent(signum: int = signal.SIGKILL) -> None:  # pragma: no cover - in the child
    """preexec_fn: `signum` to this child when the thread that started it ends (Linux)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() == 1:  # the parent is gone already: do not run at all
        os._exit(1)


def _supervisor_dies_with_parent() -> None:  # pragma: no cover - in the child
    _die_with_parent(signal.SIGTERM)  # caught: the supervisor cleans up, then exits


@dataclass(frozen=True)
class Launch:
    """How a worker's process starts: `source` "context" (the service itself) or "image"
    (supervisor.py, which a SIGKILL would keep from cleaning up: it gets SIGUSR1 instead)."""

    argv: tuple[str, ...]
    cwd: Path | None
    source: str
    container: str = ""

    @property
    def hard_stop(self) -> int:
        return signal.SIGUSR1 if self.source == "image" else signal.SIGKILL


def context_launch(context: Context, log: Callable[[str], None]) -> Launch:
    return Launch(tuple(local_command(context.command, log)), context.folder, "context")


Recorder = Callable[[str, str, str], None]


class WorkerProcess:
    """One running worker: its process, port, and the last LOG_LINES lines it wrote."""

    def __init__(
        self,
        endpoint_id: str,
        worker_id: str,
        launch: Launch,
        env: Mapping[str, str],
        port: int,
        record: Recorder,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.worker_id = worker_id
        self.port = port
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self._record = record
        self.started = time.monotonic()
        self.launch = launch
        image = launch.source == "image"
        self.process = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: stopped as one
            preexec_fn=_supervisor_dies_with_parent if image else _die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, name=f"worker-{worker_id}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def note(self, line: str) -> None:
        record_line(self, line)

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                record_line(self, line.rstrip("\n"))

    def exited(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        """SIGTERM to the worker's group: the runtime drains and exits."""
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """At once: SIGKILL to the service's group (an image worker's supervisor ends the
        container's processes at once and removes it)."""
        self._signal_group(self.launch.hard_stop)

    def wait(self, seconds: float) -> bool:
        try:
            self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        self._reader.join(1.0)
        return True

    def _signal_group(self, signum: int) -> None:
        if self.process.poll() is not None:
            return  # reaped: its pid (and group id) may belong to another process by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def record_line(worker: WorkerProcess, line: str) -> None:
    """Where every line a worker writes (and the emulator's notes about it) is recorded: the
    worker's bounded buffer, then the recorder the fleet was given (`flashctl logs`' store)."""
    worker.lines.append(line)
    worker._record(worker.endpoint_id, worker.worker_id, line)
