"""`flashctl plan` and `flashctl apply` against the emulator over real HTTP, through the CLI."""

from __future__ import annotations

import json

import pytest

from flashctl.deploy import confirm
from tests.conftest import EXAMPLE
from tests.deploy.conftest import Deploy, endpoint_yaml


def test_apply_creates_the_example_and_prints_each_url(run_cli, deploy: Deploy):
    result = run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.names() == ["seed-cpu", "seed-gpu", "seed-users"]
    for name in deploy.names():
        url = deploy.by_name(name)["requestUrls"]["base"]
        assert f"{name} {url}" in result.stdout.splitlines()
    gpu = deploy.by_name("seed-gpu")
    assert gpu["image"] == "ghcr.io/acme/seed-gpu:dev"  # ${GIT_SHA:-dev}
    assert gpu["env"]["FLASHCTL_PROJECT"] == "seed"
    assert "seed-gpu: created" in result.stderr


def test_a_second_apply_makes_one_list_call_and_no_writes(run_cli, deploy: Deploy):
    assert run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env).exit_code == 0
    before = deploy.counts()

    again = run_cli("apply", "-f", str(EXAMPLE), env=deploy.env)  # no --yes: nothing to ask

    assert again.exit_code == 0, again
    assert deploy.counts() - before == {"GET /v2/serverless": 1}
    assert "No changes" in again.stderr
    assert len(again.stdout.splitlines()) == 3  # the URLs, still


def test_a_fresh_create_plans_as_no_change(run_cli, deploy: Deploy):
    run_cli("apply", "-f", str(EXAMPLE), "--yes", env=deploy.env)

    plan = run_cli("plan", "-f", str(EXAMPLE), "--format", "json", env=deploy.env)

    data = json.loads(plan.stdout)
    assert [e["action"] for e in data["endpoints"]] == ["no change"] * 3
    assert data["changes_pending"] is False


def test_changed_scaling_is_an_update_in_place(run_cli, deploy: Deploy, write_project):
    run_cli("apply", "-f", str(write_project(endpoint_yaml("api"))), "--yes", env=deploy.env)
    created = deploy.by_name("shop-api")
    path = write_project(endpoint_yaml("api", workers="{min: 0, max: 7}"))

    plan = run_cli("plan", "-f", str(path), env=deploy.env)
    assert "~ shop-api" in plan.stdout and ": update in place" in plan.stdout, plan
    assert "workers.max: 3 -> 7" in plan.stdout
    before = deploy.counts()
    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0

    assert deploy.counts() - before == {"GET /v2/serverless": 1, "PATCH /v2/serverless/{id}": 1}
    patch = deploy.emulator.emulator.log.snapshot()["requests"][-1]["request_body"]
    assert patch == {"workers": {"min": 0, "max": 7, "idleTimeout": 60}}
    assert deploy.by_name("shop-api")["id"] == created["id"]


def test_changed_image_is_an_update_that_restarts_workers(run_cli, deploy: Deploy, write_project):
    run_cli("apply", "-f", str(write_project(endpoint_yaml("api"))), "--yes", env=deploy.env)
    path = write_project(endpoint_yaml("api", image="acme/app:2"))

    plan = run_cli("plan", "-f", str(path), "--format", "json", env=deploy.env)
    (entry,) = json.loads(plan.stdout)["endpoints"]
    assert entry["action"] == "update, workers restart"
    assert entry["changes"] == [{"path": "image", "before": "acme/app:1", "after": "acme/app:2"}]
    assert entry["patch"] == {"image": "acme/app:2"}

    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0
    assert deploy.by_name("shop-api")["image"] == "acme/app:2"


def test_apply_waits_for_min_workers_to_be_ready(run_cli, deploy: Deploy, write_project):
    path = write_project(endpoint_yaml("api", workers="{min: 1, max: 3}"))

    result = run_cli("apply", "-f", str(path), "--yes", "--wait-timeout", "20", env=deploy.env)

    assert result.exit_code == 0, result
    assert "shop-api: version 1, 1/1 workers on latest, 0 stale, 1 of 1 ready" in result.stderr
    assert deploy.counts()["GET /v2/serverless/{id}/workers"] >= 1


