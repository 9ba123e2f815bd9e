"""Writing to disk the one safe way: never half-written, never over what flashctl did not write.

Every command that writes goes through here: `render` (both targets) through `write_tree`,
`init` and `import-flash` through `write_files`.

- `write_file`: a temporary file in the same folder, fsync, then rename(2); a reader sees the old
  file or the new one, and a failure leaves no temporary file behind.
- `write_files`: several files under a folder; if any exists, nothing is written unless `force`.
- `write_tree`: a whole folder, staged beside the target (`.<name>.staging-<id>`) and swapped in
  with one atomic exchange (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np RENAME_SWAP), so the
  target holds the old tree or the new one at every instant. A folder that exists, is not empty
  and holds no marker file written by flashctl (`manifest.json` of `render`) is replaced only with
  `force`. A staging folder is locked (flock) while its render runs; the next write to the same
  target removes the ones whose render was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from flashctl.errors import FlashError, RenderError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, leftovers are kept
    fcntl = None  # type: ignore[assignment]

# The field and value that mark a file as written by flashctl (see `owned`).
MARKER_FIELD = "generator"
MARKER_VALUE = "flashctl"
STAGING = ".staging-"


PARTIAL = ".partial"  # the suffix of write_file's temporary files; nothing else uses it


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically (temporary file in the same folder, fsync, rename,
    the temporary file removed on failure; one a kill leaves, `remove_partial_writes` removes)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=PARTIAL, dir=path.parent
        )
    except OSError as err:
        raise FlashError(f"Could not write {path}: {err.strerror or err}.") from err
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise FlashError(f"Could not write {path}: {err.strerror or err}.") from err
        raise


def remove_partial_writes(path: Path) -> None:
    """Delete the temporary files of writes of `path` that a kill interrupted."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*{PARTIAL}"):
        leftover.unlink(missing_ok=True)


def write_files(folder: Path, files: Mapping[str, bytes], *, force: bool) -> None:
    """Write `files` (POSIX paths relative to `folder`); refuse, writing nothing, if any of
    them exists, unless `force`."""
    clashes = [path for path in files if os.path.lexists(folder / path)]
    if clashes and not force:
        raise FlashError(
            f"Refusing to overwrite {', '.join(clashes)} in {folder}: nothing was written "
            "(pass --force to replace them)."
        )
    for path, data in files.items():
        write_file(folder / path, data)


def owned(folder: Path, marker: str) -> bool:
    """Whether `folder/marker` is a JSON object flashctl wrote (`"generator": "flashctl"`)."""
    path = folder / marker
    if path.is_symlink() or not path.is_file():
        return False
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(value, dict) and value.get(MARKER_FIELD) == MARKER_VALUE


def replaceable(target: Path, marker: str) -> str | None:
    """Why `target` must not be replaced without --force, or None when it may be."""
    if not os.path.lexists(target):
        return None
    if target.is_symlink() or not target.is_dir():
        return "it is not a folder"
    if not any(target.iterdir()) or owned(target, marker):
        return None
    return (
        f"it is not empty and holds no {marker} written by flashctl, so it may hold files "
        "flashctl did not write"
    )


def write_tree(target: Path, files: Mapping[str, bytes], *, marker: str, force: bool) -> None:
    """Make `target` hold exactly `files`, all or nothing, with no moment without a tree.

    `files` must contain `marker` (the file that later proves the folder is flashctl's).
    """
    target = Path(os.path.abspath(target))
    reason = replaceable(target, marker)
    if reason is not None and not force:
        raise RenderError(
            f"Refusing to replace {target}: {reason}. Nothing was changed. Pass --force to "
            "replace it anyway, or choose another output folder (-o)."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RenderError(f"cannot write {target}: {err.strerror or err}") from err
    remove_leftovers(target)
    with _staging(target) as staging:
        try:
            for relative, data in files.items():
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            if os.path.lexists(target):
                swap(staging, target)  # staging now holds the previous tree
            else:
                os.rename(staging, target)
        except OSError as err:
            raise RenderError(f"cannot write {target}: {err.strerror or err}") from err


def staging_folders(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}{STAGING}*"))


def remove_leftovers(target: Path) -> None:
    """Remove the staging folders of earlier writes to `target` that were killed (their lock is
    free); those of a write still running are kept."""
    if fcntl is None:
        return
    for folder in staging_folders(target):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # another render is writing it
        else:
            _remove(folder)
        finally:
            os.close(handle)


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A locked, empty folder beside `target`; removed afterwards, whatever it then holds."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING}", dir=target.parent))
    except OSError as err:
        raise RenderError(f"cannot write {target}: {err.strerror or err}") from err
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would become the output's mode
    handle = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield staging
    finally:
        _remove(staging)
        os.close(handle)


def _remove(path: Path) -> None:
    """Remove what a swap left at `path`: a tree, or the file or link --force replaced."""
    with contextlib.suppress(OSError):
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)


def swap(first: Path, second: Path) -> None:
    """Exchange two paths atomically. Where the platform or filesystem cannot, fall back to two
    renames (a brief moment where `second` is missing)."""
    if _exchange(first, second):
        return
    aside = second.with_name(f".{second.name}{STAGING}old-{os.getpid()}")
    os.rename(second, aside)
    try:
        os.rename(first, second)
    except OSError:
        os.rename(aside, second)
        raise
    os.rename(aside, first)


def _exchange(first: Path, second: Path) -> bool:
    """renameat2(RENAME_EXCHANGE) / renamex_np(RENAME_SWAP); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux"):
            function = libc.renameat2
            at_fdcwd, rename_exchange = -100, 2
            args: tuple[object, ...] = (
                at_fdcwd,
                os.fsencode(first),
                at_fdcwd,
                os.fsencode(second),
                rename_exchange,
            )
        elif sys.platform == "darwin":
            function = libc.renamex_np
            args = (os.fsencode(first), os.fsencode(second), 0x2)  # RENAME_SWAP
        else:
            return False
    except (AttributeError, OSError):
        return False
    if function(*args) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))
