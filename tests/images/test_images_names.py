"""Image names and tags (pure), engine discovery and the errors `flashctl build` gives before
any engine runs. No builds here: see test_images_buildah.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.errors import ImageError
from flashctl.images.engines import Engine, error_lines, find_engine
from flashctl.images.flows import planned_images
from flashctl.images.tags import ImageName, is_loopback, split_tag
from tests.conftest import EXAMPLE
from tests.images.conftest import copy_example


def load(file: Path):
    return load_valid_project(file, variables={}, environment=None)


def test_same_input_gives_the_same_tags_in_any_folder(tmp_path):
    first = planned_images(load(copy_example(tmp_path / "a", "127.0.0.1:5000")))
    second = planned_images(load(copy_example(tmp_path / "elsewhere" / "b", "127.0.0.1:5000")))
    assert first == second
    assert first["cpu"].ref.startswith("127.0.0.1:5000/seed-cpu:fc-")
    assert all(name.derived for name in first.values())
    assert len({name.tag for name in first.values()}) == 3  # each endpoint's own context


def test_a_handler_edit_changes_the_tag_of_the_endpoints_that_ship_it(tmp_path):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    before = planned_images(load(file))
    handler = tmp_path / "examples" / "seed" / "cpu_worker.py"
    handler.write_text(handler.read_text() + "\n# edited\n")
    after = planned_images(load(file))
    # The example ships one source folder to every endpoint, so every tag moves; the registry
    # and repository stay.
    assert all(after[key].tag != before[key].tag for key in before)
    assert all(after[key].repository == before[key].repository for key in before)


def test_platform_is_part_of_the_tag(tmp_path):
    loaded = load(copy_example(tmp_path, "127.0.0.1:5000"))
    amd64 = planned_images(loaded, "linux/amd64")["cpu"]
    arm64 = planned_images(loaded, "linux/arm64")["cpu"]
    assert amd64.tag != arm64.tag


def test_an_explicit_image_is_kept_as_it_is():
    names = planned_images(load_valid_project(EXAMPLE, variables={}, environment=None))
    assert names["cpu"] == ImageName("ghcr.io/acme/seed-cpu:dev", derived=False)


def test_without_registry_or_image_the_name_is_local(tmp_path):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    file.write_text(file.read_text().replace("  registry: 127.0.0.1:5000\n", ""))
    name = planned_images(load(file))["users"]
    assert name.ref.startswith("seed-users:fc-") and name.registry is None


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag"),
    [
        ("127.0.0.1:5000/seed-cpu:fc-1", "127.0.0.1:5000", "seed-cpu", "fc-1"),
        ("ghcr.io/acme/seed-cpu:2", "ghcr.io", "acme/seed-cpu", "2"),
        ("localhost/a/b", "localhost", "a/b", "latest"),
        ("acme/app:1", None, "acme/app", "1"),
    ],
)
def test_image_names_split_into_registry_repository_and_tag(ref, registry, repository, tag):
    name = ImageName(ref, derived=True)
    assert (name.registry, name.repository, name.tag) == (registry, repository, tag)
    assert split_tag(ref)[1] == tag


def test_only_loopback_registries_are_plain_http():
    assert [is_loopback(r) for r in ("127.0.0.1:5000", "localhost:5000", "[::1]:5000")] == [
        True,
        True,
        True,
    ]
    assert not any(is_loopback(r) for r in ("ghcr.io/acme", "10.0.0.1:5000", "localhost.evil.io"))


def test_error_lines_quote_apt_pip_and_engine_errors():
    lines = [
        "STEP 3/9: RUN apt-get install -y nope",
        "Reading package lists...",
        "E: Unable to locate package nope",
        'Error: building at STEP "RUN apt-get ...": exit status 100',
    ]
    assert error_lines(lines) == [lines[2], lines[3]]
    assert error_lines(["step", "it broke", ""]) == ["it broke"]


def test_registry_must_be_a_host_not_a_url(tmp_path, run_cli):
    file = copy_example(tmp_path, "https://ghcr.io/acme")
    result = run_cli("-f", str(file), "validate")
    assert result.exit_code == 1
    assert "registry" in result.stdout and "[schema]" in result.stdout


def test_build_without_any_engine_names_what_was_looked_for(tmp_path, run_cli):
    file = copy_example(tmp_path / "p", "127.0.0.1:5000")
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_cli("-f", str(file), "build", env={"PATH": str(empty)})
    assert result.exit_code == 1, result
    for name in ("docker (not on PATH)", "podman (not on PATH)", "buildah (not on PATH)"):
        assert name in result.stderr
    assert "install one" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_docker_without_daemon_is_passed_over(tmp_path):
    """Like /usr/local/bin/docker on a machine without a daemon: `docker info` fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    path = os.pathsep.join([str(bin_dir)])
    with pytest.raises(ImageError) as raised:
        find_engine("auto", which=lambda name: shutil.which(name, path=path))
    assert f"docker ({docker} does not answer: no daemon, or no buildx)" in str(raised.value)
    buildah = shutil.which("buildah")
    if buildah is not None:  # with buildah installed, auto goes on to it
        (bin_dir / "buildah").symlink_to(buildah)
        engine = find_engine("auto", which=lambda name: shutil.which(name, path=path))
        assert engine == Engine("buildah", str(bin_dir / "buildah"))


def test_push_without_registry_or_image_names_the_endpoints(tmp_path, run_cli):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    file.write_text(file.read_text().replace("  registry: 127.0.0.1:5000\n", ""))
    result = run_cli("-f", str(file), "build", "--push", "cpu", "users")
    assert result.exit_code == 1
    assert "nowhere to push endpoint 'cpu', endpoint 'users'" in result.stderr
    assert "registry:" in result.stderr


def test_an_unknown_endpoint_is_a_usage_error(tmp_path, run_cli):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    result = run_cli("-f", str(file), "build", "nope")
    assert result.exit_code == 2
    assert "no endpoint 'nope'" in result.stderr and "gpu, cpu, users" in result.stderr


def test_an_image_that_would_read_as_an_option_is_refused(tmp_path, run_cli):
    """The build flow refuses such a reference too (`_check_references`); validate sees it
    first."""
    file = copy_example(tmp_path, "127.0.0.1:5000")
    text = file.read_text().replace("  cpu:\n", "  cpu:\n    image: '--rm'\n", 1)
    file.write_text(text)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_cli("-f", str(file), "build", "cpu", env={"PATH": str(empty)})
    assert result.exit_code == 1
    # validate refuses it at its position, before any engine is looked for
    assert 'endpoints.cpu.image: "--rm" does not have the expected form' in result.stderr
    assert "engine" not in result.stderr
