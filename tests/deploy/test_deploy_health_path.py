"""`runtime.health_path`: RunPod's HEALTH_CHECK_PATH in the endpoint's env, so RunPod's load
balancer (and its `requestUrls.health`) polls there; the rendered service answers there too."""

from __future__ import annotations

import json

from tests.deploy.conftest import Deploy, endpoint_yaml


def _with_health_path(path: str) -> str:
    return endpoint_yaml("api").replace(
        "    routes:\n", f"    runtime: {{health_path: {path}}}\n    routes:\n"
    )


def test_health_path_reaches_runpod_as_health_check_path(run_cli, deploy: Deploy, write_project):
    path = write_project(_with_health_path("/healthz"))

    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0

    endpoint = deploy.by_name("shop-api")
    assert endpoint["env"]["HEALTH_CHECK_PATH"] == "/healthz"
    assert endpoint["requestUrls"]["health"].endswith("/healthz")
    plan = run_cli("plan", "-f", str(path), "--format", "json", env=deploy.env)
    assert [e["action"] for e in json.loads(plan.stdout)["endpoints"]] == ["no change"]


def test_without_health_path_the_env_has_no_health_check_path(run_cli, write_project):
    path = write_project(
        endpoint_yaml("api"), _with_health_path("/healthz").replace("  api:", "  web:")
    )

    assert run_cli("render", "-f", str(path)).exit_code == 0

    specs = {
        p.parent.name: json.loads(p.read_text("utf-8"))
        for p in (path.parent / ".flashctl").glob("**/endpoint.json")
    }
    assert "HEALTH_CHECK_PATH" not in specs["api"]["env"]
    assert specs["web"]["env"]["HEALTH_CHECK_PATH"] == "/healthz"
