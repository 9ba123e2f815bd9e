"""A create that lands after the client gave up, against an emulator whose endpoint list shows a
new endpoint only `list_lag` seconds after its create (an eventually consistent list), with the
create's response dropped after it was carried out (`drop_after`). Whatever the timing, apply and
a re-run of apply end with exactly one endpoint, or stop saying when to run again."""

from __future__ import annotations

import time

import pytest
import requests

from flashctl.deploy import connect
from flashctl.emulator.server import BackgroundEmulator
from flashctl.runpod.retry import RetryPolicy
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml


def _deploy(start_emulator, list_lag: float) -> Deploy:
    emulator = start_emulator(worker_ready_delay=0.0, retry_after=0, list_lag=list_lag)
    return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})


def _lose_the_next_create(emulator: BackgroundEmulator) -> None:
    response = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"faults": [{"kind": "drop_after", "match": "POST /v2/serverless"}]},
        timeout=5,
    )
    assert response.status_code == 204, response.text


def _policy(monkeypatch: pytest.MonkeyPatch, budget: float, settle: float) -> None:
    policy = RetryPolicy(
        attempts=4, budget=budget, base_delay=0.01, max_delay=0.05, settle=settle, settle_poll=0.1
    )
    monkeypatch.setitem(connect.CLIENT_OPTIONS, "retry", policy)


def _apply(run_cli, deploy: Deploy, path):
    return run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=deploy.env)


def test_a_lost_create_the_list_shows_late_is_found_and_never_sent_twice(
    run_cli, start_emulator, write_project, tmp_path, monkeypatch
):
    deploy = _deploy(start_emulator, list_lag=1.0)
    _policy(monkeypatch, budget=10.0, settle=3.0)
    _lose_the_next_create(deploy.emulator)

    result = _apply(run_cli, deploy, write_project(endpoint_yaml("api")))

    assert result.exit_code == 0, result
    assert len(deploy.emulator.emulator.state.stored_ids()) == 1
    counts = deploy.counts()
    assert counts["POST /v2/serverless"] == 1
    assert counts["GET /v2/serverless"] >= 3  # the plan's list, then polls until it showed
    assert "shop-api http" in result.stdout  # its URL, from the endpoint found in the list
    assert not (tmp_path / ".flashctl" / "pending-creates.json").exists()  # nothing pending


def test_a_lost_create_not_listed_in_time_stops_and_a_rerun_waits_for_it(
    run_cli, start_emulator, write_project, tmp_path, monkeypatch
):
    deploy = _deploy(start_emulator, list_lag=1.5)
    _policy(monkeypatch, budget=0.5, settle=3.0)  # gives up before the list could show it
    path = write_project(endpoint_yaml("api"))
    _lose_the_next_create(deploy.emulator)

    first = _apply(run_cli, deploy, path)

    assert first.exit_code == 1, first
    assert "It was not sent again" in first.stderr
    assert "Run `flashctl apply` again in 3 s" in first.stderr
    assert "Traceback" not in first.stderr
    journal = tmp_path / ".flashctl" / "pending-creates.json"
    assert journal.is_file()

    # Run again at once: the list does not show it yet, and apply does not create it again.
    rerun = _apply(run_cli, deploy, path)
    assert rerun.exit_code == 1, rerun
    assert "Not creating an endpoint that may already exist" in rerun.stderr
    assert "Run `flashctl apply` again after" in rerun.stderr
    plan = run_cli("plan", "-f", str(path), env=deploy.env)
    assert "Warning: shop-api: an earlier apply's create may still appear" in plan.stdout
    assert deploy.counts()["POST /v2/serverless"] == 1

    # Once RunPod lists it, apply finds it: nothing to create, the note is forgotten.
    for _ in range(50):
        if deploy.endpoints():
            break
        time.sleep(0.1)
    last = _apply(run_cli, deploy, path)
    assert last.exit_code == 0, last
    assert "No changes: RunPod matches the file." in last.stderr
    assert len(deploy.emulator.emulator.state.stored_ids()) == 1
    assert deploy.counts()["POST /v2/serverless"] == 1
    assert not journal.exists()


def test_a_create_that_never_landed_is_sent_once_the_list_has_settled(
    run_cli, start_emulator, write_project, tmp_path, monkeypatch
):
    deploy = _deploy(start_emulator, list_lag=0.0)
    _policy(monkeypatch, budget=0.5, settle=1.0)
    path = write_project(endpoint_yaml("api"))
    requests.post(
        f"{deploy.url}/_emulator/faults",
        json={"faults": [{"kind": "drop", "match": "POST /v2/serverless"}]},  # not carried out
        timeout=5,
    ).raise_for_status()

    first = _apply(run_cli, deploy, path)
    assert first.exit_code == 1 and "It was not sent again" in first.stderr
    assert deploy.emulator.emulator.state.stored_ids() == ()

    time.sleep(1.0)  # the settle time passes: had it landed, the list would show it
    second = _apply(run_cli, deploy, path)

    assert second.exit_code == 0, second
    assert len(deploy.emulator.emulator.state.stored_ids()) == 1
    assert deploy.counts()["POST /v2/serverless"] == 2
    journal = tmp_path / ".flashctl" / "pending-creates.json"
    assert not journal.exists()
