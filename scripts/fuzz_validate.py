"""Run N mutated flash.yaml documents through `validate` and print one summary line.

    python scripts/fuzz_validate.py 10000 [--seed 1]

The documents come from the same hypothesis strategy as tests/test_mutation_fuzz.py (mutations of
the valid corpus and flash.yaml.example), seeded, without an example database. Nothing stops the
run early: every crash is recorded. Exit status 1 when a crash or Python warning is not one of the
known core bugs listed in that test module, else 0.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.test_mutation_fuzz import (  # noqa: E402
    FORMATS,
    KNOWN_WARNINGS,
    Mutant,
    known_crash,
    mutants,
    run_document,
    violations,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000, help="documents to run")
    parser.add_argument("--seed", type=int, default=1, help="hypothesis seed")
    parser.add_argument("--show", type=int, default=3, help="unknown crashes to print in full")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="flashctl-fuzz-"))
    exit_codes: Counter[int | None] = Counter()
    rules: Counter[str] = Counter()
    known: Counter[str] = Counter()
    warned: Counter[str] = Counter()
    unknown: list[tuple[Mutant, str]] = []
    documents = 0
    schema_checked = 0  # documents that loaded, where the fast schema check met jsonschema

    @seed(args.seed)
    @settings(
        max_examples=args.n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutant=mutants(), fmt=st.sampled_from(FORMATS), strict=st.booleans())
    def run(mutant: Mutant, fmt: str, strict: bool) -> None:
        nonlocal documents, schema_checked
        documents += 1
        outcome = run_document(mutant, root, fmt, strict)
        warned.update(outcome.warnings)
        if outcome.crash is not None:
            name = known_crash(outcome.crash)
            if name:
                known[name] += 1
            else:
                trace = "".join(traceback.format_exception(outcome.crash))
                unknown.append((mutant, f"{outcome.where}:\n{trace}"))
            return
        exit_codes[outcome.exit_code] += 1
        schema_checked += outcome.loaded
        rules.update(p.rule for p in outcome.problems)
        for wrong in violations(outcome):
            if not wrong.startswith("Python warning"):
                unknown.append((mutant, wrong))

    started = time.perf_counter()
    try:
        run()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started

    for mutant, what in unknown[: args.show]:
        print(f"--- unknown failure on a mutant of {mutant.seed.name}:\n{mutant.text}\n{what}")
    tracebacks = len(unknown) + sum(known.values())
    unexpected_warnings = sorted(set(warned) - KNOWN_WARNINGS)
    print(
        f"documents={documents} tracebacks={tracebacks} (unknown={len(unknown)},"
        f" known={dict(sorted(known.items()))})"
        f" exit_codes={dict(sorted(exit_codes.items(), key=str))}"
        f" python_warnings={dict(sorted(warned.items()))}"
        f" rules_seen={dict(sorted(rules.items()))}"
        f" fast_schema_check_compared={schema_checked} (a disagreement counts as unknown)"
        f" seconds={seconds:.1f}"
    )
    return 1 if unknown or unexpected_warnings else 0


if __name__ == "__main__":
    sys.exit(main())
