"""Helpers for the Kubernetes target's tests: projects from YAML text, rendered manifests, and
Kubernetes' own schemas (PyPI kubernetes-validate, offline, strict)."""

from __future__ import annotations

import shlex
import stat
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

try:
    import kubernetes_validate  # noqa: F401 (Kubernetes' schemas, used by strict_errors)
    import yaml  # PyYAML (kubernetes-validate's dependency) parses YAML 1.1, as kubectl does
except ImportError as err:  # pragma: no cover
    raise ImportError(
        "tests/kubernetes need kubernetes-validate: pip install -e '.[dev]'"
        " (or pip install 'kubernetes-validate>=1.37')"
    ) from err

from flashctl.compiler.pipeline import load_valid_project
from flashctl.kubernetes.render import render_kubernetes
from flashctl.model import Project
from tests.conftest import EXAMPLE, ROOT

# The newest Kubernetes that kubernetes-validate ships (a current release) and an older one still
# in wide use: the manifests must be valid on both.
KUBERNETES_VERSIONS = ("1.33", "1.37")
# The corpus case that sets every field of the `kubernetes:` block.
EVERY_FIELD = ROOT / "tests" / "cases" / "valid" / "kubernetes-every-field" / "flash.yaml"

# A CPU endpoint and a GPU endpoint (with a startup hook), both with app.py's handlers.
CPU = """
    version: 1
    project: shop
    endpoints:
      api:
        image: registry.example.com/shop/api:2.0.1
        compute:
          cpu: [{flavor: cpu3g, vcpus: 4}, {flavor: cpu5c, vcpus: 8}]
          disk_gb: 30
        scaling:
          workers: {min: 0, max: 1}
          idle_timeout: 300
        runtime:
          port: 9000
        env:
          MODE: "on"
          RETRIES: 3
          DB_PASSWORD: {secret: db-password}
          API_TOKEN: {secret: API_TOKEN}
        routes:
          - {method: GET, path: /hello, handler: "app:hello"}
"""

GPU = """
    version: 1
    project: vision
    endpoints:
      detect:
        image: registry.example.com/vision/detect@sha256:0123
        compute:
          gpu: {pools: [ADA_24], count: 2}
        scaling:
          workers: {min: 2, max: 6}
        runtime:
          startup: app:load
        routes:
          - {method: GET, path: /hello, handler: "app:hello"}
"""


HANDLERS = '''\
import os
import time


def hello():
    return {"hello": "world"}


def load():
    """Wait for the test to release the gate file (a stand-in for a slow model load)."""
    gate = os.environ["GATE_FILE"]
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise RuntimeError("gate never opened")
        time.sleep(0.05)
'''


def load_example(variables: dict[str, str] | None = None) -> Project:
    return load_valid_project(EXAMPLE, variables=variables or {}, environment=None).project


def documents(data: bytes) -> list[dict[str, Any]]:
    """The objects of one rendered file, parsed the way kubectl reads them (YAML 1.1)."""
    return [d for d in yaml.safe_load_all(data.decode("utf-8")) if d is not None]


def by_kind(data: bytes) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in documents(data)}


def pod_spec(data: bytes) -> dict[str, Any]:
    spec: dict[str, Any] = by_kind(data)["Deployment"]["spec"]["template"]["spec"]
    return spec


def container(data: bytes) -> dict[str, Any]:
    only: dict[str, Any] = pod_spec(data)["containers"][0]
    return only


def strict_errors(manifest: dict[str, Any], version: str) -> list[str]:
    """What Kubernetes' schema for `version` (strict: no unknown fields) says is wrong."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = "/".join(str(p) for p in err.path)
        return [f"{manifest['kind']} {where}: {err.message}"]
    return []


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """`make_project(yaml_text, environment=None, variables=None)`: a valid project in tmp_path,
    with `app.py` holding `hello` and a gated `load` hook."""

    def make(
        text: str,
        environment: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Project:
        (tmp_path / "app.py").write_text(HANDLERS)
        path = tmp_path / "flash.yaml"
        path.write_text(textwrap.dedent(text))
        loaded = load_valid_project(path, variables=variables or {}, environment=environment)
        return loaded.project

    return make


@pytest.fixture
def render() -> Callable[[Project], dict[str, bytes]]:
    return render_kubernetes


def fake_kubectl(
    folder: Path,
    exit_code: int = 0,
    *,
    stdout: str = "deployment.apps/x configured\n",
    rollout_fails: str | None = None,
    real_rollout: str | None = None,
    diff_exit: int = 0,
    real_diff: str | None = None,
    get_stdout: str = "",
) -> Path:
    """A `kubectl` that records its arguments (one line per call) and the files it was given.

    `apply` prints `stdout` and exits with `exit_code` (saying why on stderr when that is not 0).
    `rollout status deployment/NAME` says NAME rolled out, except for the Deployment named
    `rollout_fails`: that one times out as kubectl does (exit 1). `diff` exits with `diff_exit`
    as kubectl does (0 no differences; 1 differences, with a diff on stdout; above 1 an error on
    stderr). `get` prints `get_stdout` (the live objects, as JSON). With `real_rollout` /
    `real_diff` (a real kubectl's path), that subcommand runs that kubectl instead.
    """
    log = folder / "calls.log"
    script = folder / "kubectl"
    refusal = "error: the server has asked for the client to provide credentials"
    lines = ["#!/bin/sh", f'echo "$@" >> {shlex.quote(str(log))}']
    if real_rollout:
        lines.append(f'[ "$1" = rollout ] && exec {shlex.quote(real_rollout)} "$@"')
    if real_diff:
        lines.append(f'[ "$1" = diff ] && exec {shlex.quote(real_diff)} "$@"')
    diff_says = {
        0: "",
        1: 'echo "+  replicas: 2"',
        2: 'echo "error: the server could not find the requested resource" >&2',
    }[min(diff_exit, 2)]
    lines += [
        f'[ "$1" = diff ] && {{ {diff_says or "true"}; exit {diff_exit}; }}',
        f'[ "$1" = get ] && {{ printf %s {shlex.quote(get_stdout)}; exit 0; }}',
        'if [ "$1" = rollout ]; then',
        '  name="${3#deployment/}"',
        f'  if [ "$name" = {shlex.quote(rollout_fails or "")} ]; then',
        '    echo "Waiting for deployment \\"$name\\" rollout to finish:'
        ' 0 of 1 updated replicas are available..."',
        '    echo "error: timed out waiting for the condition" >&2',
        "    exit 1",
        "  fi",
        '  echo "deployment \\"$name\\" successfully rolled out"',
        "  exit 0",
        "fi",
        f'for arg in "$@"; do [ -f "$arg" ] && cat "$arg" >> {shlex.quote(str(log))}; done',
        f"printf %s {shlex.quote(stdout)}",
    ]
    if exit_code:
        lines.append(f"echo {shlex.quote(refusal)} >&2")
    lines.append(f"exit {exit_code}")
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log
