"""`flashctl emulator --run-workers` running an endpoint's deployed image with buildah: the
worker is the image as its config says, stopped with its container removed, and nothing of it
outlives the emulator, also after `kill -9`. Skipped, with the reason, where buildah or the base
image is missing (`scripts/container-setup.sh` sets both up; CI runs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.emulator import containers
from flashctl.emulator.server import BackgroundEmulator
from flashctl.emulator.workers import WorkerOptions
from flashctl.images.engines import Engine
from tests.conftest import EXAMPLE, ROOT
from tests.deploy.conftest import CANARY_KEY, Deploy
from tests.deploy.test_emulator_workers import (
    AUTH,
    alive,
    port_range,
    processes,
    start_cli_emulator,
    wait_until,
)
from tests.images.conftest import ExampleBuild

pytestmark = pytest.mark.slow


def example_with_images(target: Path, images: dict[str, str]) -> Path:
    """The example project whose endpoints deploy the images `example_build` built."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "seed", target / "examples" / "seed")
    lines = []
    for line in EXAMPLE.read_text().splitlines(keepends=True):
        for key, ref in images.items():
            if line.startswith(f"    image: ghcr.io/acme/seed-{key}:"):
                line = f"    image: {ref}\n"
        lines.append(line)
    file = target / "flash.yaml"
    file.write_text("".join(lines))
    return file


def working_containers() -> set[str]:
    listed = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(listed.stdout.split())


