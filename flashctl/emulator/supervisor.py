"""The keeper of one image worker: `python -m flashctl.emulator.supervisor SPEC` (SPEC: JSON).

`buildah run` (or `docker run`) is not the service: the service runs two processes further down
(buildah's chroot runtime), or in a daemon. So the emulator does not start the engine itself but
this small process (standard library only), which it can stop and which the kernel stops with
it: the emulator starts it with `PR_SET_PDEATHSIG` = SIGTERM, also delivered after `kill -9` of
the emulator. Its steps, from SPEC:

1. `create` (buildah: `from --pull-never --name NAME IMAGE`), then `configure` (buildah: the
   endpoint's env set in the working container's config, values from this process's env, so
   that no value is on a long-lived command line);
2. `run` in a session of its own (the engine and the service: one process group), itself with
   `PR_SET_PDEATHSIG` = SIGKILL; this process is a child subreaper, so whatever the engine leaves
   behind is reparented here and ended too;
3. on SIGTERM: SIGTERM to that group (the service drains), SIGKILL after `grace` seconds; on
   SIGUSR1: SIGKILL at once; when the run ends: `remove` (buildah: `rm NAME`), bounded, and exit
   with the run's code.

Working containers are named `flashctl-emulator-<pid>-<start time>-<worker>` after the emulator
process (containers.py), so that the next emulator removes those a killed one left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

STEP_SECONDS = 120.0  # bound on create, configure and remove
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    name = ctypes.util.find_library("c")
    if name is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(name, use_errno=True).prctl(option, value, 0, 0, 0)


def _run_dies_with_us() -> None:  # pragma: no cover - runs in the child between fork and exec
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def say(line: str) -> None:
    with contextlib.suppress(OSError):  # the emulator is gone: nobody reads any more
        print(f"emulator: {line}", flush=True)


class Supervisor:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_at: float | None = None  # monotonic time of the SIGKILL
        self.stopping = False
        self.hard = False  # SIGKILL rather than SIGTERM

    def on_signal(self, signum: int, _frame: object) -> None:
        grace = 0.0 if signum == signal.SIGUSR1 else float(self.spec.get("grace", 10))
        deadline = time.monotonic() + grace
        self.stopping = True
        self.hard = self.hard or not grace
        self.stop_at = deadline if self.stop_at is None else min(self.stop_at, deadline)
        self._signal_run(signal.SIGTERM if grace else signal.SIGKILL)

    def _signal_run(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def step(self, argv: list[str]) -> bool:
        if not argv:
            return True
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=STEP_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            say(f"{argv[0]} {argv[1]} failed: {err}")
            return False
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace").strip().splitlines()
            say(f"{os.path.basename(argv[0])} {argv[1]} failed: {error[-1] if error else ''}")
        return done.returncode == 0

    def main(self) -> int:
        code = 1
        try:
            ready = self.step(self.spec["create"]) and not self.stopping
            if ready and self.step(self.configure()) and not self.stopping:
                code = self.serve()
        finally:
            self.end_orphans()
            self.step(self.spec["remove"])
        return code

    def configure(self) -> list[str]:
        """buildah: the env set in the working container's config, values from our env."""
        prefix = self.spec.get("configure")
        if not prefix:
            return []
        names = [name for name in self.spec.get("env", []) if name in os.environ]
        pairs = [f"--env={name}={os.environ[name]}" for name in names]
        return [*prefix, *pairs, self.spec["name"]]

    def serve(self) -> int:
        self.process = subprocess.Popen(
            self.spec["run"],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_run_dies_with_us,
        )
        if self.stopping:  # a signal came while it started
            self._signal_run(signal.SIGKILL if self.hard else signal.SIGTERM)
        while True:
            try:
                return self.process.wait(0.1)
            except subprocess.TimeoutExpired:
                pass
            if self.stop_at is not None and time.monotonic() >= self.stop_at:
                self._signal_run(signal.SIGKILL)

    def end_orphans(self) -> None:
        """SIGKILL what is left of the run's group and any descendant reparented here."""
        self._signal_run(signal.SIGKILL)
        for _ in range(50):
            children = _children(os.getpid())
            if not children:
                return
            for pid in children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.02)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def main(argv: list[str]) -> int:
    supervisor = Supervisor(json.loads(argv[0]))
    signal.signal(signal.SIGTERM, supervisor.on_signal)
    signal.signal(signal.SIGUSR1, supervisor.on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the emulator, which stops us
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    return supervisor.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
