"""What `flashctl dev` shows of its server's output: tracebacks pointing at the user's files.

The served code runs from a rendered copy in a temp folder (`.../build/<endpoint>/src/`), so a
traceback names that copy; `SourceMap` maps it back to the endpoint's `source:` folder. A failed
start (`startup_failed` log line: an import that raised, a startup hook that failed) becomes one
message naming the user's file and line; a request's 500 gets its traceback shown readably on
stderr, below its JSON log line (which loses only its escaped `traceback` field: deployed services
keep logging it as it is).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)(?:, in (?P<name>.+))?$')


@dataclass(frozen=True)
class SourceMap:
    """Rendered source folders (`.../build/<endpoint>/src`) and the user's folders they copy."""

    folders: Mapping[str, str]

    @classmethod
    def of(cls, copies: Mapping[Path, Path]) -> SourceMap:
        folders: dict[str, str] = {}
        for copy, source in copies.items():
            for path in {copy, copy.resolve()}:
                folders[str(path) + os.sep] = str(source) + os.sep
        return cls(folders)

    def to_source(self, text: str) -> str:
        """`text` with every path into a rendered copy replaced by the user's own path."""
        for copy, source in self.folders.items():
            text = text.replace(copy, source)
        return text

    def is_source(self, path: str) -> bool:
        """Whether `path` (already mapped) is a file of the user's sources."""
        return any(path.startswith(source) for source in self.folders.values())


def shown(path: str) -> str:
    """`path` relative to the working folder when it is inside it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else path
    except ValueError:
        return path


def readable_traceback(traceback: str, sources: SourceMap) -> str:
    """`traceback` with the user's paths, each section from its first frame in the user's code
    on: the server's and the runtime's frames above it are left out (the frames below it, in
    libraries the user's code called, stay); a section without one is kept whole."""
    lines = sources.to_source(traceback).rstrip("\n").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if not lines[i].startswith("Traceback (most recent call last):"):
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        body = lines[i + 1 : end]
        first = next((k for k, line in enumerate(body) if _in_source(line, sources)), 0)
        out += [_with_shown_path(line) for line in body[first:]]
        i = end
    return "\n".join(out)


def _in_source(line: str, sources: SourceMap) -> bool:
    frame = _FRAME.match(line)
    return frame is not None and sources.is_source(frame["file"])


def _with_shown_path(line: str) -> str:
    frame = _FRAME.match(line)
    return line if frame is None else line.replace(frame["file"], shown(frame["file"]), 1)


def failure_message(traceback: str, sources: SourceMap) -> str:
    """One message for a failed start: the exception, and where in the user's code it came from
    (the deepest frame in it; without one, the deepest frame at all)."""
    lines = sources.to_source(traceback).rstrip("\n").splitlines()
    frames = [m for m in map(_FRAME.match, lines) if m is not None]
    user = [m for m in frames if sources.is_source(m["file"])]
    exception = next((line for line in reversed(lines) if line and not line[0].isspace()), "")
    message = f"the service failed to start: {exception or 'see the output above'}"
    where = (user or frames)[-1] if frames else None
    if where is None:
        return message
    name = f" (in {where['name']})" if where["name"] else ""
    return f"{message}\n  at {shown(where['file'])}:{where['line']}{name}"


@dataclass(frozen=True)
class Shown:
    """What to print for one line of the server's stdout, and a failed start's message."""

    stdout: str | None
    stderr: str | None = None
    failure: str | None = None


def server_line(line: str, sources: SourceMap) -> Shown:
    """Sort one stdout line of the served process: a JSON log line with a traceback loses the
    escaped field and gets it shown readably; anything else is shown as it came."""
    record: Any = None
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
    if not isinstance(record, dict) or not isinstance(record.get("traceback"), str):
        return Shown(line)
    traceback = record.pop("traceback")
    if record.get("event") == "startup_failed":
        return Shown(None, failure=failure_message(traceback, sources))
    compact = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return Shown(compact, readable_traceback(traceback, sources))
