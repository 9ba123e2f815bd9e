"""Cost in `plan` (per worker, idle at workers.min, worst at workers.max) from RunPod's serverless
catalog prices, and `budget.max_per_hour` stopping plan and apply before any write; over real HTTP
against the emulator, whose catalog serves illustrative prices in RunPod's schema."""

from __future__ import annotations

import pytest
import requests

from flashctl.deploy.cost import OverBudget, check_budget, endpoint_costs, usd
from flashctl.emulator import catalog as emulator_catalog
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml

GPU = """\
  gen:
    image: acme/gen:1
    compute:
      gpu: {{pools: [{pools}], count: 2{exclude}}}
    scaling:
      workers: {{min: 1, max: 4}}
    routes:
      - {{method: GET, path: /hello, handler: "handlers:hello"}}
"""


def _gpu(pools: str = "ADA_24", exclude: str = "") -> str:
    return GPU.format(pools=pools, exclude=f", exclude: [{exclude}]" if exclude else "")


def _serverless(pool: str) -> float:
    (price,) = {
        g["price"]["serverless"] for g in emulator_catalog.gpus()["gpus"] if g["pool"] == pool
    }
    return float(price)


def _per_vcpu(flavor: str) -> float:
    (cpu,) = [c for c in emulator_catalog.cpus()["cpus"] if c["id"] == flavor]
    return float(cpu["price"]["serverlessPerVcpu"])


def _writes(deploy: Deploy) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in deploy.emulator.emulator.log.snapshot()["requests"]
        if r["method"] in ("POST", "PATCH", "DELETE") and r["path"].startswith("/v2/")
    ]


def test_plan_shows_price_per_worker_idle_and_worst_case(run_cli, deploy: Deploy, write_project):
    path = write_project(_gpu(), endpoint_yaml("api", workers="{min: 0, max: 3}"))

    result = run_cli("plan", "-f", str(path), env=deploy.env)

    assert result.exit_code == 0, result
    gpu_rate = _serverless("ADA_24") * 2  # count: 2
    cpu_rate = _per_vcpu("cpu5c") * 2  # 2 vCPUs
    assert (
        f"shop-gen: {usd(gpu_rate)} per worker; idle at workers.min 1: {usd(gpu_rate)};"
        f" worst at workers.max 4: {usd(gpu_rate * 4)}"
    ) in result.stdout
    assert (
        f"shop-api: {usd(cpu_rate)} per worker; idle at workers.min 0: $0.00;"
        f" worst at workers.max 3: {usd(cpu_rate * 3)}"
    ) in result.stdout
    assert f"worst case, all endpoints: {usd(gpu_rate * 4 + cpu_rate * 3)}" in result.stdout
    counts = deploy.counts()
    assert counts["GET /v2/catalog/gpus"] == 1 and counts["GET /v2/catalog/cpus"] == 1


def test_several_pools_give_a_range_and_exclusions_narrow_it(
    run_cli, deploy: Deploy, write_project
):
    low, high = _serverless("AMPERE_24"), _serverless("ADA_48_PRO")
    assert low < high
    wide = run_cli("plan", "-f", str(write_project(_gpu("AMPERE_24, ADA_48_PRO"))), env=deploy.env)
    assert f"shop-gen: {usd(low * 2)}-{usd(high * 2)} per worker" in wide.stdout
    assert f"worst at workers.max 4: {usd(high * 2 * 4)}" in wide.stdout

    every_ada = '"NVIDIA RTX 6000 Ada Generation", NVIDIA L40, NVIDIA L40S'
    path = write_project(_gpu("AMPERE_24, ADA_48_PRO", exclude=every_ada))
    narrow = run_cli("plan", "-f", str(path), env=deploy.env)
    assert f"shop-gen: {usd(low * 2)} per worker" in narrow.stdout


def test_a_budget_below_the_worst_case_blocks_apply_with_nothing_written(
    run_cli, deploy: Deploy, write_project
):
    worst = _serverless("ADA_24") * 2 * 4
    path = write_project(_gpu(), extra=f"budget: {{max_per_hour: {worst - 0.01:.2f}}}\n")

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert "Over budget" in result.stderr and "Nothing was changed" in result.stderr
    assert f"shop-gen: 4 x {usd(_serverless('ADA_24') * 2)}/h" in result.stderr
    assert "Traceback" not in result.stderr
    assert _writes(deploy) == []
    assert deploy.names() == []
    log = requests.get(f"{deploy.url}/_emulator/requests", timeout=5).json()
    assert not [r for r in log["requests"] if r["method"] in ("POST", "PATCH")]


