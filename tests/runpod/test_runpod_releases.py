"""Releases and rolling updates in the emulator, over raw HTTP: a change that needs new workers
makes a release, and the workers are replaced one at a time (idle ones first), `isStale` until
they are. Every answer is contract-checked against RunPod's official schemas at teardown
(`ListEndpointReleasesResponse`, `ListEndpointWorkersResponse`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flashctl.emulator.server import BackgroundEmulator
from tests.runpod.test_runpod_emulator import call, create

Body = Callable[..., dict[str, Any]]
Start = Callable[..., BackgroundEmulator]


def releases(emulator: BackgroundEmulator, endpoint_id: str) -> dict[str, Any]:
    response = call(emulator, "GET", f"/v2/serverless/{endpoint_id}/releases")
    assert response.status_code == 200, response.text
    return dict(response.json())


def workers(emulator: BackgroundEmulator, endpoint_id: str) -> dict[str, Any]:
    response = call(emulator, "GET", f"/v2/serverless/{endpoint_id}/workers")
    assert response.status_code == 200, response.text
    return dict(response.json())


def patch(emulator: BackgroundEmulator, endpoint_id: str, body: dict[str, Any]) -> None:
    response = call(emulator, "PATCH", f"/v2/serverless/{endpoint_id}", json=body)
    assert response.status_code == 200, response.text


def test_a_create_is_release_1_and_only_a_restarting_change_adds_one(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    created = create(emulator, lb_body())

    patch(emulator, created["id"], {"workers": {"min": 0, "max": 5}})  # in place: no release
    after_scaling = releases(emulator, created["id"])
    patch(emulator, created["id"], {"image": "ghcr.io/acme/shop:2", "timeout": 60000})
    after_image = releases(emulator, created["id"])

    (first,) = after_scaling["releases"]
    assert (after_scaling["endpointVersion"], first["version"], first["source"]) == (1, 1, "MANUAL")
    assert {"field": "image", "old": None, "new": "ghcr.io/acme/shop:1"} in first["diff"]
    assert after_image["endpointVersion"] == 2
    assert [r["version"] for r in after_image["releases"]] == [2, 1]  # newest first
    assert after_image["releases"][0]["diff"] == [
        {"field": "image", "old": "ghcr.io/acme/shop:1", "new": "ghcr.io/acme/shop:2"},
        {"field": "timeout", "old": 30000, "new": 60000},
    ]


def test_an_unknown_endpoint_has_no_releases(emulator: BackgroundEmulator) -> None:
    response = call(emulator, "GET", "/v2/serverless/nope/releases")

    assert response.status_code == 404


def test_a_rolling_update_replaces_idle_workers_first_and_marks_the_rest_stale(
    start_emulator: Start, lb_body: Body
) -> None:
    emulator = start_emulator(worker_ready_delay=0.05, rollout_interval=0.4)
    created = create(emulator, lb_body(workers={"min": 3, "max": 3}))
    endpoint_id = created["id"]
    busy = call(emulator, "POST", f"/_emulator/serverless/{endpoint_id}/busy", json={"workers": 1})
    assert busy.status_code == 204
    time.sleep(0.1)
    before = workers(emulator, endpoint_id)["workers"]
    (serving,) = [w["id"] for w in before if w["status"] == "RUNNING"]

    patch(emulator, endpoint_id, {"image": "ghcr.io/acme/shop:2"})
    snapshots = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed, rollout = workers(emulator, endpoint_id), releases(emulator, endpoint_id)
        snapshots.append((listed, rollout))
        if not rollout["rollout"]["inProgress"]:
            break
        time.sleep(0.03)

    first_listed, first_rollout = snapshots[0]
    assert first_rollout["rollout"] == {
        "inProgress": True,
        "workersOnLatest": 0,
        "workersTotal": 3,
        "percentOnLatest": 0,
    }
    assert all(w["isStale"] and w["version"] == 1 for w in first_listed["workers"])
    assert first_listed["endpointVersion"] == 2
    # Old workers go one at a time, the one serving a request last: no answer lacks it while
    # another old worker is still there.
    old = {w["id"] for w in before}
    for listed, _ in snapshots:
        present = {w["id"] for w in listed["workers"]}
        assert len(present) == 3
        assert serving in present or not old & present
        assert all(w["isStale"] == (w["version"] == 1) for w in listed["workers"])
    assert any(serving in ids and len(ids & old) < 3 for ids in _ids(snapshots))
    last_rollout, last_listed = snapshots[-1][1], workers(emulator, endpoint_id)
    assert last_rollout["rollout"]["inProgress"] is False
    assert last_rollout["rollout"]["workersOnLatest"] == 3
    assert last_rollout["releases"][0]["workerCount"] == 3
    assert last_rollout["releases"][1]["workerCount"] == 0
    assert {w["image"] for w in last_listed["workers"]} == {"ghcr.io/acme/shop:2"}
    assert any(0 < r["rollout"]["percentOnLatest"] < 100 for _, r in snapshots)


def test_a_rollout_carries_on_after_a_restart(
    start_emulator: Start, lb_body: Body, tmp_path
) -> None:
    state = tmp_path / "emulator.json"
    first = start_emulator(state=state, worker_ready_delay=0.0, rollout_interval=0.05)
    created = create(first, lb_body(workers={"min": 2, "max": 3}))
    patch(first, created["id"], {"env": {"LOG_LEVEL": "DEBUG"}})
    first.stop()

    second = start_emulator(state=state, worker_ready_delay=0.0, rollout_interval=0.05)
    time.sleep(0.2)

    listed = workers(second, created["id"])
    assert [w["version"] for w in listed["workers"]] == [2, 2]
    diff = releases(second, created["id"])["releases"][0]["diff"]
    assert {entry["field"] for entry in diff} == {
        "env.LOG_LEVEL",
        "env.PORT",
        "env.PORT_HEALTH",
        "env.FLASHCTL_PROJECT",
    }


def _ids(snapshots: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[set[str]]:
    return [{w["id"] for w in listed["workers"]} for listed, _ in snapshots]
