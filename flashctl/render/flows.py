"""`flashctl render`: compile, render every build context, then write it atomically or compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flashctl import files, gc_pause, outputs
from flashctl.compiler.pipeline import Load, Loaded
from flashctl.console import Console
from flashctl.errors import ExitCode, RenderError
from flashctl.render import source_copy
from flashctl.render.contexts import MANIFEST, Files, render_project
from flashctl.render.source_copy import DEFAULT_LIMITS, Limits
from flashctl.targets import RenderRequest


@dataclass(frozen=True)
class Build:
    """Every file of the build, and per endpoint what its source copy left out and why."""

    files: Files
    left_out: dict[str, list[tuple[str, str]]]


def build_loaded(
    loaded: Loaded, *, docs: bool | None = None, limits: Limits = DEFAULT_LIMITS
) -> Build:
    """The build of a valid project, or a RenderError listing every file that stops it."""
    project = loaded.project
    copies = {e.key: source_copy.source_files(e.source_dir, limits) for e in project.endpoints}
    problems = [p for copy in copies.values() for p in copy.problems]
    if problems:
        raise RenderError("cannot copy the source:\n  " + "\n  ".join(problems))
    with gc_pause.paused():  # see flashctl/gc_pause.py: B3 with rendering
        rendered = render_project(
            project,
            runtime_files=source_copy.runtime_files(),
            source_files={key: copy.files for key, copy in copies.items()},
            input_digest=source_copy.input_digest(
                loaded.text, loaded.variables, project.environment
            ),
            docs=docs,
        )
    return Build(rendered, {key: copy.left_out for key, copy in copies.items() if copy.left_out})


def render_loaded(loaded: Loaded, *, docs: bool | None = None) -> Files:
    """All files of the build for a valid project."""
    return build_loaded(loaded, docs=docs).files


def default_output(loaded: Loaded) -> Path:
    return outputs.default_output(loaded.project, outputs.BUILD)


def checked_output(loaded: Loaded, output: Path) -> None:
    """A RenderError when `output` is a folder render must never write (see outputs.py)."""
    reason = outputs.refusal(loaded.project, output)
    if reason is not None:
        raise RenderError(f"Refusing to render: {reason}")


def render_to(
    loaded: Loaded, output: Path, *, force: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Build:
    """Render and write `output` (see files.write_tree: never over a folder flashctl did not
    write unless `force`, never over the project)."""
    checked_output(loaded, output)
    build = build_loaded(loaded, limits=limits)
    files.write_tree(output, build.files, marker=MANIFEST, force=force)
    return build


def check_rendered(loaded: Loaded, output: Path, *, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """What differs between a fresh render and `output` (empty when up to date)."""
    build = build_loaded(loaded, limits=limits)
    return source_copy.differences(build.files, source_copy.read_tree(output))


def run_render(load: Load, console: Console, request: RenderRequest) -> ExitCode:
    """`flashctl render`: write the build contexts, or with `check` compare them (exit 1)."""
    loaded = load()
    limits = Limits(
        request.max_file_size or DEFAULT_LIMITS.file,
        request.max_context_size or DEFAULT_LIMITS.context,
    )
    output = request.output or default_output(loaded)
    if request.check:
        changes = check_rendered(loaded, output, limits=limits)
        return report_check(console, output, changes, f"flashctl render -o {output}")
    result = render_to(loaded, output, force=request.force, limits=limits)
    for key, left_out in result.left_out.items():
        listed = ", ".join(f"{path} ({reason})" for path, reason in left_out)
        console.progress(f"left out of {key}: {listed}")
    for endpoint in loaded.project.endpoints:
        console.out(f"{output / endpoint.key}/  ({endpoint.runpod_name})\n")
    console.progress(f"wrote {len(result.files)} files to {output}")
    return ExitCode.OK


def report_check(console: Console, output: Path, changes: list[str], fix: str) -> ExitCode:
    """The one `render --check` verdict, for every target: the differences, then exit 1."""
    if changes:
        console.out("\n".join(changes) + "\n")
        console.progress(f"{output} is out of date: run `{fix}`")
        return ExitCode.FAILED
    console.out(f"{output} is up to date\n")
    return ExitCode.OK
