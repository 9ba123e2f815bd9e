"""B4: start-up time of the `flashctl` command.

    python bench/b4_startup.py [--runs 10] [--top 12] [--check] [--dev-only]

Runs `flashctl --version` and `flashctl validate -f flash.yaml.example` as subprocesses (median
wall time of 10 after one warm-up) from two installs side by side: a wheel install of this
checkout in `bench/.venv/b4-wheel` (what users run: created on first use, flashctl reinstalled
on every run) and this venv's (an editable dev install, which adds setuptools' import finder).
Then `python -X importtime`, in the wheel install, shows the slowest imports of
`import flashctl.cli` (what --version pays) and of a whole validate run.
Targets, for the wheel install: --version under 0.15 s, validate under 0.3 s. `--check` exits 1
when one is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "flash.yaml.example"
DEV_BIN = Path(sys.executable).parent
WHEEL_VENV = ROOT / "bench" / ".venv" / "b4-wheel"
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


def wheel_install() -> Path:
    """The bin folder of a venv with this checkout installed from a wheel (not editable)."""
    python = WHEEL_VENV / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WHEEL_VENV)], check=True, timeout=300)
        _quietly([*pip, str(ROOT)])
    else:  # dependencies are there: refresh flashctl itself only
        _quietly([*pip, "--no-deps", "--force-reinstall", str(ROOT)])
    return python.parent


def _quietly(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def import_times(python: Path, code: str, top: int) -> tuple[float, list[tuple[float, float, str]]]:
    """Total import seconds and the `top` slowest imports at the first two levels (what the
    program imports and what those import), as (cumulative, self, indented name)."""
    with tempfile.TemporaryDirectory() as elsewhere:  # so the checkout does not shadow the install
        done = subprocess.run(
            [str(python), "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=False,
            cwd=elsewhere,
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
    parser.add_argument("--dev-only", action="store_true", help="skip the wheel install")
    args = parser.parse_args()

    installs = {"dev (editable)": DEV_BIN}
    if not args.dev_only:
        installs = {"wheel": wheel_install(), **installs}
    python = wall([sys.executable, "-c", "pass"], args.runs)
    print(f"B4 median of {args.runs}; bare python {python:.3f}s")
    ok = True
    for label, bin_dir in installs.items():  # interleaved would be fairer; medians absorb it
        flashctl = str(bin_dir / "flashctl")
        version = wall([flashctl, "--version"], args.runs)
        validate = wall([flashctl, "validate", "-f", str(EXAMPLE)], args.runs)
        met = version < TARGETS["version"] and validate < TARGETS["validate"]
        ok = ok and met
        print(
            f"  {label:15} flashctl --version {version:.3f}s (target <{TARGETS['version']}s),"
            f" validate -f flash.yaml.example {validate:.3f}s (target <{TARGETS['validate']}s):"
            f" {'PASS' if met else 'FAIL'}"
        )
    measured = next(iter(installs.values())) / "python"
    show("import flashctl.cli", *import_times(measured, "import flashctl.cli", args.top))
    run_validate = (
        "from flashctl.cli import main\n"
        "try:\n"
        f"    main(['validate', '-f', {str(EXAMPLE)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    show("validate -f flash.yaml.example", *import_times(measured, run_validate, args.top))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
