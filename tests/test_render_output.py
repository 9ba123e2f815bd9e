"""Where `flashctl render` writes: its own `.flashctl/` folder, never a folder it did not write,
never over the project, and always a whole tree (old or new) at the output path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flashctl import files
from flashctl.compiler.pipeline import load_valid_project
from flashctl.errors import FlashError
from flashctl.render.flows import render_to
from flashctl.render.source_copy import read_tree

FLASH_YAML = """\
version: 1
project: p
endpoints:
  api:
    source: {source}
    image: registry.example.com/p/api:1
    compute: {{cpu: [{{flavor: cpu5c, vcpus: 2}}]}}
    routes: [{{method: GET, path: /hello, handler: 'handlers:hello'}}]
"""


def make_project(root: Path, source: str = "app") -> Path:
    """A one-endpoint project in `root` whose code lives in `root/source`."""
    app = root / source
    app.mkdir(parents=True, exist_ok=True)
    (app / "handlers.py").write_text("def hello():\n    return 'hi'\n")
    path = root / "flash.yaml"
    path.write_text(FLASH_YAML.format(source=source))
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".flashctl" not in p.parts
    }


# --- never delete what flashctl did not write ----------------------------------------------


def test_the_default_output_is_dot_flashctl_build_beside_flash_yaml(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 0, result
    manifest = tmp_path / "project" / ".flashctl" / "build" / "manifest.json"
    assert b'"generator": "flashctl"' in manifest.read_bytes()
    assert (tmp_path / "project" / ".flashctl" / "build" / "api" / "src" / "handlers.py").is_file()
    assert not (tmp_path / "project" / "build").exists()  # setuptools' folder stays untouched


def test_a_folder_flashctl_did_not_write_is_not_replaced(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    out = tmp_path / "out"
    (out / "lib").mkdir(parents=True)
    (out / "lib" / "keep").write_text("x")
    result = run_cli("render", "-f", str(path), "-o", str(out))
    assert result.exit_code == 1
    assert "Refusing to replace" in result.stderr and "--force" in result.stderr
    assert "manifest.json" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]  # no staging left
    assert snapshot(out) == {"lib/keep": b"x"}


def test_force_replaces_a_folder_flashctl_did_not_write(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    out = tmp_path / "out"
    (out / "lib").mkdir(parents=True)
    (out / "lib" / "keep").write_text("x")
    assert run_cli("render", "-f", str(path), "-o", str(out), "--force").exit_code == 0
    assert not (out / "lib").exists() and (out / "manifest.json").is_file()


@pytest.mark.parametrize("kind", ["file", "link"])
def test_force_replaces_a_file_or_a_link_at_the_output_path_and_leaves_nothing_behind(
    run_cli, tmp_path, kind
):
    path = make_project(tmp_path / "project")
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("mine")
    else:
        (tmp_path / "elsewhere").mkdir()
        out.symlink_to(tmp_path / "elsewhere")
    result = run_cli("render", "-f", str(path), "-o", str(out))
    assert result.exit_code == 1 and "it is not a folder" in result.stderr
    assert run_cli("render", "-f", str(path), "-o", str(out), "--force").exit_code == 0
    assert not out.is_symlink() and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", "project", *(["elsewhere"] if kind == "link" else [])]
    )


def test_a_folder_flashctl_rendered_and_an_empty_folder_are_replaced(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("render", "-f", str(path), "-o", str(out)).exit_code == 0
    (tmp_path / "project" / "app" / "more.py").write_text("X = 1\n")
    assert run_cli("render", "-f", str(path), "-o", str(out)).exit_code == 0
    assert (out / "api" / "src" / "more.py").read_text() == "X = 1\n"


def test_a_manifest_without_flashctls_marker_does_not_make_a_folder_replaceable(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my own manifest"}\n')
    assert run_cli("render", "-f", str(path), "-o", str(out)).exit_code == 1
    assert snapshot(out) == {"manifest.json": b'{"name": "my own manifest"}\n'}


def test_kubernetes_render_goes_to_its_own_folder_and_refuses_a_foreign_one(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    result = run_cli("render", "-f", str(path), "--target", "kubernetes")
    assert result.exit_code == 0, result
    own = tmp_path / "project" / ".flashctl" / "kubernetes"
    assert (own / "api.yaml").is_file()
    assert run_cli("render", "-f", str(path), "--target", "kubernetes").exit_code == 0
    assert run_cli("render", "-f", str(path), "--target", "kubernetes", "--check").exit_code == 0
    foreign = tmp_path / "manifests"
    foreign.mkdir()
    (foreign / "mine.yaml").write_text("kind: ConfigMap\n")
    result = run_cli("render", "-f", str(path), "--target", "kubernetes", "-o", str(foreign))
    assert result.exit_code == 1 and "--force" in result.stderr
    assert snapshot(foreign) == {"mine.yaml": b"kind: ConfigMap\n"}


def test_write_file_leaves_no_temporary_file_when_it_fails(tmp_path):
    (tmp_path / "taken").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(FlashError, match="Could not write"):
        files.write_file(tmp_path / "taken", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_write_files_writes_nothing_when_one_file_exists(tmp_path):
    (tmp_path / "b.txt").write_text("mine")
    with pytest.raises(FlashError, match=r"Refusing to overwrite b\.txt"):
        files.write_files(tmp_path, {"a.txt": b"a", "b.txt": b"b"}, force=False)
    assert snapshot(tmp_path) == {"b.txt": b"mine"}


# --- output over the project ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "says"),
    [
        (".", "is the project folder"),
        ("app", "is the source of endpoint 'api'"),
        ("app/build", "lies inside the source of endpoint 'api'"),
        ("..", "contains"),
        ("build", "lies inside the project folder"),
        (".flashctl", "flashctl's own folder"),
    ],
)
@pytest.mark.parametrize("target", ["runpod", "kubernetes"])
def test_an_output_over_the_project_or_a_source_is_refused(
    run_cli, tmp_path, monkeypatch, output, says, target
):
    project = tmp_path / "project"
    path = make_project(project)
    (project / "README.md").write_text("mine")
    before = snapshot(tmp_path)
    monkeypatch.chdir(project)
    result = run_cli("render", "-f", str(path), "-o", output, "--target", target, "--force")
    assert result.exit_code == 1
    assert says in result.stderr and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_a_dot_flashctl_link_does_not_widen_what_may_be_written(run_cli, tmp_path, monkeypatch):
    project = tmp_path / "project"
    path = make_project(project)
    (project / ".flashctl").symlink_to("/")
    monkeypatch.chdir(project)
    result = run_cli("render", "-f", str(path), "-o", "app", "--force")
    assert result.exit_code == 1 and "is the source of endpoint 'api'" in result.stderr
    assert snapshot(project / "app") == {"handlers.py": b"def hello():\n    return 'hi'\n"}


def test_the_default_folder_inside_a_source_of_dot_is_allowed_and_never_copied(run_cli, tmp_path):
    path = make_project(tmp_path, source=".")
    for _ in range(2):
        assert run_cli("render", "-f", str(path)).exit_code == 0
    built = read_tree(tmp_path / ".flashctl" / "build")
    assert "api/src/handlers.py" in built and "api/src/flash.yaml" in built
    assert not [p for p in built if "/.flashctl" in p]


# --- leftovers and the swap ----------------------------------------------------------------


WATCHER = """
import os, sys
path, stop = sys.argv[1], sys.argv[2]
misses = looks = 0
while not os.path.exists(stop):
    for _ in range(1000):
        looks += 1
        if not os.path.exists(path):
            misses += 1