def descendants(pid: int) -> set[int]:
    """Every running process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and alive(child):
                found.add(child)
                todo.append(child)
    return found


def command_line(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def image_worker(url: str) -> dict[str, Any]:
    workers = requests.get(f"{url}/_emulator/workers", timeout=5).json()["workers"]
    ready = [w for w in workers if w["status"] == "READY"]
    return ready[0] if len(ready) == 1 else {}


def test_a_worker_runs_from_the_deployed_image_and_its_container_goes_with_it(
    run_cli,
    start_emulator: Callable[..., BackgroundEmulator],
    example_build: ExampleBuild,
    tmp_path,
):
    file = example_with_images(tmp_path / "project", example_build.images)
    options = WorkerOptions(
        contexts=tmp_path / "no-render",  # nothing rendered: a worker can only be the image
        ports=port_range(),
        wait_seconds=90.0,
        stop_seconds=10.0,  # --workers-from auto: the image, since buildah has it
    )
    emulator = start_emulator(workers=options)
    deploy = Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})
    assert run_cli("apply", "-f", str(file), "--yes", env=deploy.env).exit_code == 0
    assert deploy.by_name("seed-cpu")["image"] == example_build.images["cpu"]

    data = '{"text": "ab", "operation": "reverse"}'
    invoke = ("invoke", "-f", str(file), "cpu", "POST", "/transform", "--data", data)
    result = run_cli(*invoke, env=deploy.env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.strip() == '"ba"'

    worker = wait_until(lambda: image_worker(deploy.url), 30, "the worker is ready")
    assert worker["source"] == "image"
    container = worker["container"]
    assert container.startswith(f"{containers.PREFIX}{os.getpid()}-")
    assert container in working_containers()
    below = descendants(worker["pid"])
    runs = [command_line(pid) for pid in below]
    assert any(argv[1:3] == ["run", "--isolation"] and container in argv for argv in runs), runs
    port = worker["port"]
    listening = requests.get(f"http://127.0.0.1:{port}/ping", timeout=5)
    assert listening.status_code == 200, "the service listens on the worker's port"

    assert run_cli("destroy", "-f", str(file), "--yes", env=deploy.env).exit_code == 0
    wait_until(lambda: not processes(deploy), 30, "destroy stops the worker")
    assert container not in working_containers(), "removed before the supervisor exits"
    assert not any(alive(pid) for pid in [worker["pid"], *below])


@pytest.fixture
def leftover(buildah: str) -> Iterator[Callable[[str], str]]:
    """Working containers of the base image, named as an emulator names them; removed at the
    end if still there."""
    made: list[str] = []

    def make(owner: str) -> str:
        name = f"{containers.PREFIX}{owner}-leftover{len(made)}"
        subprocess.run(
            [buildah, "from", "--pull-never", "--quiet", "--name", name, BASE_IMAGE],
            capture_output=True,
            timeout=120,
            check=True,
        )
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run([buildah, "rm", name], capture_output=True, timeout=60, check=False)


BASE_IMAGE = "docker.io/library/python:3.11-slim"


def running_image_worker(
    run_cli: Callable[..., Any], images: dict[str, str], folder: Path
) -> tuple[subprocess.Popen[bytes], dict[str, Any], set[int]]:
    """A `flashctl emulator` process with the example applied and the cpu endpoint's image
    worker ready: the process, the worker, and the worker's process tree."""
    file = example_with_images(folder / "project", images)
    process, url = start_cli_emulator(
        "--workers-from", "image", "--contexts", str(folder), seconds=30
    )
    env = {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": url}
    assert run_cli("apply", "-f", str(file), "--yes", env=env).exit_code == 0
    endpoints = requests.get(f"{url}/v2/serverless", headers=AUTH, timeout=5).json()
    (cpu,) = [e for e in endpoints["endpoints"] if e["name"] == "seed-cpu"]
    requests.get(cpu["requestUrls"]["base"] + "/ping", headers=AUTH, timeout=5)
    worker = wait_until(lambda: image_worker(url), 60, "the image worker is ready")
    assert worker["source"] == "image"
    tree = {worker["pid"], *descendants(worker["pid"])}
    assert len(tree) >= 3, "the supervisor, buildah run and the service"
    return process, worker, tree


def test_an_emulator_stopped_with_sigterm_stops_its_image_workers_and_their_containers(
    run_cli, example_build: ExampleBuild, tmp_path, cli_emulators
):
    process, worker, tree = running_image_worker(run_cli, example_build.images, tmp_path)
    cli_emulators.append(process)
    process.terminate()
    assert process.wait(30) == 0
    assert not any(alive(pid) for pid in tree), "stopped before the emulator exits"
    assert worker["container"] not in working_containers()


def test_nothing_of_an_image_worker_outlives_a_killed_emulator_and_the_next_one_cleans_up(
    run_cli, example_build: ExampleBuild, tmp_path, cli_emulators, leftover
):
    process, worker, tree = running_image_worker(run_cli, example_build.images, tmp_path)
    cli_emulators.append(process)
    emulator_owner = f"{process.pid}-{containers._start_time(process.pid)}"
    assert worker["container"].startswith(f"{containers.PREFIX}{emulator_owner}-")

    os.kill(process.pid, signal.SIGKILL)
    process.wait(20)
    wait_until(lambda: not any(alive(pid) for pid in tree), 30, "every process ends")
    wait_until(lambda: worker["container"] not in working_containers(), 30, "the container goes")

    # A harder end (the supervisors killed too) leaves containers named after the dead
    # emulator: the next emulator removes those, and keeps those of an emulator that runs.
    dead = leftover(emulator_owner)
    living = leftover(containers.owner())
    again, _url = start_cli_emulator("--contexts", str(tmp_path), seconds=30)
    cli_emulators.append(again)
    wait_until(lambda: dead not in working_containers(), 60, "the next start removes it")
    assert living in working_containers()


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_docker_and_podman_run_the_image_on_the_host_network_and_remove_it(engine: str):
    image = containers.Image(
        Engine(engine, f"/usr/bin/{engine}"),
        "registry.local/seed-cpu:fc-1",
        ("python", "-m", "flashctl_runtime.serve", "handler_service:app"),
        "1000",
        "/app",
    )
    spec = containers.supervisor_spec(image, "flashctl-emulator-1-2-w", ["PORT", "HF_TOKEN"], 8)
    run = spec["run"]
    name = "flashctl-emulator-1-2-w"
    assert run[:7] == [f"/usr/bin/{engine}", "run", "--rm", "--name", name, "--network", "host"]
    assert run[run.index("HF_TOKEN") - 1 : run.index("HF_TOKEN") + 1] == ["-e", "HF_TOKEN"]
    values = [arg for arg in run if "=" in arg and not arg.startswith("--")]
    assert not values, "values come from the env, not the command line"
    tail = run[run.index("--entrypoint") :]
    assert tail == [
        *("--entrypoint", "python", "registry.local/seed-cpu:fc-1", "-m"),
        *("flashctl_runtime.serve", "handler_service:app", "--host", "127.0.0.1"),
    ]
    assert spec["remove"] == [f"/usr/bin/{engine}", "rm", "-f", "flashctl-emulator-1-2-w"]
