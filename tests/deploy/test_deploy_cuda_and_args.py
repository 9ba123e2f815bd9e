"""RunPod's `allowedCudaVersions` and `args` expressed in flash.yaml (`compute.gpu.cuda_versions`,
`args`), so a plan against an endpoint that carries them is "no change", not a clearing."""

from __future__ import annotations

import json

from tests.deploy.conftest import Deploy

GPU_ENDPOINT = """\
  gpu:
    image: acme/gpu:1
{args}    compute:
      gpu: {{pools: [ADA_24]{cuda}}}
    routes:
      - {{method: GET, path: /hello, handler: "handlers:hello"}}
"""


def _gpu(args: str = "", cuda: str = "") -> str:
    return GPU_ENDPOINT.format(
        args=f"    args: {args}\n" if args else "",
        cuda=f", cuda_versions: {cuda}" if cuda else "",
    )


def test_cuda_versions_and_args_reach_runpod_and_then_plan_as_no_change(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(_gpu(args='"--workers 2"', cuda='["12.8", "12.6"]'))

    applied = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert applied.exit_code == 0, applied
    created = deploy.by_name("shop-gpu")
    assert created["args"] == "--workers 2"
    assert sorted(created["gpu"]["allowedCudaVersions"]) == ["12.6", "12.8"]
    plan = run_cli("plan", "-f", str(path), "--format", "json", env=deploy.env)
    assert [e["action"] for e in json.loads(plan.stdout)["endpoints"]] == ["no change"]


def test_removing_cuda_versions_for_a_floor_clears_the_set_in_the_same_patch(
    run_cli, deploy: Deploy, write_project
):
    run_cli("apply", "-f", str(write_project(_gpu(cuda='["12.8"]'))), "--yes", env=deploy.env)
    path = write_project(_gpu().replace("{pools: [ADA_24]}", '{pools: [ADA_24], min_cuda: "12.4"}'))

    plan = run_cli("plan", "-f", str(path), "--format", "json", env=deploy.env)
    (entry,) = json.loads(plan.stdout)["endpoints"]
    assert entry["patch"]["gpu"]["allowedCudaVersions"] == []
    assert entry["patch"]["gpu"]["minCudaVersion"] == "12.4"

    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0
    gpu = deploy.by_name("shop-gpu")["gpu"]
    assert (gpu["allowedCudaVersions"], gpu["minCudaVersion"]) == ([], "12.4")


def test_render_writes_args_and_cuda_versions_into_the_endpoint_spec(run_cli, write_project):
    path = write_project(_gpu(args="--fast", cuda='["12.8"]'))
    result = run_cli("render", "-f", str(path))
    out = path.parent / ".flashctl"

    assert result.exit_code == 0, result
    (spec_file,) = out.glob("**/endpoint.json")
    spec = json.loads(spec_file.read_text("utf-8"))
    assert spec["args"] == "--fast"
    assert spec["gpu"]["allowedCudaVersions"] == ["12.8"]
