"""Compiling and rendering pause the cyclic GC only while they run (see flashctl/gc_pause.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from flashctl import gc_pause
from flashctl.compiler.pipeline import compile_text, load_valid_project
from tests.conftest import EXAMPLE


@pytest.fixture
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.parametrize(
    "text",
    ["version: 1\nproject: demo\nendpoints: {}\n", "version: [\n", "- a list\n"],
    ids=["valid", "unparsable", "list"],
)
def test_compiling_leaves_the_collector_on(gc_on: None, tmp_path: Path, text: str) -> None:
    compile_text(text, "flash.yaml", base_dir=tmp_path, variables={})
    assert gc.isenabled()


def test_the_collector_is_off_while_compiling_and_back_on_when_it_raises(
    gc_on: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def failing_load(text: str, file: str) -> None:
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    monkeypatch.setattr("flashctl.compiler.loader.load_text", failing_load)
    with pytest.raises(RuntimeError, match="boom"):
        compile_text("version: 1\n", "flash.yaml", base_dir=tmp_path, variables={})
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with gc_pause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_rendering_leaves_the_collector_on(gc_on: None) -> None:
    from flashctl.render.flows import render_loaded

    loaded = load_valid_project(EXAMPLE, variables={}, environment=None)
    assert render_loaded(loaded)
    assert gc.isenabled()