def test_a_budget_blocks_an_update_that_raises_workers_max(run_cli, deploy: Deploy, write_project):
    budget = f"budget: {{max_per_hour: {_serverless('ADA_24') * 2 * 4:.2f}}}\n"
    assert (
        run_cli(
            "apply", "-f", str(write_project(_gpu(), extra=budget)), "--yes", env=deploy.env
        ).exit_code
        == 0
    )
    written = _writes(deploy)
    bigger = _gpu().replace("max: 4", "max: 5")

    result = run_cli(
        "apply", "-f", str(write_project(bigger, extra=budget)), "--yes", env=deploy.env
    )

    assert result.exit_code == 1, result
    assert "Over budget" in result.stderr
    assert _writes(deploy) == written  # no PATCH
    assert deploy.by_name("shop-gen")["workers"]["max"] == 4


def test_plan_over_budget_exits_1_and_saves_no_plan_file(run_cli, deploy: Deploy, write_project):
    path = write_project(_gpu(), extra="budget: {max_per_hour: 0.5}\n")
    out = path.parent / "over.plan"

    result = run_cli("plan", "-f", str(path), "--out", str(out), env=deploy.env)

    assert result.exit_code == 1, result
    assert "OVER budget.max_per_hour $0.500" in result.stdout
    assert "Over budget" in result.stderr
    assert not out.exists()


def test_a_budget_above_the_worst_case_lets_apply_create(run_cli, deploy: Deploy, write_project):
    path = write_project(_gpu(), extra="budget: {max_per_hour: 1000}\n")

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert "within budget.max_per_hour $1,000.00" in result.stderr
    assert deploy.names() == ["shop-gen"]


def test_an_unreadable_catalog_leaves_plan_working_without_a_budget_and_blocks_with_one(
    run_cli, deploy: Deploy, write_project
):
    def fail_catalog() -> None:
        response = requests.post(
            f"{deploy.url}/_emulator/faults",
            json={"faults": [{"kind": "503", "match": "GET /v2/catalog/gpus"}] * 4},
            headers={"Authorization": f"Bearer {CANARY_KEY}"},
            timeout=5,
        )
        assert response.ok, response.text

    fail_catalog()
    plain = run_cli("plan", "-f", str(write_project(_gpu())), env=deploy.env)
    assert plain.exit_code == 0, plain
    assert "Cost: unavailable" in plain.stdout

    fail_catalog()
    path = write_project(_gpu(), extra="budget: {max_per_hour: 1000}\n")
    budgeted = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
    assert budgeted.exit_code == 1, budgeted
    assert "Cannot check budget.max_per_hour" in budgeted.stderr
    assert _writes(deploy) == []


def test_an_endpoint_the_catalog_does_not_price_cannot_pass_a_budget(load_example_project):
    project = load_example_project(budget=1000.0)
    costs = endpoint_costs(project, gpus=[], cpus=[])

    assert all(cost.rate is None for cost in costs.endpoints)
    with pytest.raises(OverBudget, match="no serverless price for seed-"):
        check_budget(costs)


@pytest.fixture
def load_example_project():
    from flashctl.compiler.pipeline import compile_file
    from tests.conftest import EXAMPLE

    def load(budget: float):
        project = compile_file(EXAMPLE, variables={}).project
        assert project is not None
        return project._replace(budget_per_hour=budget)

    return load


def test_applying_a_saved_plan_holds_the_files_budget(run_cli, deploy: Deploy, write_project):
    path = write_project(_gpu(), extra="budget: {max_per_hour: 1000}\n")
    saved = path.parent / "gen.plan"
    assert run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env).exit_code == 0
    write_project(_gpu(), extra="budget: {max_per_hour: 1}\n")

    result = run_cli("apply", str(saved), "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert "Over budget" in result.stderr
    assert _writes(deploy) == []
