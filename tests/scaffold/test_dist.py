"""Publishing and installing flashctl as the docs say: `make dist` builds an sdist and a wheel
that `twine check` accepts, docs/ci.md and a new project pin flashctl to this version, and the
pinned requirement installs (from the built files) into an environment of its own where the
scaffold's pre-commit hook runs without flashctl on PATH."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import venv

import pytest
from ruamel.yaml import YAML

from flashctl import __version__
from tests.conftest import ROOT

PINNED = f"flashctl=={__version__}"


def test_docs_ci_installs_the_pinned_flashctl():
    installs = re.findall(r"pip install (\S*flashctl\S*)", (ROOT / "docs" / "ci.md").read_text())
    assert installs and set(installs) == {PINNED}


@pytest.mark.slow
def test_make_dist_builds_what_twine_accepts_and_the_pinned_hook_runs_from_it(run_cli, tmp_path):
    dist = tmp_path / "dist"
    made = subprocess.run(
        ["make", "dist", f"DIST={dist}", f"VENV={sys.prefix}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    built = sorted(p.name for p in dist.iterdir())
    assert built == [f"flashctl-{__version__}-py3-none-any.whl", f"flashctl-{__version__}.tar.gz"]
    assert made.stdout.count("PASSED") == 2, made.stdout

    # What pre-commit does for the scaffold's hook: an environment of its own, the hook's
    # additional_dependencies pip-installed into it (flashctl from the files just built, the
    # rest from the index), then the entry run with that environment's bin/ first on PATH.
    assert run_cli("init", str(tmp_path / "project")).exit_code == 0
    config = YAML(typ="safe").load((tmp_path / "project" / ".pre-commit-config.yaml").read_text())
    (hook,) = config["repos"][0]["hooks"]
    assert hook["additional_dependencies"] == [PINNED]
    hook_env = tmp_path / "hook-env"
    venv.EnvBuilder(with_pip=True).create(hook_env)
    subprocess.run(
        [str(hook_env / "bin" / "python"), "-m", "pip", "install", "-q", "--find-links",
         str(dist), *hook["additional_dependencies"]],
        check=True,
        capture_output=True,
        timeout=600,
    )  # fmt: skip
    bare_path = os.pathsep.join(["/usr/bin", "/bin"])
    assert shutil.which("flashctl", path=bare_path) is None
    path = os.pathsep.join([str(hook_env / "bin"), bare_path])
    entry = shlex.split(hook["entry"])
    ran = subprocess.run(
        [shutil.which(entry[0], path=path) or entry[0], *entry[1:]],
        cwd=tmp_path / "project",
        env={"PATH": path, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "ok (1 endpoint" in ran.stdout
