"""`flashctl rollback` against the emulator over real HTTP: the configuration of an earlier
release is rebuilt from the release diffs, shown as a plan and applied as a new release; unknown
versions, a first release, another project's endpoint and a missing terminal are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.deploy.conftest import Deploy, create_raw, endpoint_yaml

ENV_1 = "    env: {LOG_LEVEL: info, GREETING: hello}\n"
ENV_2 = "    env: {LOG_LEVEL: debug, EXTRA: 'on'}\n"


def _apply(run_cli, deploy: Deploy, path: Path):
    result = run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=deploy.env)
    assert result.exit_code == 0, result
    return result


def _three_releases(run_cli, deploy: Deploy, write_project: Callable[..., Path]) -> Path:
    """shop-api at release 3: v1 acme/app:1 with ENV_1, v2 acme/app:2 with ENV_2, v3 acme/app:3."""
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", image="acme/app:1") + ENV_1))
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", image="acme/app:2") + ENV_2))
    return _apply_path(run_cli, deploy, write_project, "acme/app:3")


def _apply_path(run_cli, deploy, write_project, image: str) -> Path:
    path = write_project(endpoint_yaml("api", image=image) + ENV_2)
    _apply(run_cli, deploy, path)
    return path


def _user_env(deploy: Deploy) -> dict[str, str]:
    env = deploy.by_name("shop-api")["env"]
    return {k: v for k, v in env.items() if k in ("LOG_LEVEL", "GREETING", "EXTRA")}


def test_rollback_restores_the_image_and_env_of_the_previous_release(
    run_cli, deploy, write_project
):
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", image="acme/app:1") + ENV_1))
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", image="acme/app:2") + ENV_1))
    wider = "{min: 0, max: 5}"  # in place: no release of its own
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", "acme/app:2", wider) + ENV_1))
    path = write_project(endpoint_yaml("api", image="acme/app:2", workers=wider) + ENV_2)
    _apply(run_cli, deploy, path)
    endpoint_id = deploy.by_name("shop-api")["id"]
    before = deploy.counts()

    result = run_cli("rollback", "api", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    # The plan, in the plan's own style, before anything is done.
    assert f"~ shop-api ({endpoint_id}): update, workers restart" in result.stderr
    assert "rollback to release 2 (now 3)" in result.stderr
    assert 'env.LOG_LEVEL: "debug" -> "info"' in result.stderr
    assert 'env.GREETING: (none) -> "hello"' in result.stderr
    assert "the next `flashctl apply` would undo the rollback" in result.stderr
    # Release 2 is acme/app:2 with ENV_1 (the env changed in release 3).
    live = deploy.by_name("shop-api")
    assert live["id"] == endpoint_id
    assert live["image"] == "acme/app:2"
    assert _user_env(deploy) == {"LOG_LEVEL": "info", "GREETING": "hello"}
    assert live["env"]["FLASHCTL_PROJECT"] == "shop"
    # The in-place change (workers.max, no release of its own) is kept; one PATCH was sent.
    assert live["workers"]["max"] == 5
    writes = deploy.counts() - before
    assert writes["PATCH /v2/serverless/{id}"] == 1 and deploy.writes(writes) == 1
    releases = deploy.emulator.emulator.state.releases(endpoint_id)
    assert releases["endpointVersion"] == 4
    assert "shop-api: version 4, " in result.stderr  # it followed the rollout (--wait)

    # flash.yaml still describes release 3: the next plan would undo the rollback.
    plan = run_cli("plan", "-f", str(path), env=deploy.env)
    assert 'env.LOG_LEVEL: "info" -> "debug"' in plan.stdout


def test_rollback_to_the_first_release_restores_the_image_and_env(run_cli, deploy, write_project):
    path = _three_releases(run_cli, deploy, write_project)

    result = run_cli("rollback", "shop-api", "--to", "1", "-f", str(path), "-y", env=deploy.env)

    assert result.exit_code == 0, result
    assert "rollback to release 1 (now 3)" in result.stderr
    assert 'image: "acme/app:3" -> "acme/app:1"' in result.stderr
    assert deploy.by_name("shop-api")["image"] == "acme/app:1"
    assert _user_env(deploy) == {"LOG_LEVEL": "info", "GREETING": "hello"}

    # Rolling back again without --to goes to the release before the current one (3).
    again = run_cli("rollback", "api", "-f", str(path), "-y", env=deploy.env)
    assert again.exit_code == 0, again
    assert "rollback to release 3 (now 4)" in again.stderr
    assert deploy.by_name("shop-api")["image"] == "acme/app:3"
    assert _user_env(deploy) == {"LOG_LEVEL": "debug", "EXTRA": "on"}


def test_rollback_to_an_unknown_release_exits_1_and_to_the_current_one_changes_nothing(
    run_cli, deploy, write_project
):
    path = _three_releases(run_cli, deploy, write_project)
    before = deploy.counts()

    unknown = run_cli("rollback", "api", "--to", "9", "-f", str(path), "-y", env=deploy.env)
    current = run_cli("rollback", "api", "--to", "3", "-f", str(path), "-y", env=deploy.env)

    assert unknown.exit_code == 1, unknown
    assert "Endpoint 'shop-api' has no release 9; its releases are v1, v2, v3" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert current.exit_code == 0, current
    assert "already has the configuration of release 3; nothing to roll back" in current.stderr
    assert deploy.writes(deploy.counts() - before) == 0


def test_rollback_of_an_endpoint_with_one_release_exits_1(run_cli, deploy, write_project):
    path = write_project(endpoint_yaml("api"))
    _apply(run_cli, deploy, path)

    result = run_cli("rollback", "api", "-f", str(path), "-y", env=deploy.env)

    assert result.exit_code == 1, result
    assert "has no release before its current one (v1)" in result.stderr


def test_rollback_of_an_endpoint_not_deployed_or_not_in_the_file_exits_with_a_message(
    run_cli, deploy, write_project
):
    path = write_project(endpoint_yaml("api"))

    missing = run_cli("rollback", "api", "-f", str(path), "-y", env=deploy.env)
    unknown = run_cli("rollback", "nope", "-f", str(path), "-y", env=deploy.env)

    assert missing.exit_code == 1 and "'shop-api' is not deployed" in missing.stderr
    assert unknown.exit_code == 2 and "No endpoint 'nope'" in unknown.stderr


def test_rollback_never_touches_another_projects_endpoint(run_cli, deploy, write_project):
    create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "other", "A": "1"})
    before = deploy.counts()

    result = run_cli(
        "rollback", "api", "-f", str(write_project(endpoint_yaml("api"))), "-y", env=deploy.env
    )

    assert result.exit_code == 1, result
    assert "belongs to project 'other', not to 'shop'" in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0


def test_rollback_without_a_terminal_and_without_yes_refuses(run_cli, deploy, write_project):
    path = _three_releases(run_cli, deploy, write_project)
    before = deploy.counts()

    result = run_cli("rollback", "api", "-f", str(path), env=deploy.env)

    assert result.exit_code == 2, result
    assert "pass --yes" in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert deploy.by_name("shop-api")["image"] == "acme/app:3"
