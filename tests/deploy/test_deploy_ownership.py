"""Plan and apply touch only what this project owns, whatever a saved plan file claims."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flashctl.deploy.normalize import fingerprint
from tests.deploy.conftest import Deploy, create_raw, endpoint_yaml


def saved_plan(run_cli, deploy: Deploy, project: Path, out: Path) -> dict[str, Any]:
    result = run_cli("plan", "-f", str(project), "--out", str(out), env=deploy.env)
    assert result.exit_code == 0, result
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def entry_acting_on(
    template: dict[str, Any], remote: dict[str, Any], action: str
) -> dict[str, Any]:
    """A plan entry for `remote` as an editor of the file would write it (current fingerprint)."""
    entry = {**template, "name": remote["name"], "key": None, "action": action}
    entry.update(id=remote["id"], remote_fingerprint=fingerprint(remote), changes=[], patch=None)
    entry.update(note="", body=None, url=remote["requestUrls"]["base"])
    if "same_name" in template:
        entry["same_name"] = [remote["id"]]
    return entry


@pytest.fixture
def applied(run_cli, deploy: Deploy, write_project) -> Path:
    path = write_project(endpoint_yaml("api"))
    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0
    return path


@pytest.mark.parametrize(
    ("owner", "name", "claims_project"),
    [
        ("billing", "billing-api", False),
        ("shop-billing", "shop-billing-api", False),  # a project whose names share the prefix
        ("billing", "billing-api", True),  # the file may lie about whose plan it is, too
    ],
)
def test_a_saved_plan_edited_to_delete_another_projects_endpoint_is_refused(
    run_cli, deploy: Deploy, applied: Path, tmp_path: Path, owner, name, claims_project
):
    billing = create_raw(deploy, name, {"FLASHCTL_PROJECT": owner})
    saved = tmp_path / "plan.json"
    data = saved_plan(run_cli, deploy, applied, saved)
    data["endpoints"].append(entry_acting_on(data["endpoints"][0], billing, "delete"))
    data["prune"] = True
    if claims_project:
        data["project"] = owner
    saved.write_text(json.dumps(data))
    before = deploy.counts()

    result = run_cli("apply", "-f", str(applied), str(saved), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert f"The saved plan {saved} is refused" in result.stderr
    if claims_project:
        assert f"made for project '{owner}', and the file is project 'shop'" in result.stderr
    else:
        assert (
            f"it would delete {name} ({billing['id']}), which belongs to project '{owner}'; "
            "flashctl deletes only endpoints of project 'shop'"
        ) in result.stderr
    assert "Nothing was applied" in result.stderr and "Traceback" not in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert deploy.names() == sorted([name, "shop-api"])


def test_a_saved_plan_edited_to_replace_an_endpoint_no_project_owns_is_refused(
    run_cli, deploy: Deploy, applied: Path, tmp_path: Path
):
    legacy = create_raw(deploy, "shop-legacy", {})  # the project's prefix, but not its endpoint
    saved = tmp_path / "plan.json"
    data = saved_plan(run_cli, deploy, applied, saved)
    shop_api = deploy.by_name("shop-api")
    replace = entry_acting_on(data["endpoints"][0], legacy, "replace")
    replace["body"] = {k: shop_api[k] for k in ("type", "image", "env", "scaling")}
    replace["body"].update(name="shop-legacy", cpu=[{"id": "cpu5c", "vcpuCount": 2}])
    data["endpoints"].append(replace)
    saved.write_text(json.dumps(data))
    before = deploy.counts()

    result = run_cli("apply", "-f", str(applied), str(saved), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert (
        f"it would delete shop-legacy ({legacy['id']}), which belongs to no project "
        "(no FLASHCTL_PROJECT); flashctl deletes only endpoints of project 'shop'"
    ) in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert deploy.by_name("shop-legacy")["id"] == legacy["id"]


def test_a_name_another_project_holds_is_a_conflict_even_beside_an_unowned_endpoint(
    run_cli, deploy: Deploy, write_project
):
    billing = create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "billing"})
    unowned = create_raw(deploy, "shop-api", {})
    path = write_project(endpoint_yaml("api"))
    before = deploy.counts()

    plan = run_cli("plan", "-f", str(path), env=deploy.env)
    apply = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    for result in (plan, apply):
        assert result.exit_code == 1, result
        assert (
            f"shop-api ({billing['id']}) belongs to project 'billing' (its env FLASHCTL_PROJECT) "
            "(and 1 endpoint(s) with no FLASHCTL_PROJECT)"
        ) in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert "FLASHCTL_PROJECT" not in deploy.emulator.emulator.state.get(unowned["id"])["env"]


def test_a_saved_plan_is_stale_once_another_endpoint_takes_the_same_name(
    run_cli, deploy: Deploy, applied: Path, write_project, tmp_path: Path
):
    path = write_project(endpoint_yaml("api", image="acme/app:2"))
    saved = tmp_path / "plan.json"
    saved_plan(run_cli, deploy, path, saved)
    other = create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "billing"})
    before = deploy.counts()

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert "is stale" in result.stderr
    assert f"the endpoints named shop-api changed since ({other['id']} appeared)" in result.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert {e["image"] for e in deploy.endpoints()} == {"acme/app:1", "someone/else:1"}


def test_apply_of_a_saved_plan_needs_the_project_file(run_cli, deploy: Deploy, applied, tmp_path):
    saved = tmp_path / "plan.json"
    saved_plan(run_cli, deploy, applied, saved)

    result = run_cli("apply", "-f", str(tmp_path / "missing.yaml"), str(saved), env=deploy.env)

    assert result.exit_code == 1, result
    assert "`apply PLAN` reads the project from the file" in result.stderr
