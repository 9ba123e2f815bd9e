"""`plan --build` and `apply --build` against the emulator: the images deployed are the ones
`flashctl build` names (and, for apply, has pushed to a real registry on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from tests.deploy.conftest import Deploy
from tests.images.conftest import ExampleBuild, copy_example
from tests.images.test_images_buildah import tags_in


def test_plan_build_shows_the_images_without_building_or_pushing(
    run_cli,
    deploy: Deploy,
    tmp_path,
):
    file = copy_example(tmp_path / "p", "127.0.0.1:5000")
    no_engines = tmp_path / "bin"
    no_engines.mkdir()
    env = {**deploy.env, "PATH": str(no_engines)}  # nothing could build if it tried
    names = run_cli("-f", str(file), "plan", "--build", "--format", "json", env=env)
    assert names.exit_code == 0, names
    plan = json.loads(names.stdout)
    assert [e["action"] for e in plan["endpoints"]] == ["create"] * 3
    for key in ("gpu", "cpu", "users"):
        assert f"{key}: would deploy 127.0.0.1:5000/seed-{key}:fc-" in names.stderr
    assert deploy.writes(deploy.counts()) == 0


def test_plan_without_build_still_needs_an_image(run_cli, deploy: Deploy, tmp_path):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    result = run_cli("-f", str(file), "plan", env=deploy.env)
    assert result.exit_code == 1
    assert "endpoint 'cpu' has no image" in result.stderr


def test_plan_build_cannot_be_saved(run_cli, tmp_path):
    file = copy_example(tmp_path, "127.0.0.1:5000")
    result = run_cli("-f", str(file), "plan", "--build", "--out", str(tmp_path / "plan.json"))
    assert result.exit_code == 2
    assert "apply --build" in result.stderr
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.slow
def test_apply_build_pushes_then_deploys_the_digest_tagged_images(
    run_cli,
    deploy: Deploy,
    example_build: ExampleBuild,
):
    file = example_build.file
    registry = example_build.images["cpu"].split("/", 1)[0]
    planned = run_cli("-f", str(file), "plan", "--build", "--format", "json", env=deploy.env)
    assert planned.exit_code == 0, planned

    result = run_cli("-f", str(file), "apply", "--build", "--yes", "--no-wait", env=deploy.env)

    assert result.exit_code == 0, result
    for key, ref in example_build.images.items():
        assert deploy.by_name(f"seed-{key}")["image"] == ref
        assert ref.rsplit(":", 1)[1] in tags_in(registry, f"seed-{key}")
        assert ref in planned.stdout  # plan --build showed the image apply deployed
    before = deploy.counts()
    again = run_cli("-f", str(file), "apply", "--build", "--yes", env=deploy.env)
    assert again.exit_code == 0, again
    assert again.stderr.count("already in the registry (not built or pushed)") == 3
    assert deploy.writes(deploy.counts() - before) == 0


@pytest.mark.slow
def test_apply_build_with_an_unreachable_registry_deploys_nothing(
    run_cli,
    deploy: Deploy,
    example_build: ExampleBuild,
    tmp_path,
    closed_registry: str,
):
    file = copy_example(tmp_path, closed_registry)
    result = run_cli("-f", str(file), "apply", "--build", "--yes", env=deploy.env)
    assert result.exit_code == 1
    assert f"pushing endpoint 'gpu' ({closed_registry}/seed-gpu:fc-" in result.stderr
    assert "connection refused" in result.stderr
    assert deploy.writes(deploy.counts()) == 0
    assert deploy.names() == []


@pytest.mark.slow
def test_apply_build_with_a_private_credential_deploys_the_image_with_it(
    run_cli,
    deploy: Deploy,
    example_build: ExampleBuild,
    tmp_path,
):
    registry = example_build.images["cpu"].split("/", 1)[0]
    file = copy_example(tmp_path, registry)
    private = (
        "    registry_auth: {name: acme-ghcr, username_env: GHCR_USER, password_env: GHCR_TOKEN}\n"
    )
    text = "".join(
        private if line.startswith("    registry_auth: null") else line
        for line in file.read_text().splitlines(keepends=True)
    )
    file.write_text(text)
    env = {**deploy.env, "GHCR_USER": "acme-bot", "GHCR_TOKEN": "pw-CANARY-3c5e7a9b"}

    result = run_cli("-f", str(file), "apply", "--build", "--yes", "--no-wait", env=env)

    assert result.exit_code == 0, result
    (credential,) = deploy.emulator.emulator.state.registries()
    gpu = deploy.by_name("seed-gpu")
    assert gpu["registry"] == credential["id"]
    assert gpu["image"].startswith(f"{registry}/seed-gpu:fc-")
    assert gpu["image"].rsplit(":", 1)[1] in tags_in(registry, "seed-gpu")
    assert "registry" not in deploy.by_name("seed-cpu")
    assert "pw-CANARY-3c5e7a9b" not in result.stdout + result.stderr