def test_wait_timeout_is_a_clear_failure(run_cli, deploy: Deploy, write_project):
    deploy.emulator.emulator.state.worker_ready_delay = 60
    path = write_project(endpoint_yaml("api", workers="{min: 1, max: 3}"))

    result = run_cli("apply", "-f", str(path), "--yes", "--wait-timeout", "0.5", env=deploy.env)

    assert result.exit_code == 1, result
    assert "Timed out after 0.5 s waiting for the rollout of 1 endpoint(s):" in result.stderr
    assert "shop-api: version 1, 1/1 workers on latest, 0 stale, 0 of 1 ready; not ready: " in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_endpoint_that_left_the_file_is_kept_unless_pruned(
    run_cli, deploy: Deploy, write_project
):
    both = write_project(endpoint_yaml("api"), endpoint_yaml("old"))
    run_cli("apply", "-f", str(both), "--yes", env=deploy.env)
    one = write_project(endpoint_yaml("api"))

    kept = run_cli("apply", "-f", str(one), "--yes", env=deploy.env)
    assert kept.exit_code == 0, kept
    assert "Kept: shop-old left the file; `apply --prune` deletes it." in kept.stderr
    assert deploy.names() == ["shop-api", "shop-old"]

    pruned = run_cli("apply", "-f", str(one), "--yes", "--prune", env=deploy.env)
    assert pruned.exit_code == 0, pruned
    assert "- shop-old" in pruned.stderr
    assert deploy.names() == ["shop-api"]


def test_prune_leaves_other_environments_alone(run_cli, deploy: Deploy, write_project):
    prod = "environments:\n  prod: {}\n"
    path = write_project(endpoint_yaml("api"), extra=prod)
    run_cli("-e", "prod", "apply", "-f", str(path), "--yes", env=deploy.env)
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    plan = run_cli("plan", "-f", str(path), "--prune", "--format", "json", env=deploy.env)

    assert [e["action"] for e in json.loads(plan.stdout)["endpoints"]] == ["no change"]
    assert deploy.names() == ["shop-api", "shop-api-prod"]


def test_a_saved_plan_is_applied_when_runpod_has_not_changed(
    run_cli, deploy: Deploy, write_project, tmp_path
):
    path = write_project(endpoint_yaml("api"))
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env).exit_code == 0

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.names() == ["shop-api"]


def test_a_stale_saved_plan_is_refused(run_cli, deploy: Deploy, write_project, tmp_path):
    run_cli("apply", "-f", str(write_project(endpoint_yaml("api"))), "--yes", env=deploy.env)
    path = write_project(endpoint_yaml("api", image="acme/app:2"))
    saved = tmp_path / "plan.json"
    run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env)
    recorded = json.loads(saved.read_text())["endpoints"][0]["remote_fingerprint"]
    assert recorded.startswith("sha256:")
    # Someone changes the endpoint between plan and apply.
    scaled = write_project(endpoint_yaml("api", workers="{min: 0, max: 9}"))
    run_cli("apply", "-f", str(scaled), "--yes", env=deploy.env)
    before = deploy.counts()

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert "The saved plan" in result.stderr and "is stale" in result.stderr
    assert "shop-api" in result.stderr and "has changed since" in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert deploy.by_name("shop-api")["image"] == "acme/app:1"


def test_detailed_exitcode_is_0_without_changes_2_with_changes_1_on_error(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(endpoint_yaml("api"))
    pending = run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env)
    assert pending.exit_code == 2, pending
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
    assert run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env).exit_code == 0
    wrong_key = {**deploy.env, "RUNPOD_API_KEY": "rpa_wrong"}
    assert run_cli("plan", "-f", str(path), "--detailed-exitcode", env=wrong_key).exit_code == 1


