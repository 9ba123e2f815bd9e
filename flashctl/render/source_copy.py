"""The I/O around render: reading what goes into a build context, and `render --check`'s reads.

What is copied from a source folder (`source_files`):
- Never: caches, virtualenvs, VCS data and build output (silently), credential files (listed as
  left out: `.env`, `.env.*`, `.envrc`, ssh keys, `*.pem`, `*.key`, `.ssh/`, `.aws/`, `.runpod/`,
  `.npmrc`, `.netrc`, `.pypirc`, `.docker/config.json`, kubeconfig files, Terraform state,
  `secrets.json`), and flashctl's own `.flashctl/` folder.
- The source folder's own `.dockerignore` applies after these (Docker's syntax, see
  `dockerignore.py`); a `!pattern` line there takes a file back on purpose (`!certs/ca.pem`).
- Symbolic links are never followed out of the source: a link to a file or folder inside it is
  copied as what it points to (unless that is left out); a link outside it, a broken link or a
  loop is left out, and so are FIFOs, sockets and devices (never opened).
- A file over `Limits.file`, a source over `Limits.context` in all, or a file that cannot be read
  is a problem: render fails and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from flashctl import dockerignore
from flashctl.errors import RenderError
from flashctl.outputs import OWN_FOLDER

SILENT = "cache"  # the reason of exclusions render does not list (there are always some)
CREDENTIALS = "credentials"
_HYGIENE = (
    ".git .hg __pycache__ .venv venv .mypy_cache .pytest_cache .ruff_cache .hypothesis .tox"
    " node_modules build dist *.pyc *.pyo *.egg-info .DS_Store .flashctl"
    " .build.rendering-* .build.old-*"  # what renders of flashctl 0.1 killed mid-way left
)
_CREDENTIALS = (
    ".env .env.* .envrc id_rsa id_dsa id_ecdsa id_ed25519 id_ecdsa_sk id_ed25519_sk *.pem *.key"
    " .ssh .aws .runpod .npmrc .netrc .pypirc .docker/config.json .kube kubeconfig*"
    " terraform.tfstate* secrets.json"
)
DEFAULT_RULES = dockerignore.parse(
    "\n".join(f"**/{name}" for name in _HYGIENE.split()), SILENT
) + dockerignore.parse("\n".join(f"**/{name}" for name in _CREDENTIALS.split()), CREDENTIALS)
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """Most bytes copied from a source: per file and per build context."""

    file: int = 100 * MiB
    context: int = 500 * MiB


DEFAULT_LIMITS = Limits()


@dataclass
class SourceCopy:
    """A source folder's files by relative POSIX path, what was left out and why, and the
    problems that stop the render."""

    files: dict[str, bytes] = field(default_factory=dict)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def leave_out(self, path: str, reason: str) -> None:
        if reason != SILENT:
            self.left_out.append((path, reason))


def runtime_files() -> dict[str, bytes]:
    """The installed flashctl_runtime package's files (its .py modules and py.typed)."""
    root = resources.files("flashctl_runtime")
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.is_file() and (entry.name.endswith(".py") or entry.name == "py.typed")
    }


def source_files(source_dir: Path, limits: Limits = DEFAULT_LIMITS) -> SourceCopy:
    """Every file under `source_dir` that belongs in an image (see the module's docstring)."""
    if not source_dir.is_dir():
        raise RenderError(f"source folder {source_dir} does not exist")
    copy = SourceCopy()
    root = os.path.realpath(source_dir)
    rules = DEFAULT_RULES + _user_rules(source_dir, copy)
    _Walk(source_dir, root, rules, limits, copy).folder(str(source_dir), "", frozenset({root}))
    return copy


def _user_rules(source_dir: Path, copy: SourceCopy) -> dockerignore.Rules:
    path = source_dir / ".dockerignore"
    if not os.path.lexists(path):
        return dockerignore.Rules(())
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        copy.problems.append(f"{path}: not a regular file (a .dockerignore must be one)")
        return dockerignore.Rules(())
    data = _read(str(path), info, DEFAULT_LIMITS.file, copy)
    if data is None:
        return dockerignore.Rules(())
    return dockerignore.parse(data.decode("utf-8", errors="replace"))


