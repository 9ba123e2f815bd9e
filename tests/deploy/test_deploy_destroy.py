"""`flashctl destroy` deletes only the file's endpoints that this project owns."""

from __future__ import annotations

from tests.deploy.conftest import Deploy, create_raw, endpoint_yaml


def test_destroy_deletes_the_projects_endpoints(run_cli, deploy: Deploy, write_project):
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web"))
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    result = run_cli("destroy", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.names() == []
    assert sorted(line.split()[1] for line in result.stdout.splitlines()) == [
        "shop-api",
        "shop-web",
    ]


def test_destroy_never_deletes_another_projects_or_an_unowned_endpoint(
    run_cli, deploy: Deploy, write_project
):
    # Same names as the file's endpoints, but owned by project "other" / by nobody.
    create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "other"})
    create_raw(deploy, "shop-web", {})
    create_raw(deploy, "shop-unrelated", {"FLASHCTL_PROJECT": "shop"})  # not in the file
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web"))
    before = deploy.counts()

    result = run_cli("destroy", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.names() == ["shop-api", "shop-unrelated", "shop-web"]
    assert "shop-api" in result.stderr and "belongs to project 'other': left alone" in result.stderr
    assert "belongs to no project (no FLASHCTL_PROJECT): left alone" in result.stderr
    assert "Nothing to destroy" in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0


def test_destroy_asks_and_refuses_without_a_terminal(run_cli, deploy: Deploy, write_project):
    path = write_project(endpoint_yaml("api"))
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    result = run_cli("destroy", "-f", str(path), env=deploy.env)

    assert result.exit_code == 2, result
    assert "pass --yes" in result.stderr
    assert deploy.names() == ["shop-api"]


def test_plan_refuses_to_take_over_another_projects_endpoint(
    run_cli, deploy: Deploy, write_project
):
    create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "other"})

    result = run_cli("plan", "-f", str(write_project(endpoint_yaml("api"))), env=deploy.env)

    assert result.exit_code == 1, result
    assert "shop-api" in result.stderr and "belongs to project 'other'" in result.stderr
