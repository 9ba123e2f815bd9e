"""Fixtures for the image tests: buildah and the base image (skipped with the reason when this
machine lacks them; `scripts/container-setup.sh` installs both), a real registry on 127.0.0.1,
the example project pointed at it, and the example's images, built once per session.

Builds are the expensive part (the machine has 2 cores): the example's three images are built
once, and every other build reuses their cached layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, ROOT
from tests.deploy.conftest import (  # noqa: F401  (fixtures for apply --build, registered by import)
    contract_exemptions,
    deploy,
    fast_retries,
    isolated_environment,
    official,
    start_emulator,
)
from tests.servers import free_port, wait_for_status

BASE_IMAGE = "docker.io/library/python:3.11-slim"
SETUP = "run scripts/container-setup.sh (as root) to install it"


@pytest.fixture(scope="session")
def buildah() -> str:
    """buildah's path, with the base image the rendered Dockerfiles start from in its store."""
    path = shutil.which("buildah")
    if path is None:
        pytest.skip(f"buildah is not installed: {SETUP}")
    found = subprocess.run(
        [path, "inspect", "--type", "image", BASE_IMAGE],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(f"buildah has no {BASE_IMAGE}: {SETUP}")
    return path


@pytest.fixture(scope="session")
def image_hosts() -> Iterator[set[str]]:
    """Registry hosts the session names images under; those images are untagged at the end
    (their layers stay cached for the next run)."""
    hosts: set[str] = set()
    yield hosts
    if not hosts or shutil.which("buildah") is None:
        return
    listed = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ours = [ref for ref in listed.stdout.split() if ref.split("/", 1)[0] in hosts]
    if ours:
        subprocess.run(["buildah", "rmi", *ours], capture_output=True, timeout=120, check=False)


@pytest.fixture
def closed_registry(image_hosts: set[str]) -> str:
    """A loopback host:port nothing listens on."""
    host = f"127.0.0.1:{free_port()}"
    image_hosts.add(host)
    return host


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, image_hosts: set[str]) -> Iterator[str]:
    """A real registry (docker-registry) on a free loopback port, storage in a temp folder;
    stopped by its PID at the end of the session. Yields its host:port."""
    executable = shutil.which("docker-registry")
    if executable is None:
        pytest.skip(f"docker-registry is not installed: {SETUP}")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with open(root / "registry.log", "w") as log:
        process = subprocess.Popen(
            [executable, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_status(f"http://127.0.0.1:{port}/v2/", 200, timeout=30)
        image_hosts.add(f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def example_without_images(registry: str) -> str:
    """flash.yaml.example with its `image:` lines dropped and `registry:` pointing at
    `registry`: flashctl names and tags each image."""
    lines = []
    for line in EXAMPLE.read_text().splitlines(keepends=True):
        if line.startswith("    image: "):
            continue
        if line.startswith("  registry: "):
            line = f"  registry: {registry}\n"
        lines.append(line)
    return "".join(lines)


def copy_example(target: Path, registry: str) -> Path:
    """The example project (flash.yaml + its handlers) in `target`; its flash.yaml's path."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "seed", target / "examples" / "seed")
    file = target / "flash.yaml"
    file.write_text(example_without_images(registry))
    return file


def flashctl(*args: str, cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """`flashctl ARGS` as a real process (the engine's output on its stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "flashctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def images_of(stdout: str) -> dict[str, str]:
    """`endpoint: image` lines of `flashctl build` -> {endpoint: image}."""
    pairs = (line.split(": ", 1) for line in stdout.splitlines() if ": " in line)
    return {key: ref for key, ref in pairs}


@dataclass(frozen=True)
class ExampleBuild:
    file: Path
    images: dict[str, str]  # endpoint -> image built
    stderr: str


@pytest.fixture(scope="session")
def example_build(
    buildah: str, registry: str, tmp_path_factory: pytest.TempPathFactory
) -> ExampleBuild:
    """Every endpoint of the example, built once per session with buildah."""
    file = copy_example(tmp_path_factory.mktemp("example"), registry)
    done = flashctl("-f", str(file), "build", "--engine", "buildah", cwd=file.parent)
    assert done.returncode == 0, done.stderr[-4000:]
    return ExampleBuild(file, images_of(done.stdout), done.stderr)


def image_config(ref: str) -> dict:
    """The OCI image config buildah has for `ref` (config, rootfs.diff_ids)."""
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)["OCIv1"]


def layer_digests(ref: str) -> list[str]:
    return list(image_config(ref)["rootfs"]["diff_ids"])


def run_in_image(ref: str, *command: str, user: str = "0") -> str:
    """Run `command` in a fresh container of `ref` (no network) and return its output."""
    container = subprocess.run(
        ["buildah", "from", "--pull-never", ref],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    try:
        done = subprocess.run(
            ["buildah", "run", "--isolation", "chroot", "--user", user, container, "--", *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, timeout=60, check=False)
    return done.stdout