def test_json_plan_parses_and_has_the_documented_fields(run_cli, deploy: Deploy):
    result = run_cli("plan", "-f", str(EXAMPLE), "--format", "json", env=deploy.env)

    data = json.loads(result.stdout)
    assert set(data) == {
        "format",
        "project",
        "environment",
        "api_url",
        "prune",
        "changes_pending",
        "summary",
        "endpoints",
        "kept",
        "warnings",
        "registries",
    }
    assert data["summary"]["create"] == 3 and data["changes_pending"] is True
    assert data["api_url"] == deploy.url
    gpu = data["endpoints"][0]
    assert gpu["name"] == "seed-gpu" and gpu["action"] == "create"
    assert gpu["remote_fingerprint"] is None and gpu["body"]["image"] == "ghcr.io/acme/seed-gpu:dev"


def test_without_a_terminal_or_yes_apply_refuses_and_changes_nothing(
    run_cli, deploy: Deploy, write_project
):
    result = run_cli("apply", "-f", str(write_project(endpoint_yaml("api"))), env=deploy.env)

    assert result.exit_code == 2, result
    assert "stdin is not a terminal; pass --yes" in result.stderr
    assert deploy.names() == []


@pytest.mark.parametrize(("answer", "code", "names"), [("y\n", 0, ["shop-api"]), ("n\n", 1, [])])
def test_on_a_terminal_apply_asks_first(
    run_cli, deploy: Deploy, write_project, monkeypatch, answer, code, names
):
    monkeypatch.setattr(confirm, "stdin_is_tty", lambda: True)
    path = write_project(endpoint_yaml("api"))

    result = run_cli("apply", "-f", str(path), input=answer, env=deploy.env)

    assert result.exit_code == code, result
    assert "Apply these changes? [y/N]" in result.stderr
    assert deploy.names() == names


def test_a_missing_image_names_the_endpoint_and_the_key(run_cli, deploy: Deploy, write_project):
    block = endpoint_yaml("api").replace("    image: acme/app:1\n", "")
    path = write_project(block)

    result = run_cli("plan", "-f", str(path), env=deploy.env)

    assert result.exit_code == 1, result
    assert "endpoint 'api' has no image: set `endpoints.api.image`" in result.stderr
    assert "Traceback" not in result.stderr


def test_gpu_selection_changes_converge(run_cli, deploy: Deploy, write_project):
    def gpu(selection: str) -> str:
        cpu = "cpu: [{flavor: cpu5c, vcpus: 2}]"
        return endpoint_yaml("api").replace(cpu, f"gpu: {selection}")

    first = gpu('{pools: [AMPERE_80], exclude: ["NVIDIA A100-SXM4-80GB"], min_cuda: "12.4"}')
    run_cli("apply", "-f", str(write_project(first)), "--yes", env=deploy.env)
    path = write_project(gpu("{pools: [ADA_24, AMPERE_80], count: 2}"))

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env).exit_code == 0
    stored = deploy.by_name("shop-api")["gpu"]
    assert (stored["pools"], stored["count"], stored["minCudaVersion"]) == (
        ["ADA_24", "AMPERE_80"],
        2,
        None,
    )
    assert "excludedTypes" not in stored


def test_switching_cpu_to_gpu_replaces_the_endpoint(run_cli, deploy: Deploy, write_project):
    run_cli("apply", "-f", str(write_project(endpoint_yaml("api"))), "--yes", env=deploy.env)
    old_id = deploy.by_name("shop-api")["id"]
    gpu = endpoint_yaml("api").replace("cpu: [{flavor: cpu5c, vcpus: 2}]", "gpu: {pools: [ADA_24]}")
    path = write_project(gpu)

    plan = run_cli("plan", "-f", str(path), env=deploy.env)
    applied = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert f"-/+ shop-api ({old_id}): replace" in plan.stdout, plan
    assert "cannot switch an endpoint between GPU and CPU in place" in plan.stdout
    assert applied.exit_code == 0, applied
    (endpoint,) = deploy.endpoints()
    assert endpoint["id"] != old_id and endpoint["gpu"]["pools"] == ["ADA_24"]