@dataclass
class _Walk:
    source_dir: Path
    root: str  # the source's real path: no link is followed out of it
    rules: dockerignore.Rules
    limits: Limits
    copy: SourceCopy
    total: int = 0

    def folder(self, path: str, prefix: str, ancestors: frozenset[str]) -> None:
        try:
            with os.scandir(path) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as err:
            self.copy.problems.append(f"{self._shown(prefix)}: cannot read: {err.strerror}")
            return
        for entry in entries:
            self.entry(entry.path, prefix + entry.name, ancestors)

    def entry(self, path: str, relative: str, ancestors: frozenset[str]) -> None:
        if os.path.basename(path) == OWN_FOLDER:
            return  # flashctl's output and staging, whatever .dockerignore says
        reason = self.rules.reason(relative, parents=self.rules.has_exceptions)
        try:
            info = os.lstat(path)
        except OSError as err:
            self.copy.problems.append(f"{self._shown(relative)}: cannot read: {err.strerror}")
            return
        if stat.S_ISLNK(info.st_mode):
            if reason is not None:
                self.copy.leave_out(relative, reason)
                return
            path, reason = self._link_target(path)
            if reason is not None:
                self.copy.leave_out(relative, reason)
                return
            info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode):
            real = os.path.realpath(path)
            if real in ancestors:
                self.copy.leave_out(relative, "symbolic link loop")
            elif reason is not None and not self.rules.may_take_back(relative):
                self.copy.leave_out(relative + "/", reason)
            else:  # with `!` exceptions, an excluded folder's files are decided one by one
                self.folder(path, relative + "/", ancestors | {real})
        elif reason is not None:
            self.copy.leave_out(relative, reason)
        elif stat.S_ISREG(info.st_mode):
            self.file(path, relative, info)
        else:
            self.copy.leave_out(relative, "not a regular file")

    def _link_target(self, path: str) -> tuple[str, str | None]:
        """The real path a link leads to, or why it is not followed."""
        try:
            real = str(Path(path).resolve(strict=True))
        except FileNotFoundError:
            return path, "broken symbolic link"
        except (OSError, RuntimeError):
            return path, "symbolic link loop or unreadable target"
        if real != self.root and not real.startswith(self.root.rstrip("/") + "/"):
            return path, "symbolic link to outside the source"
        target = os.path.relpath(real, self.root).replace(os.sep, "/")
        reason = self.rules.reason(target) if target != "." else None
        if reason is not None:
            return path, f"symbolic link to {target} ({reason})"
        return real, None

    def file(self, path: str, relative: str, info: os.stat_result) -> None:
        if info.st_size > self.limits.file:
            self.copy.problems.append(
                f"{self._shown(relative)}: {_size(info.st_size)} is over the limit of "
                f"{_size(self.limits.file)} per file (--max-file-size; or leave it out in "
                ".dockerignore)"
            )
            return
        data = _read(path, info, self.limits.file, self.copy, self._shown(relative))
        if data is None:
            return
        self.total += len(data)
        if self.total > self.limits.context and self.total - len(data) <= self.limits.context:
            self.copy.problems.append(
                f"{self.source_dir}: the source copy is over the limit of "
                f"{_size(self.limits.context)} per build context (--max-context-size; or leave "
                "files out in .dockerignore)"
            )
        self.copy.files[relative] = data

    def _shown(self, relative: str) -> str:
        return str(self.source_dir / relative) if relative else str(self.source_dir)


def _read(
    path: str, info: os.stat_result, limit: int, copy: SourceCopy, shown: str | None = None
) -> bytes | None:
    """A regular file's bytes, opened without following a link or blocking on a FIFO that took
    its place; None (and a problem) when it cannot be read or is over `limit`."""
    shown = shown or path
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError as err:
        copy.problems.append(f"{shown}: cannot read: {err.strerror}")
        return None
    with os.fdopen(handle, "rb") as stream:
        opened = os.fstat(handle)
        if not stat.S_ISREG(opened.st_mode) or opened.st_ino != info.st_ino:
            copy.problems.append(f"{shown}: changed while it was read")
            return None
        try:  # what fstat said, plus anything that grew since (bounded, in steps)
            data = stream.read(min(opened.st_size, limit) + 1)
            while len(data) <= limit and (more := stream.read(min(MiB, limit + 1 - len(data)))):
                data += more
        except OSError as err:
            copy.problems.append(f"{shown}: cannot read: {err.strerror}")
            return None
    if len(data) > limit:
        copy.problems.append(f"{shown}: over the limit of {_size(limit)} per file")
        return None
    return data


def _size(count: int) -> str:
    """`3.0 GiB`, `12 B`."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count} B"


def input_digest(text: str, variables: Mapping[str, str], environment: str | None) -> str:
    """sha256 of what the build depends on besides code: the file, the --var values, the env."""
    digest = hashlib.sha256(text.encode("utf-8"))
    for key in sorted(variables):
        digest.update(f"\0{key}={variables[key]}".encode())
    digest.update(f"\0env={environment or ''}".encode())
    return digest.hexdigest()


def read_tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root` by relative POSIX path (for `render --check`): the bytes of each
    regular file, and for what render never writes (a symbolic link, an executable file, an
    empty folder, a special file) a few words saying what it is instead. Links are not followed.
    """
    if not root.is_dir():
        return {}
    tree: dict[str, bytes | str] = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in dirs:
            if (here / name).is_symlink():
                names.append(name)  # os.walk lists a link to a folder as a folder
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        if here != root and not dirs and not names:
            tree[here.relative_to(root).as_posix() + "/"] = "an empty folder"
        for name in names:
            path = here / name
            relative = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                tree[relative] = "a symbolic link, not a file"
            elif not stat.S_ISREG(mode):
                tree[relative] = "a special file, not a regular one"
            elif mode & 0o111:
                tree[relative] = f"mode {stat.S_IMODE(mode):o}: rendered files are not executable"
            else:
                tree[relative] = path.read_bytes()
    return dict(sorted(tree.items()))


def differences(expected: Mapping[str, bytes], actual: Mapping[str, bytes | str]) -> list[str]:
    """Lines like `changed: api/Dockerfile`, sorted by path; an entry that is not a plain file
    says what it is (`changed: api/Dockerfile (a symbolic link, not a file)`)."""
    lines = []
    for path in sorted(set(expected) | set(actual)):
        found = actual.get(path)
        why = f" ({found})" if isinstance(found, str) else ""
        if found is None:
            lines.append(f"missing: {path}")
        elif path not in expected:
            lines.append(f"extra:   {path}{why}")
        elif expected[path] != found:
            lines.append(f"changed: {path}{why}")
    return lines
