"""Real images, built with buildah from the rendered contexts, run as their config says and
pushed to a real registry on 127.0.0.1. Skipped, with the reason, where buildah or the base
image is missing (`scripts/container-setup.sh` sets both up; CI runs it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_loaded
from tests.images.conftest import (
    BASE_IMAGE,
    ExampleBuild,
    copy_example,
    flashctl,
    image_config,
    images_of,
    layer_digests,
    run_in_image,
)
from tests.servers import free_port, wait_for_status
from tests.test_container import CALLS, check_calls

pytestmark = pytest.mark.slow


def endpoint_env(file: Path, key: str) -> dict[str, str]:
    """The env RunPod starts the endpoint's workers with (its rendered endpoint.json)."""
    files = render_loaded(load_valid_project(file, variables={}, environment=None))
    return dict(json.loads(files[f"{key}/endpoint.json"])["env"])


def tags_in(registry: str, repository: str) -> list[str]:
    response = httpx.get(f"http://{registry}/v2/{repository}/tags/list", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return list(response.json()["tags"] or [])


@pytest.mark.parametrize("endpoint", ["gpu", "cpu", "users"])
def test_every_example_image_serves_its_routes_as_its_config_says(
    example_build: ExampleBuild, endpoint: str
):
    ref = example_build.images[endpoint]
    config = image_config(ref)["config"]
    assert config["User"] == "1000"
    port = free_port()  # --network host: the service binds this machine's loopback
    env = {
        **endpoint_env(example_build.file, endpoint),
        "PORT": str(port),
        "PORT_HEALTH": str(port),
    }
    container = subprocess.run(
        ["buildah", "from", "--pull-never", ref],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    argv = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
    argv += ["--user", config["User"], "--workingdir", config.get("WorkingDir") or "/app"]
    argv += [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    server = subprocess.Popen(
        [*argv, container, "--", *config["Cmd"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # buildah run and the service it starts: one group to stop
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_status(f"{base}/ping", 200, timeout=90, process=server)
        with httpx.Client(base_url=base, timeout=10) as client:
            check_calls(client, CALLS[endpoint])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            output, _ = server.communicate(timeout=10)
        subprocess.run(["buildah", "rm", container], capture_output=True, timeout=60, check=False)
    assert "Traceback" not in output, output


CACHES = ("/var/cache/apt", "/var/lib/apt/lists", "/root/.cache", "/home/app/.cache", "/tmp")


def test_images_keep_no_package_caches_and_ship_bytecode(example_build: ExampleBuild, buildah):
    """The gpu endpoint installs an apt package (libgomp1) and pip dependencies: neither leaves
    its lists, downloads or caches behind; code and dependencies come with their bytecode."""
    ref = example_build.images["gpu"]
    listing = "find {} -type f -size +0 2>/dev/null; true".format(" ".join(CACHES))
    base = set(run_in_image(BASE_IMAGE, "sh", "-c", listing).split())
    image = set(run_in_image(ref, "sh", "-c", listing).split())
    assert image - base == set()
    compiled = run_in_image(
        ref,
        "sh",
        "-c",
        "ls /app/src/__pycache__ /app/__pycache__;"
        " python -c 'import starlette; print(starlette.__file__)'",
        user="1000",
    )
    assert (
        "gpu_worker.cpython-311.pyc" in compiled and "handler_service.cpython-311.pyc" in compiled
    )
    starlette_dir = Path(compiled.split()[-1]).parent
    assert "__init__.cpython-311.pyc" in run_in_image(ref, "ls", str(starlette_dir / "__pycache__"))
    assert run_in_image(ref, "id", "-u", user="1000").strip() == "1000"
    assert "libgomp.so.1" in run_in_image(ref, "sh", "-c", "ldconfig -p")


def test_a_second_build_with_unchanged_input_builds_nothing(example_build: ExampleBuild):
    done = flashctl("-f", str(example_build.file), "build", cwd=example_build.file.parent)
    assert done.returncode == 0, done.stderr
    assert images_of(done.stdout) == example_build.images
    assert "STEP" not in done.stderr  # the engine never ran a build
    assert done.stderr.count("up to date (not rebuilt)") == 3


def test_a_handler_edit_changes_only_the_last_layer(example_build: ExampleBuild, tmp_path):
    registry = example_build.images["cpu"].split("/", 1)[0]
    file = copy_example(tmp_path, registry)
    handler = tmp_path / "examples" / "seed" / "cpu_worker.py"
    handler.write_text(handler.read_text() + "\n\ndef added():\n    return 1\n")
    done = flashctl("-f", str(file), "build", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    edited = images_of(done.stdout)["cpu"]
    assert edited != example_build.images["cpu"]
    before, after = layer_digests(example_build.images["cpu"]), layer_digests(edited)
    assert len(before) == len(after)
    assert before[:-1] == after[:-1]  # base, user, dependencies: reused as they were
    assert before[-1] != after[-1]  # the code and its bytecode


def test_push_sends_each_tag_once_and_the_registry_lists_it(example_build: ExampleBuild):
    file = example_build.file
    registry = example_build.images["users"].split("/", 1)[0]
    done = flashctl("-f", str(file), "build", "--push", "users", cwd=file.parent)
    assert done.returncode == 0, done.stderr[-4000:]
    ref = images_of(done.stdout)["users"]
    assert ref == example_build.images["users"]
    assert "pushed" in done.stderr and "up to date (not rebuilt)" in done.stderr
    assert ref.rsplit(":", 1)[1] in tags_in(registry, "seed-users")
    again = flashctl("-f", str(file), "build", "--push", "users", cwd=file.parent)
    assert again.returncode == 0, again.stderr
    assert "already in the registry (not built or pushed)" in again.stderr
    assert "Copying blob" not in again.stderr and "Writing manifest" not in again.stderr


def test_a_tag_the_registry_has_is_not_built_on_a_machine_without_it(
    example_build: ExampleBuild, tmp_path
):
    """A second CI runner, with an empty store, after the first one pushed the same input."""
    registry = example_build.images["cpu"].split("/", 1)[0]
    file = copy_example(tmp_path, registry)
    handler = tmp_path / "examples" / "seed" / "users.py"
    handler.write_text(handler.read_text() + "\n# pushed from another runner\n")
    first = flashctl("-f", str(file), "build", "--push", "users", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    ref = images_of(first.stdout)["users"]
    subprocess.run(["buildah", "rmi", ref], capture_output=True, timeout=120, check=True)

    again = flashctl("-f", str(file), "build", "--push", "users", cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert images_of(again.stdout)["users"] == ref
    assert "already in the registry (not built or pushed)" in again.stderr
    assert "STEP" not in again.stderr


def working_containers() -> set[str]:
    listed = subprocess.run(
        ["buildah", "containers", "--quiet"], capture_output=True, text=True, timeout=60, check=True
    )
    return set(listed.stdout.split())


def small_project(folder: Path, registry: str, extra: str) -> Path:
    """A one-endpoint project whose endpoint `bad` has `extra` settings."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text("def hello():\n    return {'hello': 'world'}\n")
    file = folder / "flash.yaml"
    file.write_text(
        "version: 1\nproject: broken\n"
        f"defaults:\n  registry: {registry}\n"
        "endpoints:\n  bad:\n"
        f"{extra}"
        "    compute:\n      cpu: [{flavor: cpu5c, vcpus: 2}]\n"
        "    routes:\n      - {method: GET, path: /hello, handler: 'app:hello'}\n"
    )
    return file


@pytest.mark.parametrize(
    ("extra", "engine_says"),
    [
        (
            "    system_dependencies: [flashctl-no-such-package]\n",
            "E: Unable to locate package flashctl-no-such-package",
        ),
        (
            "    dependencies: ['flashctl-no-such-distribution==0.0.1']\n",
            "No matching distribution found for flashctl-no-such-distribution==0.0.1",
        ),
    ],
    ids=["apt-package", "pip-dependency"],
)
def test_a_failing_build_quotes_the_engine_and_pushes_nothing(
    example_build: ExampleBuild, tmp_path, extra: str, engine_says: str
):
    registry = example_build.images["cpu"].split("/", 1)[0]
    file = small_project(tmp_path, registry, extra)
    containers = working_containers()
    done = flashctl("-f", str(file), "build", "--push", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-4000:]
    assert working_containers() <= containers  # the failed step's container is gone too
    message = done.stderr[done.stderr.index("error: ") :]
    assert "building endpoint 'bad'" in message
    assert engine_says in message
    assert "Traceback" not in done.stderr
    assert tags_in(registry, "broken-bad") == []


def test_an_unreachable_registry_fails_the_push_with_the_engines_error(
    example_build: ExampleBuild, tmp_path, closed_registry: str
):
    file = copy_example(tmp_path, closed_registry)
    done = flashctl("-f", str(file), "build", "--push", "cpu", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-4000:]
    message = done.stderr[done.stderr.index("error: ") :]
    assert f"pushing endpoint 'cpu' ({closed_registry}/seed-cpu:fc-" in message
    assert "connection refused" in message
    assert "Traceback" not in done.stderr
