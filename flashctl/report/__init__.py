"""Reporters: one function per output format, picked by name from FORMATS.

Each takes the compiled results (one per file) and returns the text to print on stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flashctl.compiler.pipeline import Compiled
from flashctl.report import github, json_format, sarif, text

Reporter = Callable[[Sequence[Compiled], bool], str]

FORMATS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_format.render,
    "github": github.render,
    "sarif": sarif.render,
}
