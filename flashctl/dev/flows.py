"""`flashctl dev`: render to a temp folder and serve it on localhost, reloading on change.

The served process is the container's own command (`python -m flashctl_runtime.serve
handler_service:app`, run in the rendered context) when there is one endpoint; with several,
`flashctl.dev.mount` mounts each rendered service under `/<endpoint>/` in one process. A change to
flash.yaml or to any endpoint's source re-validates and re-renders; an invalid edit is reported
and the running server is kept.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from flashctl.compiler.pipeline import Load, Loaded
from flashctl.console import Console
from flashctl.dev.output import SourceMap, server_line
from flashctl.errors import ExitCode, FlashError
from flashctl.files import write_tree
from flashctl.model import Project
from flashctl.render.contexts import MANIFEST, serve_command
from flashctl.render.flows import render_loaded
from flashctl.runpod.create_body import managed_env

STOP_SECONDS = 5.0


@dataclass(frozen=True)
class DevOptions:
    host: str
    port: int
    reload: bool
    file: Path = Path("flash.yaml")  # watched for changes with the sources


def server_for(project: Project) -> str:
    """The endpoints' server when they agree and it is installed; hypercorn otherwise."""
    servers = {e.runtime.server for e in project.endpoints}
    server = servers.pop() if len(servers) == 1 else "hypercorn"
    if server == "uvicorn" and importlib.util.find_spec("uvicorn") is None:
        click.echo("uvicorn is not installed here; serving with hypercorn", err=True)
        return "hypercorn"
    return server


def dev_files(project: Project) -> dict[str, bytes]:
    """What `flashctl dev` serves beside the render: with several endpoints, the module that
    mounts them all (`dev_server.py`); nothing with one."""
    if len(project.endpoints) == 1:
        return {}
    keys = [e.key for e in project.endpoints]
    source = (
        "from pathlib import Path\n\nfrom flashctl.dev.mount import compose\n\n"
        f"app = compose(Path(__file__).parent, {keys!r})\n"
    )
    return {"dev_server.py": source.encode()}


def command_and_cwd(project: Project, root: Path, options: DevOptions) -> tuple[list[str], Path]:
    server = server_for(project)
    if len(project.endpoints) == 1:
        endpoint = project.endpoints[0]
        command = serve_command(endpoint)
        cwd = root / endpoint.key
    else:
        command = ["python", "-m", "flashctl_runtime.serve", "dev_server:app"]
        cwd = root
    command[0] = sys.executable
    command = _with(command, "--server", server)
    command = _with(command, "--host", options.host)
    command = _with(command, "--port", str(options.port))
    command = _with(command, "--workers", "1")  # one process: reloads stay quick
    return command, cwd


def _with(command: list[str], flag: str, value: str) -> list[str]:
    if flag in command:
        i = command.index(flag)
        return [*command[: i + 1], value, *command[i + 2 :]]
    return [*command, flag, value]


def child_env(project: Project) -> dict[str, str]:
    """The process env plus each endpoint's literal env; secrets come from the local env."""
    env = dict(os.environ)
    for endpoint in project.endpoints:
        for var in endpoint.env:
            if var.secret is None:
                env[var.name] = var.value or ""
        env.update(managed_env(project, endpoint))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def route_table(project: Project, options: DevOptions) -> list[str]:
    base = f"http://{options.host}:{options.port}"
    lines = []
    for endpoint in project.endpoints:
        prefix = "" if len(project.endpoints) == 1 else f"/{endpoint.key}"
        lines.append(f"{endpoint.key}: {base}{prefix}/docs")
        if endpoint.app:
            lines.append(f"  *      {base}{prefix}/...  -> {endpoint.app} (ASGI app)")
        for route in endpoint.routes:
            lines.append(f"  {route.method:<6} {base}{prefix}{route.path}  -> {route.handler}")
    return lines


