"""B3 with rendering: validate + render a large flash.yaml, at 100 and at 200 endpoints.

    python bench/b3_render.py [--routes 20] [--runs 5] [--check]

The project comes from b3_compile.py's generator (N endpoints x 20 routes, one handler module
per endpoint), given one `source` folder per endpoint (`--layout per-endpoint`, the default).
With the generator's own layout (`--layout shared`: every endpoint's source is the folder of
flash.yaml) each build context copies all N modules, so render output grows as N^2 by design;
that layout is reported for information. Each run times, in one process and as `flashctl
render` runs them (parsed-module cache cleared first, as a fresh
process has it; one warm-up on a 2-endpoint project loads the imports and templates first):
  validate   load_valid_project: compile_file (load, schema, model, every check) and its verdict
  render     render_loaded: reading each source folder and the runtime package, then render_project
  pure       render_project alone: the pure function from project + file contents to {path: bytes}
  total      validate + render, what `flashctl render` does before writing
  write      writing the tree atomically, once per size after the timed runs (informational:
             disk, not the compiler)
Targets: total at 100 endpoints under 1 s; at 200 at most 2.2x the time at 100.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import contenders
from b3_compile import clear_caches, generate  # the same project and cold start as B3

from flashctl import files as files_module
from flashctl import gc_pause
from flashctl.compiler.pipeline import load_valid_project
from flashctl.render import source_copy
from flashctl.render.contexts import MANIFEST, render_project
from flashctl.render.flows import render_loaded

TARGET_SECONDS = 1.0
TARGET_RATIO = 2.2


def split_sources(path: Path) -> Path:
    """Give each generated endpoint `eNNN` its own source folder holding its `svc_NNN.py`."""
    root = path.parent
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        lines.append(line)
        if line.startswith("  e") and line.endswith(":") and line[3:-1].isdigit():
            number = line[3:-1]
            folder = root / f"e{number}"
            folder.mkdir(exist_ok=True)
            (root / f"svc_{number}.py").rename(folder / f"svc_{number}.py")
            lines.append(f"    source: ./e{number}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stages(path: Path, out: Path, write: bool = False) -> dict[str, float]:
    """Seconds of each stage of one cold `flashctl render` (parsed-module cache cleared); the
    write only when asked (it is timed once per size after the others: the kernel's writeback
    of thousands of files would otherwise spill into the next measurement)."""
    clear_caches()
    began = time.perf_counter()
    loaded = load_valid_project(path, variables={}, environment=None)
    validated = time.perf_counter()
    files = render_loaded(loaded)
    rendered = time.perf_counter()
    project = loaded.project
    contents = {e.key: source_copy.source_files(e.source_dir).files for e in project.endpoints}
    runtime = source_copy.runtime_files()
    began_pure = time.perf_counter()
    with gc_pause.paused():  # as render_loaded runs it
        render_project(project, runtime_files=runtime, source_files=contents, input_digest="0" * 64)
    pure = time.perf_counter() - began_pure
    began_write = time.perf_counter()
    if write:
        files_module.write_tree(out, files, marker=MANIFEST, force=False)
    written = time.perf_counter() - began_write
    return {
        "validate": validated - began,
        "render_io": rendered - validated,
        "render": pure,
        "total": rendered - began,
        "write": written,
        "files": float(len(files)),
    }


def timed(projects: dict[int, tuple[Path, Path]], runs: int) -> dict[int, dict[str, float]]:
    """Median seconds of each stage per size; the sizes take turns, so a noisy minute on a
    shared machine hits both alike."""
    samples: dict[int, list[dict[str, float]]] = {size: [] for size in projects}
    for _ in range(runs):
        for size, (path, out) in projects.items():
            samples[size].append(stages(path, out))
    medians = {
        size: {key: statistics.median(s[key] for s in runs_) for key in runs_[0]}
        for size, runs_ in samples.items()
    }
    for size, (path, out) in projects.items():
        medians[size]["write"] = stages(path, out, write=True)["write"]
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layout", choices=("per-endpoint", "shared"), default="per-endpoint")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    sizes = (100, 200)
    with tempfile.TemporaryDirectory(prefix="flashctl-b3r-") as tmp:
        warm = generate(Path(tmp) / "warm-up", 2, args.routes)
        stages(split_sources(warm) if args.layout == "per-endpoint" else warm, Path(tmp) / "w")
        projects = {}
        for size in sizes:
            path = generate(Path(tmp) / f"n{size}", size, args.routes)
            if args.layout == "per-endpoint":
                path = split_sources(path)
            projects[size] = (path, Path(tmp) / f"build{size}")
        results = timed(projects, args.runs)

    small, large = results[100], results[200]
    ratio = large["total"] / small["total"]
    ok = small["total"] < TARGET_SECONDS and ratio <= TARGET_RATIO
    show: Callable[[float], str] = lambda seconds: f"{seconds * 1000:.0f}"  # noqa: E731
    print(
        f"B3 at {contenders.revision()}: validate + render, {args.routes} routes per endpoint,"
        f" {args.layout} sources, median of {args.runs}\n"
    )
    print(
        "| endpoints | files | validate ms | render ms (reads + render_project)"
        " | render_project alone ms | total ms | write ms (info) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in results.items():
        print(
            f"| {size} | {r['files']:.0f} | {show(r['validate'])} | {show(r['render_io'])}"
            f" | {show(r['render'])} | {show(r['total'])} | {show(r['write'])} |"
        )
    render_ratio = large["render_io"] / small["render_io"]
    print(
        f"\ntotal 100: {small['total']:.3f} s (< {TARGET_SECONDS} s); 200/100: {ratio:.2f}x"
        f" (<= {TARGET_RATIO}x): {'PASS' if ok else 'FAIL'}."
        f" Render alone: 100: {small['render_io']:.3f} s, 200/100: {render_ratio:.2f}x."
    )
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
