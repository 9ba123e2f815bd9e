"""`flashctl render`: compile, render every build context, then write it atomically or compare."""

from __future__ import annotations

from pathlib import Path

from flashctl import build_files, collector
from flashctl.compiler import Loaded
from flashctl.render import Files, render_project


def render_loaded(loaded: Loaded, output: Path | None = None, *, docs: bool | None = None) -> Files:
    """All files of the build for a valid project; `output` (if inside a source) is not copied."""
    project = loaded.project
    skip = [output] if output is not None else []
    sources = {e.key: build_files.source_files(e.source_dir, skip) for e in project.endpoints}
    with collector.paused():  # see flashctl/collector.py: B3 with rendering
        return render_project(
            project,
            runtime_files=build_files.runtime_files(),
            source_files=sources,
            input_digest=build_files.input_digest(
                loaded.text, loaded.variables, project.environment
            ),
            docs=docs,
        )


def render_to(loaded: Loaded, output: Path) -> Files:
    files = render_loaded(loaded, output)
    build_files.write_tree(output, files)
    return files


def check_rendered(loaded: Loaded, output: Path) -> list[str]:
    """What differs between a fresh render and `output` (empty when up to date)."""
    files = render_loaded(loaded, output)
    return build_files.differences(files, build_files.read_tree(output))
