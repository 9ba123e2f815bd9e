"""B3: compile time of a large flash.yaml (validate without render).

    python bench/b3_compile.py [--routes 20] [--runs 9] [--profile] [--check]

Generates a project of N endpoints x 20 routes (path parameters, converters, every method) with
one handler module per endpoint in a temp dir, then times `compile_file` at N=100 and N=200:
the median of 9 runs after a warm-up, the two sizes taking turns. "cold" clears the
parsed-module cache before each run, as a fresh `flashctl validate` process would see it;
"warm" keeps it, as `flashctl dev` reloads do.
Targets: 100 endpoints under 1 s; 200 endpoints at most 2.2x the time of 100. `--check` exits 1
when a target is missed; `--profile` prints where the time goes at 100 endpoints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flashctl.compiler import handler_index
from flashctl.compiler.pipeline import compile_file

TARGET_SECONDS = 1.0
TARGET_RATIO = 2.2
ROUTE_SHAPES = [
    ("GET", "/items", ""),
    ("POST", "/items", ""),
    ("GET", "/items/{item_id:int}", "item_id: int"),
    ("PUT", "/items/{item_id:int}", "item_id: int"),
    ("PATCH", "/items/{item_id:int}", "item_id: int"),
    ("DELETE", "/items/{item_id:int}", "item_id: int"),
    ("GET", "/items/{item_id:int}/tags/{tag}", "item_id: int, tag: str"),
    ("GET", "/users/me", ""),
    ("GET", "/users/{user_id:uuid}", "user_id: str"),
    ("GET", "/files/{rest:path}", "rest: str"),
]


def generate(root: Path, endpoints: int, routes: int) -> Path:
    """Write flash.yaml and one handler module per endpoint under `root`; return the yaml path."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        "version: 1",
        "project: bench",
        "defaults:",
        '  python: "3.11"',
        "  scaling: {workers: {min: 0, max: 3}, idle_timeout: 60}",
        "  env: {LOG_LEVEL: INFO}",
        "endpoints:",
    ]
    for e in range(endpoints):
        module = f"svc_{e:03d}"
        functions = []
        lines += [f"  e{e:03d}:"]
        if e % 2:
            lines += ["    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}"]
        else:
            lines += ["    compute: {gpu: {pools: [AMPERE_80, ADA_48_PRO], count: 1}}"]
        lines += [
            "    runtime: {max_body: 10MB, rate_limit: {requests: 600, per: minute}}",
            "    env:",
            "      HF_TOKEN: {secret: hf_token}",
            f"      ENDPOINT: e{e:03d}",
            "    routes:",
        ]
        for r in range(routes):
            method, path, params = ROUTE_SHAPES[r % len(ROUTE_SHAPES)]
            prefix = f"/v{r // len(ROUTE_SHAPES)}"
            name = f"route_{r:02d}"
            extra = ", body: dict = None" if method in ("POST", "PUT", "PATCH") else ""
            signature = ", ".join(p for p in (params, f"limit: int = 10{extra}") if p)
            functions.append(f"def {name}({signature}):\n    return {{'route': {r}}}\n")
            lines.append(
                f'      - {{method: {method}, path: "{prefix}{path}", handler: "{module}:{name}"}}'
            )
        (root / f"{module}.py").write_text("\n\n".join(functions), encoding="utf-8")
    lines += [
        "environments:",
        "  prod:",
        "    endpoints:",
        "      e000: {scaling: {workers: {min: 1}}}",
    ]
    path = root / "flash.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clear_caches() -> None:
    """Forget parsed handler modules, as a fresh process has them."""
    handler_index.forget()
    parse = getattr(handler_index, "_parse", None)
    if parse is not None and hasattr(parse, "cache_clear"):
        parse.cache_clear()


def timed(paths: list[Path], runs: int, before: Callable[[], None]) -> list[tuple[float, float]]:
    """Median wall and CPU seconds of `runs` compiles of each path after one warm-up each; the
    paths take turns, so a noisy minute on a shared machine hits both sizes alike. CPU time is
    the steadier figure. Fails loudly if a generated file is not clean."""
    for path in paths:
        result = compile_file(path, variables={})
        if result.problems:
            raise SystemExit(f"generated file is not clean: {result.problems[:3]}")
    walls: list[list[float]] = [[] for _ in paths]
    cpus: list[list[float]] = [[] for _ in paths]
    for _ in range(runs):
        for i, path in enumerate(paths):
            before()
            wall, cpu = time.perf_counter(), time.process_time()
            compile_file(path, variables={})
            walls[i].append(time.perf_counter() - wall)
            cpus[i].append(time.process_time() - cpu)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)]


def profile(path: Path) -> str:
    clear_caches()
    profiler = cProfile.Profile()
    profiler.runcall(compile_file, path, variables={})
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(25)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="flashctl-b3-") as tmp:
        small = generate(Path(tmp) / "n100", 100, args.routes)
        large = generate(Path(tmp) / "n200", 200, args.routes)
        cold = timed([small, large], args.runs, clear_caches)
        warm = timed([small, large], args.runs, lambda: None)
        report = profile(small) if args.profile else ""

    (wall_100, cpu_100), (wall_200, cpu_200) = cold
    ratio = wall_200 / wall_100
    ok = wall_100 < TARGET_SECONDS and ratio <= TARGET_RATIO
    print(f"B3 compile_file, 100 and 200 endpoints x {args.routes} routes, median of {args.runs}")
    for name, ((w1, c1), (w2, c2)) in (("cold", cold), ("warm", warm)):
        print(
            f"  {name}: wall 100={w1:.3f}s 200={w2:.3f}s ratio={w2 / w1:.2f};"
            f" cpu 100={c1:.3f}s 200={c2:.3f}s ratio={c2 / c1:.2f}"
        )
    print(
        f"  target: 100 endpoints < {TARGET_SECONDS}s, 200/100 <= {TARGET_RATIO}"
        f" (cold wall): {'PASS' if ok else 'FAIL'} (cpu: 100={cpu_100:.3f}s,"
        f" ratio={cpu_200 / cpu_100:.2f})"
    )
    if report:
        print(report)
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