print(misses, looks)
"""


def test_the_output_path_holds_a_whole_tree_at_every_instant(tmp_path):
    """Another process looks at the output path without pause while it is rendered again and
    again: it never finds it missing (the swap is one atomic exchange, not two renames)."""
    path = make_project(tmp_path / "project")
    loaded = load_valid_project(path, variables={}, environment=None)
    out = tmp_path / "out"
    render_to(loaded, out)
    stop = tmp_path / "stop"
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(out / "api" / "Dockerfile"), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(8):
            render_to(loaded, out)
    finally:
        stop.touch()
        output, _ = watcher.communicate(timeout=30)
    misses, looks = map(int, output.split())
    assert looks > 1000 and misses == 0
    assert files.staging_folders(out) == []


@pytest.mark.slow
def test_a_killed_render_leaves_nothing_the_next_render_copies_or_keeps(tmp_path):
    """SIGKILL a real `flashctl render` while it writes its staging folder; the next render
    removes that leftover, and the build holds exactly what a clean render holds."""
    project = tmp_path / "project"
    path = make_project(project, source=".")
    for index in range(1500):
        (project / f"module_{index:04}.py").write_text(f"X = {index}\n")
    own = project / ".flashctl"
    command = [sys.executable, "-m", "flashctl", "render", "-f", str(path)]
    killed = 0
    for _attempt in range(5):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            stagings = os.listdir(own) if own.is_dir() else []
            if any((own / s / "api" / "src" / "module_0100.py").exists() for s in stagings):
                os.kill(process.pid, signal.SIGKILL)  # mid-copy: the staging folder is half full
                break
            time.sleep(0.002)
        if process.wait(timeout=60) == -signal.SIGKILL:
            killed += 1
        if killed:
            break
    assert killed, "the render finished each time before it could be killed"
    assert list(own.glob(".build.staging-*"))  # what the killed renders left

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in own.iterdir()) == ["build"]
    built = read_tree(own / "build")
    sources = [p for p in built if p.startswith("api/src/")]
    assert len(sources) == 1500 + 2  # the modules, handlers.py and flash.yaml
    assert not [p for p in built if "staging" in p]
