"""Image workers for `flashctl emulator --run-workers`: an endpoint's deployed image, run from a
container engine's local store as its config says, kept by supervisor.py.

Which engine: the usable engines in flashctl build's `auto` order (images/engines.py), the
first whose store has the image. What runs: the image's Entrypoint and Cmd, as its User, in its
WorkingDir, with its ENV (the engine applies those) and the endpoint's env as the context path
gives it (PORT / PORT_HEALTH the worker's port from `--worker-ports`), on the host's network
(buildah's chroot isolation shares it): flashctl's own service gets `--host 127.0.0.1`, so it
listens on the worker's loopback port only.

Working containers are named `flashctl-emulator-<pid>-<start time>-<worker id>`, after the
emulator process that owns them; `remove_leftovers` removes those whose owner is gone (an
emulator killed so hard that its supervisors could not clean up either).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flashctl.images.engines import ENGINES, Engine, usable

LOGGER = logging.getLogger("flashctl.emulator.containers")
PREFIX = "flashctl-emulator-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-(\d+)-[a-z0-9]+$")
_TIMEOUT = 60.0
SERVE_MODULE = "flashctl_runtime.serve"


@dataclass(frozen=True)
class Image:
    """An image in an engine's store and what its config says to run."""

    engine: Engine
    ref: str
    command: tuple[str, ...]  # Entrypoint + Cmd
    user: str
    workdir: str


def usable_engines(which: Callable[[str], str | None]) -> list[Engine]:
    """The engines that answer, in flashctl build's `auto` order (blocking: probes them)."""
    found = []
    for name in ENGINES:
        executable = which(name)
        if executable is not None and usable(name, executable):
            found.append(Engine(name, executable))
    return found


def find_image(ref: str, engines: Sequence[Engine]) -> Image | None:
    """The first engine's image named `ref`, with its config; None when no store has it."""
    for engine in engines:
        if not ref or not engine.has_image(ref):
            continue
        config = _config(engine, ref)
        if config is None:
            continue
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        if not command:
            continue
        user = config.get("User") or "0"
        return Image(engine, ref, tuple(command), user, config.get("WorkingDir") or "/")
    return None


def _config(engine: Engine, ref: str) -> dict[str, Any] | None:
    if engine.name == "buildah":
        argv = [engine.executable, "inspect", "--type", "image", ref]
    else:
        argv = [engine.executable, "image", "inspect", ref]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        parsed = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if engine.name == "buildah" and isinstance(parsed, dict):
        config = parsed.get("OCIv1", {}).get("config")
    elif isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        config = parsed[0].get("Config")
    else:
        config = None
    return config if isinstance(config, dict) else None


def owner() -> str:
    """This process, as working container names carry it: `<pid>-<start time>`."""
    return f"{os.getpid()}-{_start_time(os.getpid())}"


def container_name(worker_id: str) -> str:
    return f"{PREFIX}{owner()}-{worker_id}"


def service_command(command: Sequence[str]) -> list[str]:
    """The image's command; flashctl's service is told to listen on loopback only."""
    argv = list(command)
    if SERVE_MODULE in argv and "--host" not in argv:
        argv += ["--host", "127.0.0.1"]
    return argv


def supervisor_spec(
    image: Image, name: str, env_names: Sequence[str], grace: float
) -> dict[str, Any]:
    """What supervisor.py runs for one worker. Env values are not in it: the supervisor has
    them in its own env (buildah: set in the working container's config; docker and podman
    take `-e NAME` from the caller's env)."""
    exe, command = image.engine.executable, service_command(image.command)
    if image.engine.name == "buildah":
        return {
            "create": [exe, "from", "--pull-never", "--quiet", "--name", name, image.ref],
            "configure": [exe, "config"],
            "env": list(env_names),
            "name": name,
            "run": [
                *(exe, "run", "--isolation", "chroot", "--network", "host"),
                *("--user", image.user, "--workingdir", image.workdir, name, "--", *command),
            ],
            "remove": [exe, "rm", name],
            "grace": grace,
        }
    pull = ["--pull=never"] if image.engine.name == "podman" else ["--pull", "never"]
    return {
        "create": [],
        "run": [
            *(exe, "run", "--rm", "--name", name, "--network", "host", *pull),
            *(arg for env in env_names for arg in ("-e", env)),
            *("--entrypoint", command[0], image.ref, *command[1:]),
        ],
        "remove": [exe, "rm", "-f", name],
        "grace": grace,
    }


def supervisor_argv(spec: Mapping[str, Any]) -> list[str]:
    # -I: the endpoint's env (in the supervisor's env) cannot change how this Python starts.
    return [sys.executable, "-I", "-m", "flashctl.emulator.supervisor", json.dumps(spec)]


def remove_leftovers(engines: Sequence[Engine]) -> list[str]:
    """Remove the working containers of emulators that are gone; their names."""
    removed = []
    for engine in engines:
        if engine.name == "buildah":
            argv = [engine.executable, "containers", "--format", "{{.ContainerName}}"]
        else:
            argv = [engine.executable, "ps", "-a", "--filter", f"name={PREFIX}"]
            argv += ["--format", "{{.Names}}"]
        try:
            listed = subprocess.run(
                argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False
            ).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            continue
        stale = [name for name in listed if _orphaned(name)]
        if not stale:
            continue
        remove = [engine.executable, "rm", *(["-f"] if engine.name != "buildah" else []), *stale]
        try:
            subprocess.run(remove, capture_output=True, timeout=_TIMEOUT * 2, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        removed += stale
    if removed:
        LOGGER.warning("removed %d working containers of stopped emulators", len(removed))
    return removed


def _orphaned(name: str) -> bool:
    """A container of ours whose emulator (pid and start time) no longer runs."""
    match = _NAME.match(name)
    if match is None:
        return False
    pid, started = int(match.group(1)), match.group(2)
    return _start_time(pid) != started


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks after boot), "" when it does not run."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return "" if os.path.isdir("/proc") else "0"
    return "" if fields[0] in ("Z", "X") else fields[19]
