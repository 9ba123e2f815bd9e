"""A pod without Kubernetes: the rendered build context run as its container runs, with the env
and port the rendered Deployment gives it, probed on the paths the Deployment names, judged as the
kubelet judges (2xx/3xx passes). The startup hook waits for a gate file, a stand-in for a slow
model load: until it returns, the readiness and startup probes must fail while liveness passes,
so Kubernetes neither routes traffic to the pod nor restarts it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.kubernetes.render import render_kubernetes
from flashctl.render.flows import render_to
from tests.kubernetes.conftest import HANDLERS, by_kind
from tests.servers import free_port

pytestmark = pytest.mark.slow

PROJECT = """
    version: 1
    project: podlike
    endpoints:
      api:
        image: registry.example.com/podlike/api:1
        compute:
          cpu: [{{flavor: cpu5c, vcpus: 2}}]
        runtime:
          port: {port}
          startup: app:load
        env:
          GATE_FILE: {gate}
        routes:
          - {{method: GET, path: /hello, handler: "app:hello"}}
"""


def image_cmd(dockerfile: Path) -> list[str]:
    line = next(line for line in dockerfile.read_text().splitlines() if line.startswith("CMD "))
    command: list[str] = json.loads(line[len("CMD ") :])
    return command


def kubelet_probe(
    port: int, probe: dict[str, Any], ports: dict[str, int]
) -> tuple[bool, int | None]:
    """One HTTP probe as the kubelet runs it: a new connection, GET the path on the named port;
    200..399 passes."""
    target = probe["httpGet"]
    assert ports[target["port"]] == port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=probe["timeoutSeconds"])
    try:
        connection.request("GET", target["path"])
        status = connection.getresponse().status
    except OSError:
        return False, None
    finally:
        connection.close()
    return 200 <= status < 400, status


def wait_until(check, timeout: float, what: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the service exited ({process.returncode}) while waiting for {what}"
            )
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_the_readiness_probe_fails_until_the_startup_hook_finishes(tmp_path):
    port = free_port()
    gate = tmp_path / "gate"
    (tmp_path / "app.py").write_text(HANDLERS)
    (tmp_path / "flash.yaml").write_text(textwrap.dedent(PROJECT.format(port=port, gate=gate)))
    loaded = load_valid_project(tmp_path / "flash.yaml", variables={}, environment=None)
    render_to(loaded, tmp_path / ".flashctl" / "build")  # the image's contents
    objects = by_kind(render_kubernetes(loaded.project)["api.yaml"])  # how the pod runs it
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "command" not in container  # so the image's CMD runs, as below
    env = dict(objects["ConfigMap"]["data"])  # envFrom: the ConfigMap
    assert [source["configMapRef"]["name"] for source in container["envFrom"]] == [
        objects["ConfigMap"]["metadata"]["name"]
    ]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    startup, readiness, liveness = (
        container["startupProbe"],
        container["readinessProbe"],
        container["livenessProbe"],
    )

    context = tmp_path / ".flashctl" / "build" / "api"
    command = image_cmd(context / "Dockerfile")
    assert command[0] == "python"
    command[0] = sys.executable  # the image's python is this venv's here
    process = subprocess.Popen(
        command,
        cwd=context,  # WORKDIR /app, where the context is copied
        env={"PATH": os.environ["PATH"], **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Listening, hook running: alive (204), not ready, routes refused.
        wait_until(lambda: kubelet_probe(port, liveness, ports)[0], 60, "liveness", process)
        for _ in range(10):
            assert kubelet_probe(port, liveness, ports) == (True, 204)
            assert kubelet_probe(port, readiness, ports) == (False, 503)
            assert kubelet_probe(port, startup, ports) == (False, 503)
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/hello").status_code == 503

        gate.touch()  # the model has loaded
        wait_until(lambda: kubelet_probe(port, readiness, ports)[0], 30, "readiness", process)
        assert kubelet_probe(port, readiness, ports) == (True, 200)
        assert kubelet_probe(port, startup, ports) == (True, 200)
        assert kubelet_probe(port, liveness, ports) == (True, 200)
        response = httpx.get(f"http://127.0.0.1:{port}/hello")
        assert (response.status_code, response.json()) == (200, {"hello": "world"})
    finally:
        process.send_signal(signal.SIGTERM)  # what the kubelet sends after preStop
        try:
            output, _ = process.communicate(timeout=pod["terminationGracePeriodSeconds"])
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output
