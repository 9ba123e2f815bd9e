"""API failures end in one clear line and exit 1, never a traceback; the key never shows."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback

import pytest

from flashctl.runpod.errors import RunPodAPIError
from tests.conftest import EXAMPLE
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml
from tests.servers import free_port


def test_a_rejected_key_says_so_and_where_it_was_read_from(run_cli, deploy: Deploy):
    env = {**deploy.env, "RUNPOD_API_KEY": "rpa_not_the_right_key"}

    result = run_cli("plan", "-f", str(EXAMPLE), env=env)

    assert result.exit_code == 1, result
    assert "RunPod rejected the API key from RUNPOD_API_KEY (401)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "rpa_not_the_right_key" not in result.stdout + result.stderr


def test_a_runpod_400_shows_its_detail_and_the_endpoint(run_cli, deploy: Deploy, write_project):
    # flash.yaml does not know the account's worker quota; RunPod does, and says 400.
    path = write_project(endpoint_yaml("api", workers="{min: 0, max: 5000}"))

    result = run_cli("apply", "-f", str(path), "--yes", env=deploy.env)

    assert result.exit_code == 1, result
    assert "RunPod rejected creating endpoint 'shop-api' (400)" in result.stderr
    assert "more than the account's worker quota leaves" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_api_is_named_with_its_url(run_cli, write_project):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": url}

    result = run_cli("plan", "-f", str(write_project(endpoint_yaml("api"))), env=env)

    assert result.exit_code == 1, result
    assert f"Could not reach the RunPod API at {url}/v2/serverless" in result.stderr
    assert "connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_key_at_all_says_how_to_set_one(run_cli, deploy: Deploy, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)

    result = run_cli("plan", "-f", str(EXAMPLE), env={"FLASHCTL_API_URL": deploy.url})

    assert result.exit_code == 1, result
    assert "No RunPod API key found: set RUNPOD_API_KEY" in result.stderr


def test_the_key_appears_in_no_output_file_or_log(
    run_cli, deploy: Deploy, tmp_path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    saved = tmp_path / "plan.json"
    runs = [
        ("--debug", "plan", "-f", str(EXAMPLE), "--out", str(saved)),
        ("--debug", "apply", "-f", str(EXAMPLE), str(saved), "--yes"),
        ("--debug", "plan", "-f", str(EXAMPLE), "--format", "json"),
        ("--debug", "status", "-f", str(EXAMPLE), "--format", "json"),
        ("--debug", "destroy", "-f", str(EXAMPLE), "--yes"),
    ]
    seen = []
    for args in runs:
        result = run_cli(*args, env=deploy.env)
        assert result.exit_code == 0, result
        seen += [result.stdout, result.stderr]
    assert "debug: flashctl.runpod: GET" in seen[1]  # the debug log was on
    assert "Authorization': '[redacted]'" in seen[1]
    # --debug lets a failure's traceback through; the (wrong) key must not be in it either.
    wrong = {**deploy.env, "RUNPOD_API_KEY": CANARY_KEY + "-old"}
    with pytest.raises(RunPodAPIError) as failure:
        run_cli("--debug", "plan", "-f", str(EXAMPLE), env=wrong)
    seen.append("".join(traceback.format_exception(failure.value)))

    everything = "\n".join([*seen, saved.read_text(), caplog.text])
    assert CANARY_KEY not in everything
    assert json.loads(saved.read_text())["project"] == "seed"


# A canary split by a line break or carrying a non-Latin-1 character: neither part may show.
MALFORMED_KEYS = {
    "line break": (CANARY_KEY[:12] + "\n" + CANARY_KEY[12:], "character 13 is a line break"),
    "non-latin-1": (CANARY_KEY[:12] + "\u0416" + CANARY_KEY[12:], "is a non-ASCII character"),
}


@pytest.mark.parametrize("name", MALFORMED_KEYS)
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_malformed_key_is_refused_naming_its_source_never_itself(
    deploy: Deploy, tmp_path, name: str, debug: bool
):
    key, why = MALFORMED_KEYS[name]
    env = {**os.environ, **deploy.env, "RUNPOD_API_KEY": key, "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "flashctl", *(["--debug"] if debug else [])]
    before = deploy.counts()

    done = subprocess.run(
        [*command, "plan", "-f", str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
    )

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "The RunPod API key in RUNPOD_API_KEY is malformed: character 13 is" in output
    assert why in output
    assert "Invalid header value" not in output
    assert CANARY_KEY[:12] not in output and CANARY_KEY[12:] not in output
    if not debug:
        assert "Traceback" not in output
    assert deploy.counts() == before  # nothing was sent


def test_a_malformed_key_in_the_config_file_names_the_file(run_cli, deploy: Deploy, tmp_path):
    config = tmp_path / ".runpod" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'[default]\napi_key = "{CANARY_KEY[:12]}\\n{CANARY_KEY[12:]}"\n')
    env = {"FLASHCTL_API_URL": deploy.url, "HOME": str(tmp_path), "RUNPOD_API_KEY": ""}

    result = run_cli("plan", "-f", str(EXAMPLE), env=env)

    assert result.exit_code == 1, result
    assert f"The RunPod API key in {config} ([default] api_key) is malformed" in result.stderr
    assert CANARY_KEY[:12] not in result.stderr and CANARY_KEY[12:] not in result.stderr
