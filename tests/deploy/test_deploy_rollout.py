"""Rollout-aware `apply --wait` against the emulator over real HTTP: a change that makes a new
release is followed through `/releases` and `/workers` until every worker runs it; one that
never finishes times out naming what is stuck; an in-place change waits for nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from flashctl.emulator.server import BackgroundEmulator
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml

WORKERS = "{min: 2, max: 3}"


def _deploy(start_emulator: Callable[..., BackgroundEmulator], **options: object) -> Deploy:
    emulator = start_emulator(retry_after=0, **options)
    return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})


def _apply(run_cli, deploy: Deploy, path, timeout: str = "20"):
    return run_cli("apply", "-f", str(path), "--yes", "--wait-timeout", timeout, env=deploy.env)


def test_apply_follows_a_rollout_over_several_polls(run_cli, start_emulator, write_project):
    deploy = _deploy(start_emulator, worker_ready_delay=0.05, rollout_interval=0.4)
    created = _apply(run_cli, deploy, write_project(endpoint_yaml("api", workers=WORKERS)))
    assert created.exit_code == 0, created
    assert "shop-api: version 1, 2/2 workers on latest, 0 stale, 2 of 2 ready" in created.stderr
    before = deploy.counts()

    changed = write_project(endpoint_yaml("api", image="acme/app:2", workers=WORKERS))
    result = _apply(run_cli, deploy, changed)

    assert result.exit_code == 0, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("shop-api: version")]
    # It saw stale workers (the first poll comes well before the second replacement) ...
    assert lines[0].startswith("shop-api: version 2, ") and ", 0 stale," not in lines[0]
    # ... and followed them until the last was replaced and the new ones were ready.
    assert lines[-1] == "shop-api: version 2, 2/2 workers on latest, 0 stale, 2 of 2 ready"
    polls = deploy.counts() - before
    assert polls["GET /v2/serverless/{id}/releases"] >= 2
    assert polls["GET /v2/serverless/{id}/releases"] == polls["GET /v2/serverless/{id}/workers"]
    workers = deploy.emulator.emulator.state.workers(deploy.by_name("shop-api")["id"])
    assert [w["version"] for w in workers["workers"]] == [2, 2]


def test_a_rollout_that_never_finishes_times_out_naming_the_stale_workers(
    run_cli, start_emulator, write_project
):
    deploy = _deploy(start_emulator, worker_ready_delay=0.0, rollout_interval=3600)
    one = "{min: 1, max: 3}"
    assert _apply(run_cli, deploy, write_project(endpoint_yaml("api", workers=one))).exit_code == 0
    endpoint_id = deploy.by_name("shop-api")["id"]
    (old,) = deploy.emulator.emulator.state.workers(endpoint_id)["workers"]

    changed = write_project(endpoint_yaml("api", image="acme/app:2", workers=one))
    result = _apply(run_cli, deploy, changed, timeout="0.5")

    assert result.exit_code == 1, result
    assert "Timed out after 0.5 s waiting for the rollout of 1 endpoint(s):" in result.stderr
    # The old worker is IDLE, but stale: it never counts as ready.
    assert (
        f"  shop-api: version 2, 0/1 workers on latest, 1 stale, 0 of 1 ready; stale: {old['id']}"
        in result.stderr
    )
    assert "The changes were applied" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_in_place_change_waits_for_nothing(run_cli, start_emulator, write_project):
    deploy = _deploy(start_emulator, worker_ready_delay=0.0, rollout_interval=0.0)
    assert (
        _apply(run_cli, deploy, write_project(endpoint_yaml("api", workers=WORKERS))).exit_code == 0
    )
    before = deploy.counts()

    result = _apply(
        run_cli, deploy, write_project(endpoint_yaml("api", workers="{min: 2, max: 5}"))
    )

    assert result.exit_code == 0, result
    assert deploy.counts() - before == {"GET /v2/serverless": 1, "PATCH /v2/serverless/{id}": 1}
    assert "waiting" not in result.stderr


def test_status_releases_shows_one_line_per_release(run_cli, start_emulator, write_project):
    deploy = _deploy(start_emulator, worker_ready_delay=0.0, rollout_interval=0.0)
    _apply(run_cli, deploy, write_project(endpoint_yaml("api")))
    _apply(run_cli, deploy, write_project(endpoint_yaml("api", workers="{min: 0, max: 5}")))
    path = write_project(endpoint_yaml("api", image="acme/app:2", workers="{min: 0, max: 5}"))
    assert _apply(run_cli, deploy, path).exit_code == 0
    endpoint_id = deploy.by_name("shop-api")["id"]

    text = run_cli("status", "-f", str(path), "--releases", env=deploy.env)
    data = json.loads(
        run_cli("status", "-f", str(path), "--releases", "--format", "json", env=deploy.env).stdout
    )

    assert text.exit_code == 0, text
    history = text.stdout.split("\n\n", 1)[1].splitlines()
    assert history[0] == f"shop-api ({endpoint_id}): version 2, rollout done"
    assert re.fullmatch(r"  v2   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  image", history[1]), history
    assert re.fullmatch(r"  v1   \S+  created", history[2]), history
    assert len(history) == 3  # the in-place change (workers.max) made no release
    newest = data["endpoints"][0]["releases"]["releases"][0]
    assert (newest["version"], newest["fields"], newest["created"]) == (2, ["image"], False)


def test_status_releases_needs_the_runpod_target(run_cli, write_project):
    result = run_cli(
        "status",
        "-f",
        str(write_project(endpoint_yaml("api"))),
        "--releases",
        "--target",
        "kubernetes",
    )

    assert result.exit_code == 2, result
    assert "--releases reads RunPod's release history" in result.stderr
