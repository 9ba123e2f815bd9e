"""Golden files: the example (flash.yaml.example) rendered for Kubernetes, byte for byte, and the
same bytes on every run.

After an intended change, regenerate the golden files and review the diff in git:

    FLASHCTL_UPDATE_GOLDEN=1 python -m pytest tests/kubernetes/test_k8s_golden.py
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flashctl.kubernetes.render import render_kubernetes
from tests.conftest import ROOT
from tests.kubernetes.conftest import load_example

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FLASHCTL_UPDATE_GOLDEN") == "1"
RENDER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from flashctl.compiler.pipeline import load_valid_project\n"
    "from flashctl.kubernetes.render import render_kubernetes\n"
    "project = load_valid_project(Path(sys.argv[1]), variables={}, environment=None).project\n"
    "for name, data in render_kubernetes(project).items():\n"
    "    sys.stdout.buffer.write(name.encode() + b'\\0' + data + b'\\0')\n"
)


@pytest.mark.parametrize("name", ["cpu.yaml", "gpu.yaml", "users.yaml"])
def test_the_example_renders_as_its_golden_file(name):
    rendered = render_kubernetes(load_example())[name].decode("utf-8")
    path = GOLDEN / name
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    expected = path.read_text(encoding="utf-8") if path.is_file() else ""
    if rendered != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                f"golden/{name}",
                f"rendered/{name}",
            )
        )
        pytest.fail(
            f"{name} differs from its golden file; if the change is intended, regenerate with"
            f" FLASHCTL_UPDATE_GOLDEN=1 (see this module's docstring):\n{diff}",
            pytrace=False,
        )


def test_there_is_a_golden_file_for_each_rendered_file_and_no_other():
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(render_kubernetes(load_example()))


def test_rendering_is_byte_identical_across_processes_and_hash_seeds():
    outputs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", RENDER, str(ROOT / "flash.yaml.example")],
            capture_output=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    in_process = b"".join(
        name.encode() + b"\0" + data + b"\0"
        for name, data in render_kubernetes(load_example()).items()
    )
    assert outputs == {in_process}
