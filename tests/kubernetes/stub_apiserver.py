"""A stub Kubernetes API server on 127.0.0.1: just enough discovery for `kubectl apply
--dry-run=client` to map every kind flashctl renders, and 404 for every object (nothing exists
yet), so kubectl reports each object as "created (dry run)". It stores nothing and accepts no
writes; every request is recorded for the test to inspect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
# group/version -> [(plural, kind, namespaced)]
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("services", "Service", True),
        ("secrets", "Secret", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
}


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for gv in RESOURCES:
            if "/" in gv:
                group, version = gv.split("/")
                entry = {"groupVersion": gv, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    gv = path.removeprefix("/api/") if path.startswith("/api/") else path.removeprefix("/apis/")
    if gv in RESOURCES:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": VERBS,
                }
                for plural, kind, namespaced in RESOURCES[gv]
            ],
        }
    return None


@dataclass
class StubApiServer:
    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    def kubeconfig(self, folder: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "users": [{"name": "stub", "user": {}}],
            "contexts": [
                {
                    "name": "stub",
                    "context": {"cluster": "stub", "user": "stub", "namespace": namespace},
                }
            ],
            "current-context": "stub",
        }
        path = folder / "kubeconfig"
        path.write_text(json.dumps(config))  # JSON is YAML
        return path


@contextmanager
def stub_apiserver() -> Iterator[StubApiServer]:
    stub = StubApiServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            stub.requests.append(("GET", path))
            body = _discovery(path)
            if body is None:
                self._send(404, _not_found(path))
            else:
                self._send(200, body)

        def _refuse(self) -> None:
            stub.requests.append((self.command, self.path))
            self._send(405, {"kind": "Status", "status": "Failure", "code": 405})

        do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _not_found(path: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"{path} not found",
        "reason": "NotFound",
        "code": 404,
    }
