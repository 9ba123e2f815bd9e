"""The container engines flashctl drives: docker (with buildx), podman, buildah.

`find_engine("auto")` takes the first usable one in that order. "Usable" is asked, not assumed: a
`docker` binary without a daemon (`docker info` fails) or without buildx is passed over, as is a
`podman` whose `podman info` fails, each check bounded by a timeout. Every engine command's output
is streamed line by line to a sink (stderr in the CLI) and its last lines kept, so a failure can
quote the engine's own error line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flashctl.errors import ImageError

ENGINES = ("docker", "podman", "buildah")
PROBE_TIMEOUT = 15.0
INSTALL_HINT = (
    "install one: Docker with buildx (https://docs.docker.com/engine/install/), Podman"
    " (apt-get install podman) or Buildah (apt-get install buildah), or pick one with --engine"
)
# The lines worth quoting from an engine's output: its own errors, apt's and pip's.
_ERROR_LINE = re.compile(r"^\s*(?:(?:error|fatal)\b[: ]|E: )", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TAIL_LINES = 200

Sink = Callable[[str], None]


@dataclass(frozen=True)
class Engine:
    """One engine, by name, and the executable that runs it."""

    name: str  # docker | podman | buildah
    executable: str

    def build_command(
        self, context: Path, ref: str, platform: str, *, base_is_local: bool
    ) -> list[str]:
        exe = self.executable
        if self.name == "docker":
            return [
                *(exe, "buildx", "build", "--progress", "plain", "--load"),
                *("--platform", platform, "--tag", ref, str(context)),
            ]
        if self.name == "podman":
            pull = ["--pull=never"] if base_is_local else []
            return [exe, "build", "--platform", platform, *pull, "--tag", ref, str(context)]
        # buildah: chroot isolation and the host's network work without a daemon, in a container
        # and rootless; --layers keeps each step's layer for the next build (off by default);
        # --force-rm removes the working container of a failed step too.
        policy = "--pull-never" if base_is_local else "--pull=false"
        return [
            *(exe, "bud", "--isolation", "chroot", "--network", "host", "--layers", "--force-rm"),
            *(policy, "--platform", platform, "--tag", ref, str(context)),
        ]

    def push_command(self, ref: str, *, plain_http: bool) -> list[str]:
        if self.name == "docker":  # docker itself allows plain HTTP to loopback registries
            return [self.executable, "push", ref]
        tls = ["--tls-verify=false"] if plain_http else []
        if self.name == "podman":
            return [self.executable, "push", *tls, ref]
        return [self.executable, "push", *tls, ref, f"docker://{ref}"]

    def has_image(self, ref: str) -> bool:
        """Whether the engine's local store has an image named `ref`."""
        if self.name == "docker":
            argv = [self.executable, "image", "inspect", ref]
        elif self.name == "podman":
            argv = [self.executable, "image", "exists", ref]
        else:
            argv = [self.executable, "inspect", "--type", "image", ref]
        return _succeeds(argv, timeout=60)


def usable(name: str, executable: str) -> bool:
    """Whether the engine answers: docker needs a daemon and buildx; podman a working setup."""
    if name == "docker":
        return _succeeds([executable, "info", "--format", "{{.ServerVersion}}"]) and _succeeds(
            [executable, "buildx", "version"]
        )
    if name == "podman":
        return _succeeds([executable, "info", "--format", "{{.Host.Arch}}"])
    return _succeeds([executable, "version"])


def find_engine(
    choice: str = "auto", *, which: Callable[[str], str | None] = shutil.which
) -> Engine:
    """The engine to build with: `choice`, or with "auto" the first usable of ENGINES."""
    wanted = ENGINES if choice == "auto" else (choice,)
    tried = []
    for name in wanted:
        executable = which(name)
        if executable is None:
            tried.append(f"{name} (not on PATH)")
        elif not usable(name, executable):
            tried.append(f"{name} ({executable} does not answer{_why_not(name)})")
        else:
            return Engine(name, executable)
    raise ImageError(
        f"no container engine to build with; looked for {', '.join(tried)}: {INSTALL_HINT}"
    )


def _why_not(name: str) -> str:
    return {"docker": ": no daemon, or no buildx", "podman": ": `podman info` fails"}.get(name, "")


def _succeeds(argv: Sequence[str], timeout: float = PROBE_TIMEOUT) -> bool:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def run_streamed(argv: Sequence[str], sink: Sink) -> tuple[int, list[str]]:
    """Run `argv`, each output line (stdout and stderr) to `sink`; its exit code and last lines."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as err:
        return 127, [f"error: cannot run {argv[0]}: {err.strerror or err}"]
    with process:
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = _ANSI.sub("", raw.rstrip("\n"))
                tail.append(line)
                sink(line)
            return process.wait(), list(tail)
        except BaseException:  # Ctrl-C: stop the engine too
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise


def error_lines(lines: Sequence[str], limit: int = 3) -> list[str]:
    """The engine's own error lines (apt's `E:`, pip's `ERROR:`, the engine's `Error:`), the last
    `limit` of them; else the last non-empty line.

    >>> error_lines(["STEP 2/5", "E: Unable to locate package nope", "Error: exit status 100"])
    ['E: Unable to locate package nope', 'Error: exit status 100']
    """
    errors = [line.strip() for line in lines if _ERROR_LINE.match(line)]
    if errors:
        return list(dict.fromkeys(errors))[-limit:]
    rest = [line.strip() for line in lines if line.strip()]
    return rest[-1:]
