"""Queue workers (runpod-flash `@Endpoint` on a function, `@remote` on `LiveServerless`,
`CpuLiveServerless` and `ServerlessEndpoint`) imported by import-flash become POST routes that
take the function's keyword arguments as the body, or RunPod's `{"input": {...}}` envelope
(answered as /runsync answers), under `flashctl dev` and in the rendered container, in a venv
without runpod-flash or tetra-rp."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_to
from tests.test_compat import serves_under_dev
from tests.test_container import served_as_container, venv_with_requirements

FIXTURE = Path(__file__).parent / "import_flash" / "fixtures" / "queue_served"


def runsync(output: Any) -> Any:
    """What a `{"input": ...}` request gets: RunPod's /runsync answer (its `id` is checked to
    be the request id separately)."""
    return {"status": "COMPLETED", "output": output}


# endpoint -> (path, json body, status, answer); `answer` None: not compared
CALLS: dict[str, list[tuple[str, Any, int, Any]]] = {
    "qs-preprocess": [
        (
            "/preprocess_text",
            {"input_data": {"text": "  hello   queue  "}},
            200,
            {"status": "success", "cleaned_text": "hello queue", "word_count": 2},
        ),
        (
            "/preprocess_text",
            {"input": {"input_data": {"text": "a b c"}}},
            200,
            runsync({"status": "success", "cleaned_text": "a b c", "word_count": 3}),
        ),
        ("/preprocess_text", {"input": {"input_data": "not a dict"}}, 422, None),
    ],
    "qs-matrix": [
        ("/matrix_stats", {"size": 3}, 200, {"size": 3, "trace": 5.0, "total": 9.0}),
        (
            "/matrix_stats",  # a number sent as a string, as FastAPI's lax mode takes it
            {"input": {"size": "2", "scale": "2"}, "webhook": "https://example.com/hook"},
            200,
            runsync({"size": 2, "trace": 2.0, "total": 2.0}),
        ),
        ("/matrix_stats", {}, 200, {"size": 4, "trace": 14.0, "total": 36.0}),
    ],
    "qs-tokenize": [
        (
            "/tokenize",
            {"text": "Hello Queue", "extra": 1},
            200,
            {"tokens": ["hello", "queue"], "count": 2},
        ),
        (
            "/tokenize",
            {"input": {"text": "Keep Case", "lowercase": "false"}},
            200,
            runsync({"tokens": ["Keep", "Case"], "count": 2}),
        ),
        ("/tokenize", {"input": {"lowercase": True}}, 422, None),
    ],
    "qs-score": [
        ("/score", {"tokens": ["a", "b"], "weights": {"a": 5}}, 200, {"score": 6}),
        ("/score", {"input": {"tokens": ["a"]}}, 200, runsync({"score": 1})),
    ],
}


@pytest.fixture
def imported_project(run_cli, tmp_path: Path) -> Path:
    project = tmp_path / "queue_served"
    shutil.copytree(FIXTURE, project)
    result = run_cli("import-flash", str(project))
    assert result.exit_code == 0, result
    assert f"{project / 'flash.yaml'} validates." in result.stderr
    return project / "flash.yaml"


def call_each(base: str, endpoint: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for path, body, status, answer in CALLS[endpoint]:
            response = client.post(path, json=body)
            assert response.status_code == status, (endpoint, path, body, response.text)
            if answer is None:
                continue
            got = response.json()
            if isinstance(body, dict) and "input" in body and status == 200:
                assert got.pop("id") == response.headers["x-request-id"]
            assert got == answer, (endpoint, path, body)


def test_queue_functions_import_as_enveloped_post_routes(imported_project):
    project = load_valid_project(imported_project, variables={}, environment=None).project
    endpoints = {endpoint.key: endpoint for endpoint in project.endpoints}
    assert sorted(endpoints) == sorted(CALLS)
    for key, endpoint in endpoints.items():
        assert [(r.method, r.envelope) for r in endpoint.routes] == [("POST", "input")], key
        assert endpoint.runtime.unknown_keys == "ignore"


@pytest.mark.slow
def test_imported_queue_workers_serve_under_dev(imported_project, tmp_path):
    serves_under_dev(imported_project, tmp_path, CALLS, call_each)


@pytest.mark.slow
def test_the_rendered_container_of_a_queue_worker_serves(imported_project, tmp_path):
    endpoint = "qs-matrix"  # tetra-rp's spelling: `from tetra_rp import ...`
    out = tmp_path / "build"
    render_to(load_valid_project(imported_project, variables={}, environment=None), out)
    context = out / endpoint
    requirements = (context / "requirements.txt").read_text()
    assert "runpod" not in requirements and "tetra" not in requirements
    python = venv_with_requirements(tmp_path / "venv", context)
    with served_as_container(context, python) as served:
        call_each(served.base, endpoint)
