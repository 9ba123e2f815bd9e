"""The repository stands on its own: a fresh clone has everything its tests, scripts and CI read."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

# What reaching for the material that sits beside this workplace's checkouts looks like.
OUTSIDE = re.compile(r"\.\./shared|shared/research|parents?\[?\d*\]?\s*/\s*[\"']shared[\"']")


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return listed.stdout.splitlines()


def test_no_test_script_or_ci_step_reads_a_folder_beside_the_checkout():
    offenders = []
    for name in tracked_files():
        if name == "tests/test_repository.py" or name.startswith("tests/cases/"):
            continue
        if not re.search(r"(\.py|\.sh|\.toml|\.cfg|\.ini|Makefile|\.ci/run|\.ya?ml)$", name):
            continue
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offenders == []


def test_runpods_schemas_are_test_data_with_their_source_and_date():
    import json

    extract = json.loads((ROOT / "tests/data/runpod/openapi-v2.json").read_text())
    origin = extract["x-flashctl-extract"]
    assert origin["source"].startswith("https://")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", origin["extracted"])
    assert (ROOT / origin["script"]).is_file()
    assert set(origin["schemas"]) <= set(extract["components"]["schemas"])


def test_ci_runs_the_readmes_test_command_as_written():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Run the tests.*?```sh\n(.+?)\n```", readme, re.S)
    assert command is not None
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command.group(1) in ci
