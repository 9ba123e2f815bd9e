"""Schema-driven fuzz of the served example: schemathesis against each endpoint's /openapi.json.

flash.yaml.example is rendered as `flashctl dev` renders it (docs on) and each endpoint's
`handler_service.app` is loaded from its build context as `flashctl dev` loads it, then served
in-process through schemathesis' ASGI transport (lifespan and startup hook included). For every
operation of the document, hypothesis draws requests that fit it (positive) and requests that
deliberately do not (negative: wrong types, missing or unknown fields, bad path parameters),
a bounded number of each.

The example's handlers raise nothing but ValueError (400 by design), so any 5xx here is the
framework's. Every error answer must also keep the runtime's contract: a JSON body with `detail`
and `request_id`, and no traceback.

The tests drive hypothesis themselves (`operation.as_strategy`) rather than through
`schemathesis.pytest.from_fixture`, whose lazy loader sets `Function._nodeid`, an attribute
pytest 9 no longer has.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.python import asgi

from flashctl.compiler.pipeline import load_valid_project
from flashctl.dev.mount import load_service
from flashctl.files import write_tree
from flashctl.render.contexts import MANIFEST
from flashctl.render.flows import render_loaded

EXAMPLE = Path(__file__).resolve().parents[1] / "flash.yaml.example"
ENDPOINTS = ("gpu", "cpu", "users")
MAX_EXAMPLES = 15  # per operation and generation mode (30 per operation): about 15 s in all


@pytest.fixture(scope="module")
def rendered_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loaded = load_valid_project(EXAMPLE, variables={}, environment=None)
    out = tmp_path_factory.mktemp("fuzz") / "build"
    files = render_loaded(loaded, docs=True)  # as `flashctl dev` does
    write_tree(out, files, marker=MANIFEST, force=False)
    return out


def wait_until_ready(app: Any, timeout: float = 10.0) -> None:
    """Routes answer 503 while the startup hook runs; fuzz the service once `/ping` is 200."""
    deadline = time.monotonic() + timeout
    with asgi.get_client(app) as client:
        while time.monotonic() < deadline:
            if client.get("/ping").status_code == 200:
                return
            time.sleep(0.01)
    pytest.fail(f"/ping did not answer 200 within {timeout} s")


def check(case: schemathesis.Case) -> None:
    response = case.call()
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where} answered {response.status_code}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), f"{where}: error body {body!r}"
        assert {"detail", "request_id"} <= set(body), f"{where}: error body {body!r}"
        assert "Traceback" not in response.text, f"{where}: {response.text}"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_generated_requests_get_no_server_error(rendered_example: Path, endpoint: str) -> None:
    app = load_service(rendered_example / endpoint, f"_fuzz_handler_service_{endpoint}")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    wait_until_ready(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document lists no operation"
    for operation in operations:
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def fuzz(case: schemathesis.Case) -> None:
                check(case)

            try:
                fuzz()
            except Unsatisfiable:
                # No request can break a document that declares no input (GET /health).
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    raise
            except AssertionError as err:
                raise AssertionError(f"{operation.label} ({mode.value}): {err}") from err
