"""Compiling tunes the garbage collector only while it runs (see compiler._few_collections)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from flashctl.compiler import compile_text


@pytest.mark.parametrize(
    "text",
    ["version: 1\nproject: demo\nendpoints: {}\n", "version: [\n", "- a list\n"],
    ids=["valid", "unparsable", "list"],
)
def test_compiling_leaves_the_gc_thresholds_as_they_were(tmp_path: Path, text: str) -> None:
    before = gc.get_threshold()
    compile_text(text, "flash.yaml", base_dir=tmp_path, variables={})
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_when_the_compile_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, ...]] = []

    def failing_load(text: str, file: str) -> None:
        seen.append(gc.get_threshold())
        raise RuntimeError("boom")

    monkeypatch.setattr("flashctl.loader.load_text", failing_load)
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="boom"):
        compile_text("version: 1\n", "flash.yaml", base_dir=tmp_path, variables={})
    assert seen and seen[0][0] >= 100_000  # raised while compiling
    assert gc.get_threshold() == before
