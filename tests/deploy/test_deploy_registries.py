"""Private registries: `registry_auth` names a RunPod credential, and `apply` creates one that
the file declares with its env variables, over real HTTP against the emulator, through the CLI.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml

PASSWORD = "pw-CANARY-7f3a9c1e5b"  # a value that must never show
USERNAME = "acme-bot"
LOGIN = {"GHCR_USER": USERNAME, "GHCR_TOKEN": PASSWORD}
CREATES = "registry_auth: {name: acme-ghcr, username_env: GHCR_USER, password_env: GHCR_TOKEN}"


def with_auth(block: str, auth: str = CREATES) -> str:
    """An endpoint block (from `endpoint_yaml`) with a `registry_auth` line."""
    first, rest = block.split("\n", 1)
    return f"{first}\n    {auth}\n{rest}"


def registries(deploy: Deploy) -> list[dict[str, Any]]:
    return deploy.emulator.emulator.state.registries()


def make_registry(url: str, name: str) -> dict[str, Any]:
    """A credential made outside flashctl (RunPod's console, another tool)."""
    response = requests.post(
        f"{url}/v2/registries",
        json={"name": name, "username": "someone", "password": "elsewhere-secret"},
        headers={"Authorization": f"Bearer {CANARY_KEY}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_apply_creates_the_credential_first_and_puts_its_id_in_the_endpoint(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(with_auth(endpoint_yaml("api")), endpoint_yaml("web"))

    result = run_cli("apply", "-f", str(path), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 0, result
    (credential,) = registries(deploy)
    assert credential["name"] == "acme-ghcr"
    assert deploy.by_name("shop-api")["registry"] == credential["id"]
    assert "registry" not in deploy.by_name("shop-web")  # no credential: none set
    order = [
        f"{e['method']} {e['template']}"
        for e in deploy.emulator.emulator.log.snapshot()["requests"]
        if e["method"] == "POST"
    ]
    assert order[0] == "POST /v2/registries" and order.count("POST /v2/registries") == 1
    assert f"registry credential acme-ghcr: created ({credential['id']})" in result.stderr


def test_a_second_apply_creates_nothing_and_plans_no_change(run_cli, deploy: Deploy, write_project):
    path = write_project(with_auth(endpoint_yaml("api")))
    assert run_cli("apply", "-f", str(path), "--yes", env={**deploy.env, **LOGIN}).exit_code == 0
    before = deploy.counts()

    # The variables are not needed once the credential exists.
    again = run_cli("apply", "-f", str(path), env=deploy.env)

    assert again.exit_code == 0, again
    assert "No changes" in again.stderr
    assert deploy.writes(deploy.counts() - before) == 0
    assert len(registries(deploy)) == 1


def test_plan_shows_the_credential_to_create_by_its_variables_only(
    run_cli, deploy: Deploy, write_project, tmp_path: Path
):
    path = write_project(with_auth(endpoint_yaml("api")))
    saved = tmp_path / "plan.json"

    result = run_cli("plan", "-f", str(path), "--out", str(saved), env={**deploy.env, **LOGIN})

    assert result.exit_code == 0, result
    assert (
        "+ registry credential acme-ghcr: create (username from $GHCR_USER, password from"
        " $GHCR_TOKEN), for shop-api" in result.stdout
    )
    assert 'registry: "<registry credential acme-ghcr>"' in result.stdout
    data = json.loads(saved.read_text())
    assert data["registries"] == [
        {
            "name": "acme-ghcr",
            "id": None,
            "username_env": "GHCR_USER",
            "password_env": "GHCR_TOKEN",
            "endpoints": ["shop-api"],
        }
    ]
    assert registries(deploy) == []  # a plan writes nothing


def test_a_saved_plan_creates_the_credential_when_applied(
    run_cli, deploy: Deploy, write_project, tmp_path: Path
):
    path = write_project(with_auth(endpoint_yaml("api")))
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env).exit_code == 0

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 0, result
    (credential,) = registries(deploy)
    assert deploy.by_name("shop-api")["registry"] == credential["id"]


def test_plan_warns_about_a_variable_apply_will_need(run_cli, deploy: Deploy, write_project):
    path = write_project(with_auth(endpoint_yaml("api")))

    result = run_cli("plan", "-f", str(path), env={**deploy.env, "GHCR_USER": USERNAME})

    assert result.exit_code == 0, result
    assert "GHCR_TOKEN is not set" in result.stderr and "shop-api" in result.stderr


@pytest.mark.parametrize("unset", ["GHCR_USER", "GHCR_TOKEN"])
def test_an_unset_variable_exits_1_naming_it_and_the_endpoint_before_any_write(
    run_cli, deploy: Deploy, write_project, unset: str
):
    path = write_project(with_auth(endpoint_yaml("api")))
    env = {**deploy.env, **{k: v for k, v in LOGIN.items() if k != unset}}

    result = run_cli("apply", "-f", str(path), "--yes", env=env)

    assert result.exit_code == 1, result
    assert f"{unset} is not set" in result.stderr
    assert "registry credential 'acme-ghcr' (registry_auth of shop-api)" in result.stderr
    assert "nothing was changed" in result.stderr
    assert deploy.writes(deploy.counts()) == 0
    assert "Traceback" not in result.stderr


def test_a_name_alone_uses_the_credential_runpod_has(run_cli, deploy: Deploy, write_project):
    made = make_registry(deploy.url, "team-ghcr")
    path = write_project(with_auth(endpoint_yaml("api"), "registry_auth: team-ghcr"))

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.by_name("shop-api")["registry"] == made["id"]
    assert len(registries(deploy)) == 1


def test_a_credential_id_from_before_names_still_works(run_cli, deploy: Deploy, write_project):
    made = make_registry(deploy.url, "team-ghcr")
    path = write_project(with_auth(endpoint_yaml("api"), f"registry_auth: {made['id']}"))

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 0, result
    assert deploy.by_name("shop-api")["registry"] == made["id"]


def test_a_name_alone_that_runpod_lacks_fails_the_plan_naming_the_endpoint(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(with_auth(endpoint_yaml("api"), "registry_auth: team-ghcr"))

    result = run_cli("plan", "-f", str(path), env=deploy.env)

    assert result.exit_code == 1, result
    assert "registry credential 'team-ghcr' (registry_auth of endpoint 'api')" in result.stderr
    assert "does not exist on RunPod" in result.stderr
    assert "username_env" in result.stderr  # what to write to let apply create it
    assert deploy.writes(deploy.counts()) == 0


def test_one_name_with_different_variables_is_refused(run_cli, deploy: Deploy, write_project):
    other = "registry_auth: {name: acme-ghcr, username_env: OTHER_USER, password_env: GHCR_TOKEN}"
    path = write_project(with_auth(endpoint_yaml("api")), with_auth(endpoint_yaml("web"), other))

    result = run_cli("plan", "-f", str(path), env=deploy.env)

    assert result.exit_code == 1, result
    assert "registry credential 'acme-ghcr' is declared with different env variables" in (
        result.stderr
    )
    assert "'api', 'web'" in result.stderr


def test_a_credential_made_between_plan_and_apply_is_used_not_made_again(
    run_cli, deploy: Deploy, write_project, tmp_path: Path
):
    path = write_project(with_auth(endpoint_yaml("api")))
    saved = tmp_path / "plan.json"
    run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env)
    made = make_registry(deploy.url, "acme-ghcr")

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 0, result
    assert registries(deploy) == [made]
    assert deploy.by_name("shop-api")["registry"] == made["id"]


def test_a_lost_create_response_makes_one_credential(run_cli, deploy: Deploy, write_project):
    path = write_project(with_auth(endpoint_yaml("api")))
    requests.post(
        f"{deploy.url}/_emulator/faults",
        json={"faults": [{"kind": "drop_after", "match": "POST /v2/registries"}]},
        timeout=5,
    ).raise_for_status()

    result = run_cli("apply", "-f", str(path), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 0, result
    (credential,) = registries(deploy)
    assert deploy.by_name("shop-api")["registry"] == credential["id"]
    assert deploy.counts()["POST /v2/registries"] == 1


def test_a_credential_the_file_no_longer_uses_is_kept(run_cli, deploy: Deploy, write_project):
    path = write_project(with_auth(endpoint_yaml("api")))
    assert run_cli("apply", "-f", str(path), "--yes", env={**deploy.env, **LOGIN}).exit_code == 0
    path = write_project(endpoint_yaml("api"))

    result = run_cli("apply", "-f", str(path), "--yes", "--prune", env=deploy.env)

    assert result.exit_code == 0, result
    assert [r["name"] for r in registries(deploy)] == ["acme-ghcr"]
    assert deploy.counts()["DELETE /v2/registries/{id}"] == 0


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_the_password_shows_nowhere(
    run_cli,
    start_emulator,
    write_project,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    debug: bool,
):
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "emulator-state.json"
    emulator: BackgroundEmulator = start_emulator(state=state, worker_ready_delay=0.2)
    env = {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url, **LOGIN}
    path = write_project(with_auth(endpoint_yaml("api")))
    saved, rendered = tmp_path / "plan.json", tmp_path / ".flashctl"
    flag = ("--debug",) if debug else ()
    runs = [
        (*flag, "plan", "-f", str(path), "--out", str(saved)),
        (*flag, "plan", "-f", str(path), "--format", "json"),
        (*flag, "apply", "-f", str(path), str(saved), "--yes"),
        (*flag, "plan", "-f", str(path)),
        (*flag, "status", "-f", str(path)),
        (*flag, "render", "-f", str(path)),
    ]
    seen = []
    for args in runs:
        result = run_cli(*args, env=env)
        assert result.exit_code == 0, result
        seen += [result.stdout, result.stderr]
    # The debug log was on (or off) for the create.
    assert ("debug: flashctl.runpod: POST" in seen[5]) is debug
    files = [saved, state, *(p for p in rendered.rglob("*") if p.is_file())]
    assert any(p.name == "endpoint.json" for p in files)
    log = json.dumps(emulator.emulator.log.snapshot())
    everything = "\n".join([*seen, *(p.read_text() for p in files), log, caplog.text])

    assert emulator.emulator.state.registries()[0]["name"] == "acme-ghcr"
    assert PASSWORD not in everything
    assert USERNAME not in everything  # write-only too
    assert '"username": "[redacted]", "password": "[redacted]"' in log


def test_a_plan_file_without_the_credential_sends_nothing(
    run_cli, deploy: Deploy, write_project, tmp_path: Path
):
    path = write_project(with_auth(endpoint_yaml("api")))
    saved = tmp_path / "plan.json"
    run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env)
    edited = json.loads(saved.read_text())
    edited["registries"] = []  # a hand edit: the body still waits for the credential's id
    saved.write_text(json.dumps(edited))

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 1, result
    assert "no registry credential id for shop-api" in result.stderr
    assert deploy.writes(deploy.counts()) == 0


def test_a_plan_file_cannot_choose_the_variables_a_login_is_read_from(
    run_cli, deploy: Deploy, write_project, tmp_path: Path
):
    path = write_project(with_auth(endpoint_yaml("api")))
    saved = tmp_path / "plan.json"
    run_cli("plan", "-f", str(path), "--out", str(saved), env=deploy.env)
    edited = json.loads(saved.read_text())
    edited["registries"][0]["password_env"] = "RUNPOD_API_KEY"  # would send the key to RunPod
    saved.write_text(json.dumps(edited))

    result = run_cli("apply", "-f", str(path), str(saved), "--yes", env={**deploy.env, **LOGIN})

    assert result.exit_code == 1, result
    assert "is refused: registry credential 'acme-ghcr' from $GHCR_USER and $RUNPOD_API_KEY" in (
        result.stderr
    )
    assert deploy.writes(deploy.counts()) == 0
    assert registries(deploy) == []
