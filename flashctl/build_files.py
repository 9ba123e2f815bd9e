"""The I/O around render: reading what goes into a build context and writing it atomically.

`write_tree` renders into a temporary folder beside the target and swaps it in with renames, so an
interrupted or failed render leaves the previous build untouched (never half-written).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from flashctl.errors import RenderError

# Never copied into an image: VCS data, caches, virtualenvs and build output.
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        "__pycache__",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        "node_modules",
        "build",
        "dist",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def runtime_files() -> dict[str, bytes]:
    """The installed flashctl_runtime package's files (its .py modules and py.typed)."""
    root = resources.files("flashctl_runtime")
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.is_file() and (entry.name.endswith(".py") or entry.name == "py.typed")
    }


def source_files(source_dir: Path, skip: Iterable[Path] = ()) -> dict[str, bytes]:
    """Every file under `source_dir` that belongs in an image, by relative POSIX path."""
    if not source_dir.is_dir():
        raise RenderError(f"source folder {source_dir} does not exist")
    skipped = {p.resolve() for p in skip}
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(source_dir):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in EXCLUDED_DIRS
            and not d.endswith(EXCLUDED_SUFFIXES)
            and (here / d).resolve() not in skipped
        )
        for name in sorted(names):
            if name.endswith(EXCLUDED_SUFFIXES) or name == ".DS_Store":
                continue
            path = here / name
            files[path.relative_to(source_dir).as_posix()] = path.read_bytes()
    return files


def input_digest(text: str, variables: Mapping[str, str], environment: str | None) -> str:
    """sha256 of what the build depends on besides code: the file, the --var values, the env."""
    digest = hashlib.sha256(text.encode("utf-8"))
    for key in sorted(variables):
        digest.update(f"\0{key}={variables[key]}".encode())
    digest.update(f"\0env={environment or ''}".encode())
    return digest.hexdigest()


def write_tree(target: Path, files: Mapping[str, bytes]) -> None:
    """Replace `target` with exactly `files`, atomically: all or nothing."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.rendering-", dir=target.parent))
    try:
        for relative, data in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        try:
            os.replace(staging, target)
        except OSError:
            if old is not None:
                os.replace(old, target)  # put the previous build back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise RenderError(f"cannot write {target}: {err.strerror or err}") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