def check_port(options: DevOptions) -> None:
    """A FlashError when `options.port` cannot be listened on, before anything is started: the
    server would fail there with a traceback of its own."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((options.host, options.port))
        except OSError as err:
            reason = "is in use" if err.errno == errno.EADDRINUSE else f"cannot be used ({err})"
            raise FlashError(
                f"port {options.port} on {options.host} {reason}: stop what listens there"
                " (another `flashctl dev`?) or pass --port with a free one"
            ) from None


class DevServer:
    """One served render: a temp folder and the child process serving it. Its output is shown
    with the user's paths (flashctl/dev/output.py); a failed start (or the process ending on its
    own) is recorded in `failure`. A failure of a `fatal` server ends `flashctl dev` (see `run`);
    any other's is shown at once, and the next change tries again."""

    def __init__(self, loaded: Loaded, options: DevOptions, *, fatal: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="flashctl-dev-"))
        self.fatal = fatal
        self.failure: str | None = None
        self.stopping = False
        files = {**render_loaded(loaded, docs=True), **dev_files(loaded.project)}
        build = self.root / "build"
        write_tree(build, files, marker=MANIFEST, force=False)
        self.sources = SourceMap.of(
            {build / e.key / "src": e.source_dir for e in loaded.project.endpoints}
        )
        self.last_errors: collections.deque[str] = collections.deque(maxlen=5)
        command, cwd = command_and_cwd(loaded.project, build, options)
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=child_env(loaded.project),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            shown = server_line(line.rstrip("\n"), self.sources)
            if shown.stdout is not None:
                click.echo(shown.stdout)
            if shown.stderr is not None:
                click.echo(shown.stderr, err=True)
            if shown.failure is not None:
                self._fail(shown.failure)
        code = self.process.wait()
        if not self.stopping:
            said = "".join(f"\n  {line}" for line in self.last_errors)
            self._fail(f"the server exited with code {code}{said}")

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            line = self.sources.to_source(line.rstrip("\n"))
            if line.strip():
                self.last_errors.append(line)
            click.echo(line, err=True)

    def _fail(self, message: str) -> None:
        if self.failure is not None:
            return
        self.failure = message
        if not self.fatal:
            click.echo(f"error: {message}\nwaiting for a change to try again", err=True)

    def failed(self) -> bool:
        return self.failure is not None

    def stop(self) -> int:
        self.stopping = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(STOP_SECONDS)  # its last lines are shown before dev goes on
        shutil.rmtree(self.root, ignore_errors=True)
        return self.process.returncode


def run_dev(load: Load, console: Console, options: DevOptions) -> ExitCode:
    """Serve until Ctrl-C or SIGTERM (or the server exits); reload on changes when
    `options.reload`. Either signal stops the server process too, so no port is left bound.

    The first server failing to start (a handler module that raises on import, a startup hook
    that fails) or exiting on its own is a FlashError: one message naming the user's file and
    line, and the server stopped. After a reload, such a failure is shown and the next change
    tries again."""
    loaded = load()
    check_port(options)
    with _sigterm_as_interrupt():
        current = _Current(DevServer(loaded, options, fatal=True))
        console.progress("\n".join(route_table(loaded.project, options)))
        _serve(load, options.file, options, loaded, current)
    return ExitCode.OK


def _serve(
    load: Callable[[], Loaded], file: Path, options: DevOptions, loaded: Loaded, current: _Current
) -> None:
    try:
        if not options.reload:
            while not current.is_set():
                time.sleep(0.1)
        else:
            for _changes in _watch(file, loaded.project, current):
                try:
                    fresh = load()
                except FlashError as err:
                    click.echo(f"not reloading: {err}", err=True)
                    continue
                current.server.stop()
                loaded = fresh
                current.server = DevServer(loaded, options, fatal=False)
                click.echo("reloaded", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        current.server.stop()
    if current.server.fatal and current.server.failure is not None:
        raise FlashError(current.server.failure)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a process manager, an IDE's stop button, `kill`) ends `flashctl dev` the way
    Ctrl-C does; by default it would end this process and leave the server running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _watch(file: Path, project: Project, current: _Current) -> Iterator[set[Any]]:
    import watchfiles

    paths = {file.resolve()} | {e.source_dir for e in project.endpoints}
    watched = [str(p) for p in sorted(paths) if p.exists()]

    def relevant(change: watchfiles.Change, path: str) -> bool:
        if "/build/" in path or "/.flashctl/" in path:  # render output, never a source
            return False
        return path.endswith((".py", ".yaml", ".yml", ".txt", ".json"))

    # Stop watching when the server dies so `flashctl dev` exits instead of hanging.
    yield from watchfiles.watch(
        *watched,
        watch_filter=relevant,
        debounce=300,
        rust_timeout=500,
        yield_on_timeout=False,
        stop_event=current,
    )


class _Current:
    """The server being served; as watchfiles' stop event, set once the first server has failed
    (a failure after a reload waits for the next change instead)."""

    def __init__(self, server: DevServer) -> None:
        self.server = server

    def is_set(self) -> bool:
        return self.server.fatal and self.server.failed()
