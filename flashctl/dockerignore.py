"""`.dockerignore` patterns, matched the way Docker matches them (moby's patternmatcher).

- One pattern a line; lines starting with `#` are comments; surrounding spaces are trimmed; a
  leading `/` is dropped (patterns are relative to the folder holding the file); `a/../b` is
  cleaned to `b`.
- `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` a class,
  `\\` escapes the next character; `**` matches any number of folders, zero included (`**/x`
  matches `x` and `a/b/x`).
- A path is matched by a pattern when the pattern matches it or one of its parent folders
  (`data` leaves out `data/big.bin`).
- `!pattern` is an exception: it takes back what an earlier pattern left out. The last pattern
  that matches decides.

>>> rules = parse("data\\n!data/keep.txt\\n")
>>> [rules.excluded(p) for p in ("data/big.bin", "data/keep.txt", "app.py")]
[True, False, False]
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    text: str  # as cleaned, without its `!`
    exception: bool
    regex: re.Pattern[str]
    reason: str  # shown when it leaves a file out

    def matches(self, path: str, parents: bool = True) -> bool:
        """`path` or (when `parents`) one of its parent folders matches."""
        if self.regex.match(path):
            return True
        if not parents:
            return False
        parts = path.split("/")[:-1]
        return any(self.regex.match("/".join(parts[: i + 1])) for i in range(len(parts)))


@dataclass(frozen=True)
class Rules:
    patterns: tuple[Pattern, ...]

    def __add__(self, other: Rules) -> Rules:
        return Rules(self.patterns + other.patterns)

    @functools.cached_property
    def _any(self) -> re.Pattern[str]:
        """Matches what at least one pattern matches: most paths are decided by this alone."""
        return re.compile("|".join(p.regex.pattern for p in self.patterns) or "(?!)", re.DOTALL)

    @functools.cached_property
    def has_exceptions(self) -> bool:
        return any(p.exception for p in self.patterns)

    def may_take_back(self, folder: str) -> bool:
        """Whether an exception could match something inside the excluded `folder` (as Docker
        decides whether to walk into it): its literal start is compatible with the folder."""
        inside = folder + "/"
        for pattern in self.patterns:
            if pattern.exception:
                literal = re.split(r"[*?\[\\]", pattern.text, maxsplit=1)[0]
                if literal.startswith(inside) or inside.startswith(literal):
                    return True
        return False

    def excluded(self, path: str) -> bool:
        return self.reason(path) is not None

    def reason(self, path: str, parents: bool = True) -> str | None:
        """The reason of the exclusion that decides `path` (a POSIX path relative to the
        folder), or None when it is kept. `parents=False` skips matching its parent folders
        (for a walk that already kept them, when no exception can take a path back)."""
        if not parents and not self._any.match(path):
            return None
        decided: Pattern | None = None
        for pattern in self.patterns:
            # An exception only matters once something matched, an exclusion only before.
            if pattern.exception != (decided is not None):
                continue
            if pattern.matches(path, parents):
                decided = None if pattern.exception else pattern
        return decided.reason if decided else None


def parse(text: str, reason: str = ".dockerignore") -> Rules:
    """The patterns of a .dockerignore file's text."""
    patterns = []
    for line in text.removeprefix("\ufeff").splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line.lstrip("/")
        patterns.append(Pattern(line, exception, compile_pattern(line), reason))
    return Rules(tuple(patterns))


def compile_pattern(pattern: str) -> re.Pattern[str]:
    r"""A regular expression for one cleaned pattern.

    >>> bool(compile_pattern("**/*.pem").match("certs/site.pem"))
    True
    >>> bool(compile_pattern("*.pem").match("certs/site.pem"))
    False
    """
    regex = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                regex += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            regex += re.escape(pattern[i])
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                regex += re.escape(char)
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                regex += "[" + body.replace("\\", "\\\\") + "]"
                i = end
        else:
            regex += re.escape(char)
        i += 1
    try:
        return re.compile(f"^{regex}$", re.DOTALL)
    except re.error:
        return re.compile(f"^{re.escape(pattern)}$")
