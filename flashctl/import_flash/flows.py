"""The `flashctl import-flash` flow below click: scan, translate, write, then validate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flashctl.console import Console
from flashctl.errors import ExitCode, FlashError, UsageError
from flashctl.files import write_file
from flashctl.import_flash.scan import scan_project
from flashctl.import_flash.translate import translate
from flashctl.import_flash.yaml_text import yaml_text


@dataclass(frozen=True)
class ImportRequest:
    directory: Path
    output: Path | None  # None: DIR/flash.yaml; Path("-"): stdout
    project: str | None
    force: bool


def run_import(request: ImportRequest, console: Console) -> ExitCode:
    """Write the flash.yaml; exit 1 when nothing could be translated or the result does not
    validate (it is written anyway, to be fixed by hand)."""
    from flashctl.scaffold.files import checked_name, project_name

    directory = request.directory
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder.")
    to_stdout = request.output == Path("-")
    output = request.output or directory / "flash.yaml"
    if not to_stdout and not directory.resolve().is_relative_to(output.parent.resolve()):
        raise UsageError(
            f"{output} would lie outside {directory}: a flash.yaml's source must be inside its"
            " folder (the `source` rule), so write it in DIR or in a folder above it."
        )
    if not to_stdout and output.exists() and not request.force:
        raise FlashError(f"Refusing to overwrite {output} (pass --force to replace it).")
    project = (
        checked_name(request.project) if request.project else project_name(directory.resolve().name)
    )
    scan = scan_project(directory)
    base = Path.cwd() if to_stdout else output.parent
    source = Path(os.path.relpath(directory.resolve(), base.resolve())).as_posix()
    translation = translate(scan, project, source if source != "." else ".")
    endpoints = translation.document["endpoints"]
    if not endpoints:
        for note in translation.notes:
            console.progress(f"  {note}")
        raise FlashError(
            f"No runpod-flash endpoint with routes found in {directory} "
            f"({scan.files} Python files read): nothing to write."
        )
    text = yaml_text(translation, directory.as_posix())
    if to_stdout:
        console.out(text)
    else:
        write_file(output, text.encode("utf-8"))
        console.out(f"{output}\n")
    routes = sum(len(e.get("routes", ())) for e in endpoints.values())
    apps = sum(1 for e in endpoints.values() if "app" in e)
    served = f"{routes} route(s)" + (f", {apps} ASGI app(s)" if apps else "")
    console.progress(
        f"translated {len(endpoints)} endpoint(s), {served} from {scan.files} files; "
        f"{len(translation.notes)} item(s) not translated:"
    )
    for note in translation.notes:
        console.progress(f"  - {note}")
    if to_stdout:
        return ExitCode.OK
    return _validate(output, console)


def _validate(path: Path, console: Console) -> ExitCode:
    from flashctl.compiler.pipeline import compile_file
    from flashctl.report import FORMATS

    result = compile_file(path, variables=dict(os.environ), environment=None)
    if result.errors:
        console.progress(f"{path} does not validate yet:")
        console.err(FORMATS["text"]([result], False))
        return ExitCode.FAILED
    console.progress(f"{path} validates.")
    return ExitCode.OK
