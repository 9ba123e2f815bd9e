"""Planning as a pure function: desired bodies + a remote list -> actions, without HTTP."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.deploy.desired import DesiredEndpoint, declared_environments, desired_endpoints
from flashctl.deploy.normalize import against, fingerprint, normalize
from flashctl.deploy.patch import patch_body
from flashctl.deploy.plan import OwnershipConflict, in_scope, make_plan
from flashctl.deploy.plan_file import _plan_from_json, plan_to_json, stale_reasons
from flashctl.deploy.recheck import refusals
from flashctl.emulator.state import EmulatorState
from tests.conftest import EXAMPLE

URL = "https://api.runpod.io"


@pytest.fixture(scope="module")
def example() -> tuple[DesiredEndpoint, ...]:
    loaded = load_valid_project(EXAMPLE, variables={}, environment=None)
    return desired_endpoints(loaded.project)


def plan(desired, remote, **options: Any):
    options.setdefault("project", "seed")
    return make_plan(desired, remote, environment=None, api_url=URL, **options)


def created(body: dict[str, Any]) -> dict[str, Any]:
    """What RunPod (the emulator's account, in memory) returns for a create of `body`."""
    return EmulatorState().create(copy.deepcopy(body))


def test_a_fresh_create_normalizes_to_the_body_that_made_it(example):
    for want in example:
        desired = normalize(want.body)
        assert against(normalize(created(want.body)), desired) == desired, want.name
    result = plan(example, [created(want.body) for want in example])
    assert [e.action for e in result.endpoints] == ["no change"] * 3
    assert not result.pending


def test_nothing_remote_means_create_everything(example):
    result = plan(example, [])

    assert [(e.name, e.action) for e in result.endpoints] == [
        ("seed-gpu", "create"),
        ("seed-cpu", "create"),
        ("seed-users", "create"),
    ]
    assert result.endpoints[0].body == example[0].body


@pytest.mark.parametrize(
    ("field", "value", "action"),
    [
        ("workers", {"min": 1, "max": 3, "idleTimeout": 60}, "update in place"),
        ("scaling", {"type": "REQUEST_COUNT", "requestCount": 9}, "update in place"),
        ("timeout", 1000, "update in place"),
        ("image", "ghcr.io/acme/seed-gpu:old", "update, workers restart"),
        ("env", {"PORT": "8000"}, "update, workers restart"),
        ("disk", 50, "update, workers restart"),
        ("dataCenterIds", ["EU-RO-1"], "update, workers restart"),
        ("networkVolumes", ["vol1"], "update, workers restart"),
        ("flashboot", "OFF", "update, workers restart"),
        (
            "gpu",
            {"pools": ["ADA_24"], "count": 1, "minCudaVersion": None},
            "update, workers restart",
        ),
        ("type", "QUEUE", "replace"),
        ("gpu", None, "replace"),  # a CPU endpoint of the same name: no in-place family change
    ],
)
def test_each_field_is_planned_as_design_section_8_says(example, field, value, action):
    remote = created(example[0].body)
    remote[field] = value
    if field == "gpu" and value is None:
        remote["cpu"] = [{"id": "cpu5c", "vcpuCount": 2, "memory": 4}]

    (gpu, *_) = plan(example[:1], [remote]).endpoints

    assert gpu.action == action
    assert gpu.endpoint_id == remote["id"]
    assert {change.field for change in gpu.changes} == {field} | (
        {"cpu"} if value is None else set()
    )


def test_changes_are_field_level_with_before_and_after(example):
    remote = created(example[0].body)
    remote["workers"]["max"] = 9
    remote["env"]["LOG_LEVEL"] = "DEBUG"

    (gpu,) = plan(example[:1], [remote]).endpoints

    assert [str(change) for change in gpu.changes] == [
        'env.LOG_LEVEL: "DEBUG" -> "INFO"',
        "workers.max: 9 -> 3",
    ]
    assert gpu.patch == {"env": example[0].body["env"], "workers": example[0].body["workers"]}


def test_a_gpu_patch_restates_the_selection_and_clears_an_absent_floor():
    remote = normalize({"gpu": {"pools": ["ADA_24"], "excludedTypes": ["NVIDIA L4"]}})
    desired = normalize({"gpu": {"pools": ["ADA_24", "AMPERE_80"], "count": 2}})

    assert patch_body(remote, desired, ["gpu"]) == {
        "gpu": {"pools": ["ADA_24", "AMPERE_80"], "count": 2, "minCudaVersion": ""}
    }


def test_an_unowned_endpoint_of_the_same_name_is_adopted(example):
    remote = created(example[0].body)
    del remote["env"]["FLASHCTL_PROJECT"]

    (gpu,) = plan(example[:1], [remote]).endpoints

    assert gpu.action == "update, workers restart"
    assert "adopts an endpoint without env FLASHCTL_PROJECT" in gpu.note


def test_another_projects_endpoint_of_the_same_name_is_a_conflict(example):
    remote = created(example[0].body)
    remote["env"]["FLASHCTL_PROJECT"] = "other"

    with pytest.raises(OwnershipConflict, match=r"seed-gpu .* belongs to project 'other'"):
        plan(example[:1], [remote])


def test_a_name_another_project_holds_stays_a_conflict_beside_an_unowned_endpoint(example):
    unowned, foreign = created(example[0].body), created(example[0].body)
    del unowned["env"]["FLASHCTL_PROJECT"]
    foreign["env"]["FLASHCTL_PROJECT"] = "other"

    with pytest.raises(OwnershipConflict, match=r"seed-gpu .* belongs to project 'other'"):
        plan(example[:1], [unowned, foreign])


def test_an_endpoint_no_project_owns_is_never_replaced(example):
    remote = created(example[0].body)
    del remote["env"]["FLASHCTL_PROJECT"]
    remote["type"] = "QUEUE"  # the file says LOAD_BALANCER: only a replace converges

    with pytest.raises(OwnershipConflict, match=r"replacing it .* would delete an endpoint"):
        plan(example[:1], [remote])
    owned = {**remote, "env": {**remote["env"], "FLASHCTL_PROJECT": "seed"}}
    assert plan(example[:1], [owned]).endpoints[0].action == "replace"


def test_duplicates_are_reported_and_pruned_only_with_prune(example):
    first, second = created(example[0].body), created(example[0].body)
    first["createdAt"], second["createdAt"] = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"

    kept = plan(example[:1], [second, first])
    pruned = plan(example[:1], [second, first], prune=True)

    assert [(e.action, e.endpoint_id) for e in kept.endpoints] == [("no change", first["id"])]
    assert "1 more endpoint(s) have this name" in kept.warnings[0]
    assert [(e.action, e.endpoint_id) for e in pruned.endpoints] == [
        ("no change", first["id"]),
        ("delete", second["id"]),
    ]


def test_prune_deletes_only_owned_endpoints_of_this_environment(example):
    def owned(name: str, project: str = "seed") -> dict[str, Any]:
        body = copy.deepcopy(example[1].body)
        body["name"], body["env"]["FLASHCTL_PROJECT"] = name, project
        return created(body)

    remote = [owned("seed-old"), owned("seed-cpu-prod"), owned("other-x", "other")]
    result = plan(example, remote, prune=True, other_environments=["prod"])

    assert [e.name for e in result.endpoints if e.action == "delete"] == ["seed-old"]
    assert plan(example, remote, other_environments=["prod"]).kept == ("seed-old",)


def test_in_scope_follows_the_environment_suffix():
    assert in_scope("seed-api", "seed", None, ["prod"])
    assert not in_scope("seed-api-prod", "seed", None, ["prod"])
    assert in_scope("seed-api-prod", "seed", "prod", ["prod"])
    assert not in_scope("seed-api", "seed", "prod", ["prod"])
    assert not in_scope("seedling-api", "seed", None, [])


def test_declared_environments_are_read_from_the_file_text():
    assert declared_environments(EXAMPLE.read_text(), str(EXAMPLE)) == ("prod",)


def test_a_plan_survives_its_json_form(example):
    remote = created(example[0].body)
    remote["timeout"] = 5
    original = plan(example, [remote])

    assert _plan_from_json(plan_to_json(original)) == original


def test_staleness_is_detected_per_endpoint(example):
    remote = created(example[0].body)
    saved = plan(example, [remote])
    assert stale_reasons(saved, [remote]) == []

    changed = {**remote, "timeout": 1}
    appeared = created(example[1].body)
    assert stale_reasons(saved, [changed, appeared]) == [
        f"seed-gpu ({remote['id']}) has changed since",
        "seed-cpu has been created since",
    ]
    assert stale_reasons(saved, []) == [f"seed-gpu ({remote['id']}) has been deleted since"]


def test_a_plan_is_stale_when_the_endpoints_sharing_a_name_change(example):
    first, second = created(example[0].body), created(example[0].body)
    first["createdAt"], second["createdAt"] = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
    saved = plan(example[:1], [first])
    newcomer = {**created(example[0].body), "env": {"FLASHCTL_PROJECT": "other"}}

    assert stale_reasons(saved, [first, newcomer]) == [
        f"the endpoints named seed-gpu changed since ({newcomer['id']} appeared)"
    ]
    both = plan(example[:1], [first, second], prune=True)
    assert stale_reasons(both, [first]) == [
        f"the endpoints named seed-gpu changed since ({second['id']} went away)",
        f"seed-gpu ({second['id']}) has been deleted since",
    ]


def test_a_saved_plan_is_rechecked_against_the_live_owners(example):
    mine, theirs = created(example[0].body), created(example[1].body)
    theirs["env"]["FLASHCTL_PROJECT"] = "other"
    saved = plan(example[:1], [mine])
    (entry,) = saved.endpoints
    assert refusals(saved, [mine, theirs], "seed") == []

    def edited(**changes: Any) -> list[str]:
        edited_plan = replace(saved, endpoints=(replace(entry, **changes),))
        return refusals(edited_plan, [mine, theirs], "seed")

    assert refusals(saved, [mine], "other") == [
        "it was made for project 'seed', and the file is project 'other'"
    ]
    assert edited(endpoint_id=theirs["id"]) == [
        f"{theirs['id']} is named 'seed-cpu' on RunPod, not seed-gpu",
        f"it would treat as its own seed-gpu ({theirs['id']}), which belongs to project 'other'",
    ]
    assert edited(action="delete") == ["it deletes seed-gpu, but it was not made with --prune"]
    assert edited(action="update in place", patch={"env": {}, "name": "x"}) == [
        "the update in place of seed-gpu would rename it to 'x'",
        "the update in place of seed-gpu would set its env without FLASHCTL_PROJECT=seed",
    ]
    assert edited(action="replace", body={**example[0].body, "env": {}}) == [
        "the replace of seed-gpu would create an endpoint without FLASHCTL_PROJECT=seed"
    ]
    twice = replace(saved, endpoints=(entry, replace(entry, action="delete")), prune=True)
    assert refusals(twice, [mine], "seed") == [f"it acts on {mine['id']} more than once"]


def test_the_fingerprint_ignores_what_runpod_adds(example):
    remote = created(example[1].body)
    moved = {**remote, "createdAt": "2030-01-01T00:00:00Z", "requestUrls": {}, "extra": 1}

    assert fingerprint(remote) == fingerprint(moved) == fingerprint(example[1].body)
