"""The built wheel works as users install it: package data (schema, templates, runtime) included."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_validates_the_example(tmp_path: Path):
    # Built as users and CI build it: pip in an isolated build environment that installs the
    # build backend named in pyproject.toml itself (no `wheel` needed in the test's venv).
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    wheel = next(wheels.glob("flashctl-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # flashctl itself comes from the wheel, installed by the fresh venv's pip (console script
    # included); its dependencies from this test run's environment through a plain path entry
    # (not that environment's .pth files, so the editable install of flashctl stays invisible).
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import flashctl, flashctl_runtime, importlib.resources as r, json; print(json.dumps({"
            "'flashctl': flashctl.__file__, 'runtime': flashctl_runtime.__file__,"
            "'templates': sorted(p.name for p in r.files('flashctl.templates').iterdir()),"
            "'schema': r.files('flashctl.schemas').joinpath('flash.schema.json').is_file()}))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
    )
    found = json.loads(probe.stdout)
    assert found["flashctl"].startswith(str(target)), found
    assert found["runtime"].startswith(str(target)), found
    assert found["schema"] is True
    assert "Dockerfile.j2" in found["templates"]
    result = subprocess.run(
        [str(env_dir / "bin" / "flashctl"), "validate", "-f", str(ROOT / "flash.yaml.example")],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok (3 endpoints" in result.stdout


def test_every_flashctl_subpackage_is_listed_in_setup_cfg():
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "flashctl").rglob("__init__.py")
    }
    assert sorted(found - listed) == [], "add these to [options] packages in setup.cfg"
