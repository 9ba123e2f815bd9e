"""`flashctl dev`: render to a temp folder and serve it on localhost, reloading on change.

The served process is the container's own command (`python -m flashctl_runtime.serve
handler_service:app`, run in the rendered context) when there is one endpoint; with several,
`flashctl.dev_app` mounts each rendered service under `/<endpoint>/` in one process. A change to
flash.yaml or to any endpoint's source re-validates and re-renders; an invalid edit is reported
and the running server is kept.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from flashctl.build import render_loaded
from flashctl.compiler import Loaded
from flashctl.errors import FlashError
from flashctl.files import write_tree
from flashctl.model import Project
from flashctl.render import MANIFEST, serve_command
from flashctl.spec import managed_env

STOP_SECONDS = 5.0


@dataclass(frozen=True)
class DevOptions:
    host: str
    port: int
    reload: bool


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
        "from pathlib import Path\n\nfrom flashctl.dev_app import compose\n\n"
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
        for route in endpoint.routes:
            lines.append(f"  {route.method:<6} {base}{prefix}{route.path}  -> {route.handler}")
    return lines


class DevServer:
    """One served render: a temp folder and the child process serving it."""

    def __init__(self, loaded: Loaded, options: DevOptions) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="flashctl-dev-"))
        files = {**render_loaded(loaded, docs=True), **dev_files(loaded.project)}
        write_tree(self.root / "build", files, marker=MANIFEST, force=False)
        command, cwd = command_and_cwd(loaded.project, self.root / "build", options)
        self.process = subprocess.Popen(command, cwd=cwd, env=child_env(loaded.project))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
        return self.process.returncode


def run(load: Callable[[], Loaded], file: Path, options: DevOptions) -> None:
    """Serve until Ctrl-C or SIGTERM (or the server exits); reload on changes when
    `options.reload`. Either signal stops the server process too, so no port is left bound."""
    loaded = load()
    with _sigterm_as_interrupt():
        current = _Current(DevServer(loaded, options))
        click.echo("\n".join(route_table(loaded.project, options)), err=True)
        _serve(load, file, options, loaded, current)


def _serve(
    load: Callable[[], Loaded], file: Path, options: DevOptions, loaded: Loaded, current: _Current
) -> None:
    try:
        if not options.reload:
            current.server.process.wait()
            return
        for _changes in _watch(file, loaded.project, current):
            try:
                fresh = load()
            except FlashError as err:
                click.echo(f"not reloading: {err}", err=True)
                continue
            current.server.stop()
            loaded = fresh
            current.server = DevServer(loaded, options)
            click.echo("reloaded", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        current.server.stop()


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
    """The server being served; as watchfiles' stop event, set once that server has exited."""

    def __init__(self, server: DevServer) -> None:
        self.server = server

    def is_set(self) -> bool:
        return self.server.process.poll() is not None
