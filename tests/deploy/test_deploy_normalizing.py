"""Plans against an emulator that answers as a server does, not as a mirror: it fills defaults,
reorders GPU pools and data centers, adds env of its own and leaves optional fields out (even
`type`). A fresh create must still plan as "no change", and nothing may plan a replace for a
field the server did not send."""

from __future__ import annotations

import json
from collections.abc import Callable

from flashctl.emulator.server import BackgroundEmulator
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml


def _deploy(start_emulator: Callable[..., BackgroundEmulator], **options: object) -> Deploy:
    emulator = start_emulator(worker_ready_delay=0.2, retry_after=0, **options)
    return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})


GPU = (
    'gpu: {pools: [AMPERE_80, ADA_24], exclude: ["NVIDIA A100-SXM4-80GB"]}\n'
    "      data_centers: [US-TX-3, EU-RO-1]"
)


def _gpu_project(write_project, image: str = "acme/app:1"):
    block = endpoint_yaml("api", image=image).replace("cpu: [{flavor: cpu5c, vcpus: 2}]", GPU)
    return write_project(block)


def test_a_create_plans_as_no_change_against_a_normalizing_server(
    run_cli, start_emulator, write_project
):
    deploy = _deploy(start_emulator)
    path = _gpu_project(write_project)
    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0
    stored = deploy.by_name("shop-api")
    # The server did normalize: reordered lists, its own env, optional fields left out.
    assert stored["gpu"]["pools"] == ["ADA_24", "AMPERE_80"]
    assert stored["dataCenterIds"] == ["EU-RO-1", "US-TX-3"]
    assert stored["env"]["RUNPOD_ENDPOINT_ID"] == stored["id"]
    assert "args" not in stored and "registry" not in stored

    plan = run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env)

    assert plan.exit_code == 0, plan
    assert "No changes" in plan.stdout


def test_a_response_without_type_is_never_planned_as_a_replace(
    run_cli, start_emulator, write_project
):
    deploy = _deploy(start_emulator, omit_fields=("type",))
    run_cli("apply", "-f", str(_gpu_project(write_project)), "--yes", env=deploy.env)
    assert "type" not in deploy.by_name("shop-api")

    same = run_cli(
        "plan", "-f", str(_gpu_project(write_project)), "--detailed-exitcode", env=deploy.env
    )
    changed = run_cli(
        "plan",
        "-f",
        str(_gpu_project(write_project, "acme/app:2")),
        "--format",
        "json",
        env=deploy.env,
    )

    assert same.exit_code == 0, same
    (entry,) = json.loads(changed.stdout)["endpoints"]
    assert entry["action"] == "update, workers restart"
    assert [c["path"] for c in entry["changes"]] == ["image"]


def test_env_the_server_adds_is_kept_out_of_a_patch(run_cli, start_emulator, write_project):
    deploy = _deploy(start_emulator)
    run_cli("apply", "-f", str(_gpu_project(write_project)), "--yes", env=deploy.env)
    path = _gpu_project(write_project, "acme/app:2")

    applied = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert applied.exit_code == 0, applied
    assert run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env).exit_code == 0
    logged = deploy.emulator.emulator.log.snapshot()["requests"]
    (patch,) = [entry["request_body"] for entry in logged if entry["method"] == "PATCH"]
    assert patch == {"image": "acme/app:2"}
