"""B4: start-up time of the `flashctl` command.

    python bench/b4_startup.py [--runs 10] [--top 12] [--check]

Runs the venv's `flashctl --version` and `flashctl validate -f flash.yaml.example` as
subprocesses (median wall time of 10 after one warm-up), then `python -X importtime` to show the
slowest imports of `import flashctl.cli` (what --version pays) and of a whole validate run.
Targets: --version under 0.15 s, validate under 0.3 s. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "flash.yaml.example"
FLASHCTL = Path(sys.executable).parent / "flashctl"
TARGETS = {"version": 0.15, "validate": 0.3}
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def wall(argv: list[str], runs: int) -> float:
    """Median wall seconds of `argv` over `runs` runs, after one unmeasured warm-up."""
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(argv, capture_output=True, check=True, env=env)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def import_times(code: str, top: int) -> tuple[float, list[tuple[float, float, str]]]:
    """Total import seconds and the `top` slowest imports at the first two levels (what the
    program imports and what those import), as (cumulative, self, indented name)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    total, rows = 0.0, []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        depth = len(match.group(3)) // 2
        cumulative, own = int(match.group(2)) / 1e6, int(match.group(1)) / 1e6
        total += cumulative if depth == 0 else 0.0
        if depth <= 1:
            rows.append((cumulative, own, "  " * depth + match.group(4)))
    rows.sort(reverse=True)
    return total, rows[:top]


def show(title: str, total: float, rows: list[tuple[float, float, str]]) -> None:
    print(f"{title}: {total * 1000:.0f} ms of imports; slowest (cumulative, two levels deep):")
    for cumulative, own, name in rows:
        print(f"  {cumulative * 1000:7.1f} ms  (self {own * 1000:5.1f})  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    python = wall([sys.executable, "-c", "pass"], args.runs)
    version = wall([str(FLASHCTL), "--version"], args.runs)
    validate = wall([str(FLASHCTL), "validate", "-f", str(EXAMPLE)], args.runs)
    ok = version < TARGETS["version"] and validate < TARGETS["validate"]
    print(
        f"B4 median of {args.runs}: flashctl --version {version:.3f}s"
        f" (target <{TARGETS['version']}s), flashctl validate -f flash.yaml.example"
        f" {validate:.3f}s (target <{TARGETS['validate']}s), bare python {python:.3f}s:"
        f" {'PASS' if ok else 'FAIL'}"
    )
    show("import flashctl.cli", *import_times("import flashctl.cli", args.top))
    run_validate = (
        "from flashctl.cli import main\n"
        "try:\n"
        f"    main(['validate', '-f', {str(EXAMPLE)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    show("validate -f flash.yaml.example", *import_times(run_validate, args.top))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
